/* KVM engine start-up self-test: before rax trusts /dev/kvm it boots a
 * tiny machine through the engine itself (kvm_init, kvm_run_vcpu: the same
 * VM setup, boot state and exit handling a kernel gets) whose guest takes
 * an int3 (#BP) and a ud2 (#UD) through its own IDT and reports both on an
 * I/O port.  A paravirtual or broken KVM (such as kvm_pvm, which ends the
 * first guest exception in KVM_EXIT_INTERNAL_ERROR) fails it, and
 * --backend auto falls back to the interpreter. */
#include "kvm/kvm_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loader/loader.h"

#define ST_MEM (4u << 20)
#define ST_IDT 0x200000
#define ST_CODE 0x201000
#define ST_BP_HANDLER 0x201100
#define ST_UD_HANDLER 0x201200
#define ST_PORT 0x88
#define ST_TIMEOUT_S 10

/* main: xor ebx,ebx; int3; ud2; mov eax,ebx; out 0x88,al; hlt; jmp $-1 */
static const uint8_t st_main[] = {
	0x31, 0xdb, 0xcc, 0x0f, 0x0b, 0x89, 0xd8, 0xe6, ST_PORT, 0xf4,
	0xeb, 0xfd,
};
/* #BP: or ebx,1; iretq */
static const uint8_t st_bp[] = { 0x83, 0xcb, 0x01, 0x48, 0xcf };
/* #UD: or ebx,2; add qword [rsp],2 (skip the ud2); iretq */
static const uint8_t st_ud[] = {
	0x83, 0xcb, 0x02, 0x48, 0x83, 0x04, 0x24, 0x02, 0x48, 0xcf,
};

struct st_state {
	struct machine m;
	int reported;           /* value written to ST_PORT, or -1 */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done, timed_out;
};

/* A 64-bit interrupt gate (SDM Vol. 3 §6.14.1). */
static void st_gate(uint8_t *idt, int vec, uint64_t handler, uint16_t cs)
{
	uint8_t *g = idt + vec * 16;

	memset(g, 0, 16);
	g[0] = handler & 0xff;
	g[1] = (handler >> 8) & 0xff;
	g[2] = cs & 0xff;
	g[3] = cs >> 8;
	g[5] = 0x8e; /* present, DPL 0, 64-bit interrupt gate */
	g[6] = (handler >> 16) & 0xff;
	g[7] = (handler >> 24) & 0xff;
}

static void st_port(void *opaque, uint64_t off, bool is_write, void *data,
		    unsigned size)
{
	struct st_state *s = opaque;

	if (!is_write)
		return;
	s->reported = *(uint8_t *)data;
	machine_request_exit(&s->m, 0, "self-test done");
}

static int st_machine(struct st_state *s, struct rax_err *e)
{
	struct machine *m = &s->m;
	uint8_t *mem;
	int ret;

	ret = gm_init(&m->mem, ST_MEM);
	if (ret)
		return rax_errf(e, ret, "self-test memory: %s", strerror(-ret));
	if (ld_boot_state(&m->mem, ST_CODE, &m->boot_regs))
		return rax_errf(e, -EFAULT, "self-test boot state");
	mem = m->mem.host;
	st_gate(mem + ST_IDT, 3, ST_BP_HANDLER, m->boot_regs.seg[S_CS].sel);
	st_gate(mem + ST_IDT, 6, ST_UD_HANDLER, m->boot_regs.seg[S_CS].sel);
	memcpy(mem + ST_CODE, st_main, sizeof(st_main));
	memcpy(mem + ST_BP_HANDLER, st_bp, sizeof(st_bp));
	memcpy(mem + ST_UD_HANDLER, st_ud, sizeof(st_ud));
	m->boot_regs.idt.base = ST_IDT;
	m->boot_regs.idt.limit = 16 * 16 - 1;
	m->ops = &kvm_vcpu_ops;
	return iobus_register(&m->pio, ST_PORT, 1, st_port, s, "selftest") ?
		rax_errf(e, -EINVAL, "self-test port") : 0;
}

/* Kicks the vCPU when the guest does not report within ST_TIMEOUT_S (a
 * guest looping through exceptions, or a KVM that makes no progress). */
static void *st_watchdog(void *arg)
{
	struct st_state *s = arg;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ST_TIMEOUT_S;
	pthread_mutex_lock(&s->lock);
	while (!s->done)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &ts) == ETIMEDOUT)
			break;
	if (!s->done) {
		s->timed_out = true;
		kvm_vcpu_ops.kick(&s->m);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int st_run(struct st_state *s, struct rax_err *e)
{
	struct vcpu_stop st;
	struct rax_regs r;
	pthread_t wd;
	int ret;

	if (pthread_create(&wd, NULL, st_watchdog, s))
		return rax_errf(e, -EAGAIN, "cannot start the watchdog");
	ret = kvm_vcpu_ops.run(&s->m, 0, &st, e);
	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(wd, NULL);
	if (ret)
		return ret;
	if (st.reason == VCPU_STOP_SHUTDOWN)
		return rax_errf(e, -ENODEV, "the guest triple faulted");
	if (s->reported == 3)
		return 0;
	if (s->reported >= 0)
		return rax_errf(e, -ENODEV, "exceptions through the IDT misbehave "
				"(handler mask %#x, want 0x3)", s->reported);
	memset(&r, 0, sizeof(r));
	(void)kvm_vcpu_ops.get_regs(&s->m, 0, &r);
	return rax_errf(e, -ETIMEDOUT, "the guest did not finish within %d s "
			"(rip %#llx, rbx %#llx)", ST_TIMEOUT_S,
			(unsigned long long)r.rip,
			(unsigned long long)r.gpr[R_RBX]);
}

int kvm_selftest(struct rax_err *e)
{
	static struct st_state s;
	int ret;

	memset(&s, 0, sizeof(s));
	s.reported = -1;
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	if (access("/dev/kvm", F_OK))
		return rax_errf(e, -ENOENT, "/dev/kvm does not exist");
	ret = st_machine(&s, e);
	if (!ret)
		ret = kvm_vcpu_ops.init(&s.m, e);
	if (!ret) {
		ret = st_run(&s, e);
		kvm_vcpu_ops.destroy(&s.m);
	}
	gm_destroy(&s.m.mem);
	if (ret) {
		char msg[sizeof(e->msg)];

		snprintf(msg, sizeof(msg), "%s", e->msg);
		rax_errf(e, ret, "KVM self-test failed: %s%s", msg,
			 strstr(msg, "INTERNAL_ERROR") ?
			 " (/dev/kvm looks paravirtual or broken)" : "");
	}
	return ret;
}
