/* The host side of the differential test: a forked child maps the shared
 * user pages at their fixed addresses, and for each sequence copies in
 * the code between a hand-assembled load/store harness, loads every
 * register, RFLAGS and the FXSAVE image, runs it and stores them back.
 * 32-bit sequences run in compatibility mode: the harness far-jumps to
 * Linux's __USER32_CS and back to __USER_CS.
 * A fault arrives as a signal; its ucontext holds the registers at the
 * faulting instruction and the hardware vector (trapno), error code and
 * CR2, which the handler records before jumping back to the loop. */
#include "diffexec.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/* Layout of the native-only state page. */
#define ST_IN      (DX_STATE + 0x000)  /* 16 GPRs, then RFLAGS at +128 */
#define ST_IN_FX   (DX_STATE + 0x100)
#define ST_OUT     (DX_STATE + 0x400)
#define ST_OUT_FL  (DX_STATE + 0x480)
#define ST_OUT_FX  (DX_STATE + 0x500)
#define ST_HOSTRSP (DX_STATE + 0x800)
#define ST_FAR     (DX_STATE + 0x900)  /* m16:32 DX_SEQ:0x23 (32-bit code) */
#define ST_HOSTFX  (DX_STATE + 0xa00)  /* the C code's x87/SSE state */

/* Linux's user selectors (arch/x86/include/asm/segment.h). */
#define USER32_CS 0x23
#define USER_DS   0x2b
#define USER_CS   0x33

static sigjmp_buf fault_jb;
static struct dx_state *fault_out;

static unsigned put32(uint8_t *p, uint64_t v)
{
	uint32_t x = (uint32_t)v;

	memcpy(p, &x, 4);
	return 4;
}

/* op [abs32] with REX.W: rexw(+R) opc modrm(00 reg 100) SIB 0x25 disp32 */
static unsigned abs_op(uint8_t *p, uint8_t opc, unsigned reg, uint64_t a)
{
	unsigned n = 0;

	p[n++] = (uint8_t)(0x48 | (reg >= 8 ? 4 : 0));
	p[n++] = opc;
	p[n++] = (uint8_t)(((reg & 7) << 3) | 4);
	p[n++] = 0x25;
	return n + put32(p + n, a);
}

static unsigned abs_0f(uint8_t *p, uint8_t opc, unsigned reg, uint64_t a)
{
	unsigned n = 0;

	p[n++] = 0x48;
	p[n++] = 0x0f;
	p[n++] = opc;
	p[n++] = (uint8_t)((reg << 3) | 4);
	p[n++] = 0x25;
	return n + put32(p + n, a);
}

/* The harness: prologue at DX_CODE, sequence at DX_SEQ, epilogue after
 * it.  Returns the epilogue's offset in the page. */
static void build_code(uint8_t *page, const struct dx_seq *s)
{
	static const uint8_t save[] = { 0x53, 0x55, 0x41, 0x54, 0x41, 0x55,
					0x41, 0x56, 0x41, 0x57 };
	static const uint8_t restore[] = { 0x41, 0x5f, 0x41, 0x5e, 0x41,
					   0x5d, 0x41, 0x5c, 0x5d, 0x5b, 0xc3 };
	unsigned n = 0, len = s->ud_tail ? s->insn[s->n - 1].off : s->len;
	uint8_t *p = page;

	memcpy(p, save, sizeof(save));           /* push rbx..r15 */
	n = sizeof(save);
	n += abs_op(p + n, 0x89, 4, ST_HOSTRSP);  /* mov [hostrsp], rsp */
	n += abs_0f(p + n, 0xae, 0, ST_HOSTFX);   /* fxsave64 [hostfx] */
	n += abs_0f(p + n, 0xae, 1, ST_IN_FX);    /* fxrstor64 [in_fx] */
	if (s->m32) { /* compatibility mode needs usable DS and ES */
		p[n++] = 0xb8;                    /* mov eax, USER_DS */
		n += put32(p + n, USER_DS);
		p[n++] = 0x8e; p[n++] = 0xd8;     /* mov ds, eax */
		p[n++] = 0x8e; p[n++] = 0xc0;     /* mov es, eax */
	}
	p[n++] = 0x48; p[n++] = 0xc7; p[n++] = 0xc4; /* mov rsp, in+128 */
	n += put32(p + n, ST_IN + 128);
	p[n++] = 0x9d;                            /* popfq */
	for (unsigned r = 0; r < 16; r++)         /* mov reg, [in+8r] */
		n += abs_op(p + n, 0x8b, r == 4 ? 15 : r < 15 ? r : 4,
			    ST_IN + 8 * (r == 4 ? 15 : r < 15 ? r : 4));
	if (s->m32) {                             /* ljmp *[far]: 0x23 */
		p[n++] = 0xff; p[n++] = 0x2c; p[n++] = 0x25;
		n += put32(p + n, ST_FAR);
	} else {
		p[n++] = 0xe9;                    /* jmp DX_SEQ */
		n += put32(p + n, DX_SEQ - (DX_CODE + n + 4));
	}

	p = page + (DX_SEQ - DX_CODE);
	memcpy(p, s->code, len);
	n = len;
	if (s->m32) {
		/* ss: mov [out+8r], r32 (DS may be null by now), then
		 * ljmp 0x33:next back to 64-bit code. */
		for (unsigned r = 0; r < 8; r++) {
			p[n++] = 0x36;
			p[n++] = 0x89;
			p[n++] = (uint8_t)((r << 3) | 5);
			n += put32(p + n, ST_OUT + 8 * r);
		}
		p[n++] = 0xea;
		n += put32(p + n, DX_SEQ + n + 6);
		p[n++] = USER_CS; p[n++] = 0;
	}
	for (unsigned r = 0; r < 16 && !s->m32; r++) /* mov [out+8r], reg */
		n += abs_op(p + n, 0x89, r, ST_OUT + 8 * r);
	p[n++] = 0x48; p[n++] = 0xc7; p[n++] = 0xc4; /* mov rsp, out_fl+8 */
	n += put32(p + n, ST_OUT_FL + 8);
	p[n++] = 0x9c;                            /* pushfq */
	n += abs_0f(p + n, 0xae, 0, ST_OUT_FX);   /* fxsave64 [out_fx] */
	/* The ABI's state for the C code: x87 stack empty, MXCSR as it
	 * was, DF clear. */
	n += abs_0f(p + n, 0xae, 1, ST_HOSTFX);   /* fxrstor64 [hostfx] */
	p[n++] = 0xfc;                            /* cld */
	n += abs_op(p + n, 0x8b, 4, ST_HOSTRSP);  /* mov rsp, [hostrsp] */
	memcpy(p + n, restore, sizeof(restore));  /* pop r15..rbx; ret */
}

static void on_fault(int sig, siginfo_t *si, void *uc_)
{
	ucontext_t *uc = uc_;
	greg_t *g = uc->uc_mcontext.gregs;
	struct dx_state *o = fault_out;
	static const int map[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX,
		REG_RSP, REG_RBP, REG_RSI, REG_RDI, REG_R8, REG_R9, REG_R10,
		REG_R11, REG_R12, REG_R13, REG_R14, REG_R15 };

	(void)sig;
	(void)si;
	for (int i = 0; i < 16; i++)
		o->gpr[i] = (uint64_t)g[map[i]];
	o->rip = (uint64_t)g[REG_RIP];
	o->rflags = (uint64_t)g[REG_EFL];
	o->vec = (int)g[REG_TRAPNO];
	o->err = (uint64_t)g[REG_ERR];
	o->cr2 = (uint64_t)g[REG_CR2];
	if (uc->uc_mcontext.fpregs)
		memcpy(o->fx, uc->uc_mcontext.fpregs, 512);
	siglongjmp(fault_jb, 1);
}

static int map_fixed(uint64_t a, size_t len, int prot)
{
	void *p = mmap((void *)(uintptr_t)a, len, prot,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED || p != (void *)(uintptr_t)a) {
		fprintf(stderr, "diffexec: cannot map %#llx: %s\n",
			(unsigned long long)a, strerror(errno));
		return -1;
	}
	return 0;
}

/* The guard pages must be free: a mapping there would turn the
 * expected #PF into an access. */
static int check_unmapped(uint64_t a)
{
	if (map_fixed(a, 4096, PROT_NONE))
		return -1;
	munmap((void *)(uintptr_t)a, 4096);
	return 0;
}

static int child_setup(void)
{
	static uint8_t altstack[65536];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;
	static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP };

	if (check_unmapped(DX_DATA - 4096) ||
	    check_unmapped(DX_DATA + DX_DATA_SIZE) ||
	    map_fixed(DX_CODE, 4096, PROT_READ | PROT_WRITE | PROT_EXEC) ||
	    map_fixed(DX_DATA, DX_DATA_SIZE, PROT_READ | PROT_WRITE) ||
	    map_fixed(DX_STACK, DX_STACK_SIZE, PROT_READ | PROT_WRITE) ||
	    map_fixed(DX_STATE, 4096, PROT_READ | PROT_WRITE))
		return -1;
	if (sigaltstack(&ss, NULL))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_fault;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++)
		if (sigaction(sigs[i], &sa, NULL))
			return -1;
	return 0;
}

static void child_run_one(const struct dx_seq *s, struct dx_state *o)
{
	uint8_t *st = (uint8_t *)(uintptr_t)DX_STATE;
	void (*entry)(void) = (void (*)(void))(uintptr_t)DX_CODE;

	build_code((uint8_t *)(uintptr_t)DX_CODE, s);
	memset(st + (ST_OUT - DX_STATE), 0, 128);
	put32(st + (ST_FAR - DX_STATE), DX_SEQ);
	st[ST_FAR - DX_STATE + 4] = USER32_CS;
	st[ST_FAR - DX_STATE + 5] = 0;
	memcpy(st + (ST_IN - DX_STATE), s->in.gpr, 128);
	memcpy(st + (ST_IN - DX_STATE) + 128, &s->in.rflags, 8);
	memcpy(st + (ST_IN_FX - DX_STATE), s->in.fx, 512);
	memcpy((void *)(uintptr_t)DX_DATA, s->in.data, DX_DATA_SIZE);
	memcpy((void *)(uintptr_t)DX_STACK, s->in.stack, DX_STACK_SIZE);
	fault_out = o;
	o->vec = -1;
	o->err = o->cr2 = 0;
	if (sigsetjmp(fault_jb, 1) == 0) {
		entry();
		memcpy(o->gpr, st + (ST_OUT - DX_STATE), 128);
		memcpy(&o->rflags, st + (ST_OUT_FL - DX_STATE), 8);
		memcpy(o->fx, st + (ST_OUT_FX - DX_STATE), 512);
		o->rip = DX_SEQ + (s->ud_tail ? s->insn[s->n - 1].off : s->len);
	}
	memcpy(o->data, (void *)(uintptr_t)DX_DATA, DX_DATA_SIZE);
	memcpy(o->stack, (void *)(uintptr_t)DX_STACK, DX_STACK_SIZE);
}

int dx_native_run(const struct dx_seq *s, unsigned n, struct dx_state *out)
{
	size_t sz = (size_t)n * sizeof(*out);
	struct dx_state *sh;
	volatile unsigned *cur;
	pid_t pid;
	int status;

	sh = mmap(NULL, sz + 4096, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("diffexec: mmap");
		return -1;
	}
	cur = (volatile unsigned *)((uint8_t *)sh + sz);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("diffexec: fork");
		munmap(sh, sz + 4096);
		return -1;
	}
	if (pid == 0) {
		if (child_setup())
			_exit(2);
		for (unsigned i = 0; i < n; i++) {
			*cur = i;
			alarm(10);
			child_run_one(&s[i], &sh[i]);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		fprintf(stderr, "diffexec: native child failed (status %#x) "
			"running sequence %u of the batch\n", status, *cur);
		munmap(sh, sz + 4096);
		return WIFEXITED(status) && WEXITSTATUS(status) == 2 ? -2 : -1;
	}
	memcpy(out, sh, sz);
	munmap(sh, sz + 4096);
	return 0;
}
