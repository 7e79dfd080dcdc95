/* The x86 mode ladder, climbed from reset-like real mode to 64-bit mode
 * (SDM Vol. 3 ch. 3, 4, 5, 6, 9, 20): real mode (segment arithmetic,
 * 16-bit addressing, the IVT, far transfers, 66h/67h prefixes, the
 * instructions invalid in 64-bit mode), 16-bit protected mode (segment
 * limit, rights and load faults with their error codes, 16-bit gates,
 * LAR/LSL/VERR/VERW), 32-bit protected mode (a CPL-3 excursion through
 * the TSS, privileged instructions, the TSS I/O permission bit map, a
 * call gate, a conforming segment, #SS), 32-bit paging (4-KiB and PSE
 * 4-MiB pages), PAE paging (PDPTEs loaded at MOV CR3), IA-32e mode
 * entered from compatibility mode, and compatibility-mode code in
 * 32-bit and 16-bit segments of the GDT and an LDT, at CPL 0 and 3.
 *
 * rax loads it as a flat binary at LOAD (ladder.opts: --flat 0x8000): real mode
 * at 0000:8000 with the registers of rax's documented --flat start
 * (README).  Everything it touches lies below 1 MiB: the image below
 * 0x10000 (real-mode code and data addressed with DS = 0), the tables
 * the program builds at TABLES.  Each check prints "name: value" on
 * COM1 (" FAIL expected ..." when it differs); the expected values are
 * the SDM's, cited at each check.  The last line is the verdict, then
 * the exit through isa-debug-exit (port 0xf4).
 * Run: tests/guest/run.sh ladder (expected output: ladder.expect). */

#define LOAD 0x8000 /* ladder.opts: --flat 0x8000 */

/* GDT selectors. */
#define CODE16 0x08      /* 16-bit code, base 0, limit 0xffff */
#define DATA16 0x10      /* data, base 0, limit 0xffff */
#define CODE32 0x18      /* 32-bit code, flat */
#define DATA32 0x20      /* data, flat */
#define CODE64 0x28      /* 64-bit code */
#define UCODE32 0x30     /* 32-bit code, DPL 3 */
#define UDATA32 0x38     /* data, DPL 3, flat */
#define TSS_SEL 0x40     /* 32-bit TSS, later the 64-bit one (16 bytes) */
#define LDT_SEL 0x50     /* the LDT (16 bytes in IA-32e mode) */
#define DATA_LIM 0x60    /* data, base 0x6000, limit 0xff, 16-bit */
#define DATA_RO 0x68     /* read-only data, base 0, limit 0xffff */
#define DATA_NP 0x70     /* data, not present */
#define DATA_XD 0x78     /* expand-down data, limit 0xfff, 16-bit */
#define CODE_XO 0x80     /* execute-only 32-bit code */
#define CONF32 0x88      /* conforming 32-bit code, DPL 0 */
#define GATE_SEL 0x90    /* 32-bit call gate, DPL 3, to gate_func */
#define UDATA_LIM 0x98   /* data, DPL 3, base 0x6000, limit 0xff, 16-bit */
#define GDT_LIMIT 0x9f

/* LDT selectors (TI = 1). */
#define LCODE32 0x04     /* 32-bit code, DPL 0 */
#define LCODE16 0x0c     /* 16-bit code, DPL 0, base 0, limit 0xffff */
#define LUCODE32 0x17    /* 32-bit code, DPL 3 (RPL 3) */
#define LUDATA 0x1f      /* data, DPL 3 (RPL 3) */
#define LUCODE16 0x27    /* 16-bit code, DPL 3 (RPL 3) */

/* Memory the program builds its tables in (below 1 MiB). */
#define TABLES 0x20000
#define PD32 (TABLES + 0x0000)    /* 32-bit paging: page directory */
#define PT32 (TABLES + 0x1000)    /* its page table for 4-8 MiB */
#define PDPT (TABLES + 0x2020)    /* PAE: 32-byte aligned, not 4 KiB */
#define PDPT_BAD (TABLES + 0x2040) /* a PDPT whose entry 0 is reserved */
#define PAE_PD (TABLES + 0x3000)
#define PAE_PT (TABLES + 0x4000)
#define PAE_PD2 (TABLES + 0x5000)
#define PAE_PT2 (TABLES + 0x6000)
#define PML4 (TABLES + 0x7000)
#define PDPT64 (TABLES + 0x8000)
#define PD64 (TABLES + 0x9000)
#define IDT16 (TABLES + 0xa000)   /* 256 8-byte 16-bit gates */
#define IDT32 (TABLES + 0xb000)   /* 256 8-byte 32-bit gates */
#define IDT64 (TABLES + 0xc000)   /* 256 16-byte gates */
#define KSTACK 0x2f000            /* the kernel's stack in 32/64-bit mode */
#define STACK0 0x30000            /* CPL-0 stack top (ESP0, RSP0) */
#define USTACK 0x31000            /* CPL-3 stack top */
#define PAGE_A 0x50000            /* physical pages the paging tests map */
#define PAGE_B 0x51000
#define PAGE_C 0x52000
#define PAGE_X 0x53000

#define RM_STACK 0x7000
#define IRQ_DE 0
#define V_RET 0x81       /* int $V_RET: back from CPL 3 to the kernel */
#define V_USER 0x80      /* int $V_USER from CPL 3: frame recorded */

/* ---------------------------------------------------------------------
 * The check routine in three code sizes.  check16/check32 take esi =
 * name, edi = value, edx = expected (32 bits); check64 the same in
 * 64-bit registers.  Values print as "0x" and hex digits without
 * leading zeros.  All preserve every register. */
.macro HELPERS sz, a32
putc\sz:
	push %edx
	mov $0x3f8, %dx
	out %al, %dx
	pop %edx
	ret
puts\sz:
	push %eax
	push %esi
1:	\a32 mov (%esi), %al
	test %al, %al
	jz 2f
	call putc\sz
	inc %esi
	jmp 1b
2:	pop %esi
	pop %eax
	ret
puthex\sz:
	push %eax
	push %ecx
	push %edx
	mov $'0', %al
	call putc\sz
	mov $'x', %al
	call putc\sz
	mov $28, %ecx
	xor %edx, %edx
1:	mov %edi, %eax
	shr %cl, %eax
	and $0xf, %eax
	test %ecx, %ecx
	jz 2f
	test %edx, %edx
	jnz 2f
	test %eax, %eax
	jz 3f
2:	mov $1, %edx
	add $'0', %al
	cmp $'9', %al
	jbe 4f
	add $('a' - '0' - 10), %al
4:	call putc\sz
3:	sub $4, %ecx
	jns 1b
	pop %edx
	pop %ecx
	pop %eax
	ret
check\sz:
	push %esi
	call puts\sz
	mov $msg_colon, %esi
	call puts\sz
	call puthex\sz
	cmp %edx, %edi
	je 1f
	\a32 incl fails
	mov $msg_expected, %esi
	call puts\sz
	push %edi
	mov %edx, %edi
	call puthex\sz
	pop %edi
1:	mov $msg_nl, %esi
	call puts\sz
	pop %esi
	ret
.endm

/* CHECK16/CHECK32 name, value, expected: value and expected must not be
 * esi, edi or edx. */
.macro CHECKX sz, name, val, exp
	.pushsection .rodata
9:	.asciz "\name"
	.popsection
	push %esi
	push %edi
	push %edx
	mov \val, %edi
	mov \exp, %edx
	mov $9b, %esi
	call check\sz
	pop %edx
	pop %edi
	pop %esi
.endm
.macro CHECK16 name, val, exp
	CHECKX 16, "\name", \val, \exp
.endm
.macro CHECK32 name, val, exp
	CHECKX 32, "\name", \val, \exp
.endm
.macro CHECK64 name, val, exp
	.pushsection .rodata
9:	.asciz "\name"
	.popsection
	push %rsi
	push %rdi
	push %rdx
	mov \val, %rdi
	mov \exp, %rdx
	mov $9b, %esi
	call check64
	pop %rdx
	pop %rdi
	pop %rsi
.endm

/* CHECK_IP16 name, label: the saved IP minus label (0: the CPU saved
 * that instruction), or -1 when no exception came (TRY set last_vec). */
.macro CHECK_IP16 name, label
	mov $-1, %eax
	cmpl $-1, last_vec
	je 8f
	movzwl last_ip, %eax
	sub $\label, %eax
8:	CHECK16 "\name", %eax, $0
.endm

/* TRY16/TRY32 label: the next exception resumes at label, which clears
 * `resume` again (an exception that does not come leaves no stale
 * resume point behind); last_vec reads -1 unless one came. */
.macro TRY16 label
	movl $-1, last_vec
	movl $-1, last_err
	movl $\label, resume
.endm
.macro TRY32 label
	movl $-1, last_vec
	movl $-1, last_err
	movl $\label, resume
.endm

/* =====================================================================
 * Real mode. */
	.code16
	.text
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov $RM_STACK, %sp
	cld
	call pic_mask
	call rm_ivt_init

	/* rax --flat starts at CS:IP = 0000:8000 with CR0 = ET (README,
	 * "--flat"); PE = 0 is real-address mode (Vol. 3 §9.1). */
	mov %cs, %ax
	movzwl %ax, %eax
	CHECK16 "rm.cs", %eax, $0
	mov %cr0, %eax
	CHECK16 "rm.cr0", %eax, $0x10

	/* Segment arithmetic: linear = selector * 16 + offset (§20.1.1):
	 * 1234:0005 and 1000:2345 are both 0x12345. */
	mov $0x1234, %ax
	mov %ax, %es
	movw $0xbeef, %es:0x0005
	mov $0x1000, %ax
	mov %ax, %fs
	movzwl %fs:0x2345, %eax
	CHECK16 "rm.seg-arith", %eax, $0xbeef
	xor %ax, %ax
	mov %ax, %es

	/* 16-bit ModRM forms (Vol. 2 Table 2-1): [BX+SI+disp8] through DS,
	 * [BP+DI] through SS, and offsets wrap at 64 KiB. */
	movw $0x1111, 0x130
	mov $0x100, %bx
	mov $0x20, %si
	movzwl 0x10(%bx,%si), %eax
	CHECK16 "rm.modrm-bx-si-disp8", %eax, $0x1111
	movw $0x2222, 0x150             /* SS:0x150 with SS = 0 */
	movw $0x3333, 0x1150            /* what DS = 0x100 would reach */
	mov $0x100, %ax
	mov %ax, %ds
	mov $0x100, %bp
	mov $0x50, %di
	movzwl (%bp,%di), %eax
	xor %cx, %cx
	mov %cx, %ds
	CHECK16 "rm.modrm-bp-di-uses-ss", %eax, $0x2222
	movw $0x4444, 0x5f0
	mov $0xfff0, %bx
	mov $0x0600, %si
	movzwl (%bx,%si), %eax          /* 0xfff0 + 0x600 wraps to 0x5f0 */
	CHECK16 "rm.modrm-wraps-64k", %eax, $0x4444

	/* 66h and 67h select 32-bit operands and addresses (Vol. 1
	 * §3.6.1): a 32-bit immediate, a 32-bit address in ESI. */
	mov $0x12345678, %eax
	shr $16, %eax
	CHECK16 "rm.opsize-66", %eax, $0x1234
	movl $0x89abcdef, 0x600
	mov $0x600, %esi
	addr32 mov (%esi), %ebx
	CHECK16 "rm.adsize-67", %ebx, $0x89abcdef

	/* INT n through the IVT (§20.1.4): FLAGS, CS, IP pushed; IF and TF
	 * cleared in the handler; IRET returns after the INT. */
	sti
	int $0x40
rm_int40_next:
	cli
	movzwl last_flags, %eax
	and $0x200, %eax
	CHECK16 "rm.int40.saved-if", %eax, $0x200
	movzwl rm_int40_flags, %eax
	and $0x300, %eax
	CHECK16 "rm.int40.handler-if-tf", %eax, $0
	CHECK_IP16 "rm.int40.ip-next", rm_int40_next
	movzwl last_cs, %eax
	CHECK16 "rm.int40.cs", %eax, $0

	/* Exceptions through the IVT push no error code (§20.1.4): #DE
	 * (a fault: the DIV's IP), #UD, #BR from BOUND (a fault), #OF from
	 * INTO (a trap: the next IP). */
	TRY16 rm_de_done
	xor %bl, %bl
rm_de_insn:
	div %bl
rm_de_done:	movl $0, resume
	CHECK16 "rm.de.vector", last_vec, $0
	CHECK_IP16 "rm.de.ip-insn", rm_de_insn
	TRY16 rm_ud_done
rm_ud_insn:
	ud2
rm_ud_done:	movl $0, resume
	CHECK16 "rm.ud.vector", last_vec, $6
	CHECK_IP16 "rm.ud.ip-insn", rm_ud_insn
	movw $10, 0x610
	movw $20, 0x612
	mov $15, %ax
	bound %ax, 0x610                /* within: nothing */
	mov $21, %ax
	TRY16 rm_br_done
rm_br_insn:
	bound %ax, 0x610
rm_br_done:	movl $0, resume
	CHECK16 "rm.bound.vector", last_vec, $5
	CHECK_IP16 "rm.bound.ip-insn", rm_br_insn
	mov $0x7f, %al
	add $1, %al                     /* OF = 1 */
	TRY16 rm_into_next
	into
rm_into_next:	movl $0, resume
	CHECK16 "rm.into.vector", last_vec, $4
	CHECK_IP16 "rm.into.ip-next", rm_into_next

	/* A word at offset 0xffff crosses the 64-KiB limit: #GP, vector 13,
	 * in real mode too (§20.1.3 "segment wraparound"). */
	TRY16 rm_gp_done
rm_gp_insn:
	mov 0xffff, %ax
rm_gp_done:	movl $0, resume
	CHECK16 "rm.wrap-word.vector", last_vec, $13
	CHECK_IP16 "rm.wrap-word.ip-insn", rm_gp_insn

	/* Far CALL and RET (Vol. 2 CALL "real-address mode"): CS = 0x80
	 * (base 0x800) inside, back to CS = 0 after. */
	lcall $0x80, $(rm_far - 0x800)
	movzwl rm_far_cs, %eax
	CHECK16 "rm.lcall.cs-inside", %eax, $0x80
	mov %cs, %ax
	movzwl %ax, %eax
	CHECK16 "rm.lcall.cs-after", %eax, $0
	ljmp $0x80, $(rm_far_jmp - 0x800)
rm_far_back:

	/* Instructions invalid in 64-bit mode (Vol. 2): PUSHA/POPA, DAA,
	 * AAM/AAD, LES, PUSH/POP of ES and DS, INC/DEC 40-4F. */
	mov $0x1001, %ax
	mov $0x2002, %cx
	mov $0x3003, %dx
	mov $0x4004, %bx
	mov $0x5005, %bp
	mov $0x6006, %si
	mov $0x7007, %di
	pusha
	xor %ax, %ax
	xor %cx, %cx
	xor %dx, %dx
	xor %bx, %bx
	xor %bp, %bp
	xor %si, %si
	xor %di, %di
	popa
	add %cx, %ax
	add %dx, %ax
	add %bx, %ax
	add %bp, %ax
	add %si, %ax
	add %di, %ax
	movzwl %ax, %eax
	CHECK16 "rm.pusha-popa-sum", %eax, $0xc01c
	mov %sp, %ax
	movzwl %ax, %eax
	CHECK16 "rm.pusha-popa-sp", %eax, $RM_STACK
	/* DAA example of Vol. 2 DAA: 79H + 35H = AEH, DAA -> 14H, CF = 1. */
	mov $0x79, %al
	add $0x35, %al
	daa
	setc %ah
	movzwl %ax, %eax
	CHECK16 "rm.daa-ax-cf", %eax, $0x0114
	/* AAM: AL = 53 -> AH 5, AL 3; AAD back: AL = 3 + 5 * 10. */
	mov $53, %ax
	aam
	movzwl %ax, %eax
	CHECK16 "rm.aam", %eax, $0x0503
	aad
	movzwl %ax, %eax
	CHECK16 "rm.aad", %eax, $0x0035
	movw $0x1234, 0x620
	movw $0x5678, 0x622
	les 0x620, %bx
	mov %es, %ax
	movzwl %ax, %eax
	CHECK16 "rm.les-es", %eax, $0x5678
	movzwl %bx, %eax
	CHECK16 "rm.les-bx", %eax, $0x1234
	push %es
	pop %ds
	mov %ds, %ax
	xor %cx, %cx
	mov %cx, %ds
	mov %cx, %es
	movzwl %ax, %eax
	CHECK16 "rm.push-es-pop-ds", %eax, $0x5678
	mov $0x7fff, %ax
	.byte 0x40                      /* inc %ax */
	.byte 0x4b                      /* dec %bx */
	movzwl %ax, %eax
	CHECK16 "rm.inc-40", %eax, $0x8000

	/* A20: rax keeps the line on (README, "The machine"), port 0x92
	 * bit 1 says so, and FFFF:0010 is 0x100000, not 0 (§20.1.1). */
	in $0x92, %al
	and $2, %eax
	CHECK16 "rm.port92-a20", %eax, $2
	movw $0x1111, 0x0
	mov $0xffff, %ax
	mov %ax, %fs
	movw $0x2222, %fs:0x10
	movzwl 0x0, %eax
	CHECK16 "rm.a20-no-wrap", %eax, $0x1111
	/* 0000:0000 held the #DE vector: restore it. */
	movw $rm_stubs, 0
	/* At linear 0x10000, beyond CODE16's limit, a far jump back to
	 * pm16_jmp_done: where a CPU that misses the limit check of
	 * pm16.jmp-beyond-limit lands (it then reports no exception). */
	mov $0x1000, %ax
	mov %ax, %es
	movb $0xea, %es:0
	movw $pm16_jmp_done, %es:1
	movw $CODE16, %es:3
	xor %ax, %ax
	mov %ax, %es

	/* ==================================================================
	 * 16-bit protected mode (§9.9.1): LGDT, CR0.PE, a far jump. */
	call idt16_init
	lgdt gdt_ptr
	lidt idt16_ptr
	mov %cr0, %eax
	or $1, %eax
	mov %eax, %cr0
	ljmp $CODE16, $pm16
pm16:
	mov $DATA16, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	movw $DATA16, handler_ds
	mov %cs, %ax
	movzwl %ax, %eax
	CHECK16 "pm16.cs", %eax, $CODE16

	/* Data limits (§5.3): offset 0xff of a limit-0xff segment is in,
	 * 0x100 is #GP(0), and so is a word at 0xff. */
	mov $DATA_LIM, %ax
	mov %ax, %es
	movb %es:0xff, %al
	TRY16 pm16_lim_done
pm16_lim_insn:
	movb %es:0x100, %al
pm16_lim_done:	movl $0, resume
	CHECK16 "pm16.limit.vector", last_vec, $13
	CHECK16 "pm16.limit.error", last_err, $0
	CHECK_IP16 "pm16.limit.ip-insn", pm16_lim_insn
	movl $-1, last_vec
	TRY16 pm16_limw_done
	movw %es:0xff, %ax
pm16_limw_done:	movl $0, resume
	CHECK16 "pm16.limit-word.vector", last_vec, $13

	/* Expand-down (§5.3): limit 0xfff, B = 0: offsets 0x1000-0xffff
	 * are valid, 0x800 is #GP(0). */
	mov $DATA_XD, %ax
	mov %ax, %es
	movl $-1, last_vec
	movb %es:0x2000, %al
	CHECK16 "pm16.expand-down-in.vector", last_vec, $-1
	TRY16 pm16_xd_done
	movb %es:0x800, %al
pm16_xd_done:	movl $0, resume
	CHECK16 "pm16.expand-down-out.vector", last_vec, $13
	CHECK16 "pm16.expand-down-out.error", last_err, $0

	/* Rights (§5.6): writing a read-only segment is #GP(0). */
	mov $DATA_RO, %ax
	mov %ax, %es
	TRY16 pm16_ro_done
	movb $1, %es:0x10
pm16_ro_done:	movl $0, resume
	CHECK16 "pm16.write-read-only.vector", last_vec, $13
	CHECK16 "pm16.write-read-only.error", last_err, $0

	/* SS-relative beyond the limit is #SS(0) (§6.15 Interrupt 12): a
	 * dword at SS:0xfffe through BP. */
	xor %bp, %bp
	TRY16 pm16_ss_done
	mov 0xfffe(%bp), %eax
pm16_ss_done:	movl $0, resume
	CHECK16 "pm16.ss-limit.vector", last_vec, $12
	CHECK16 "pm16.ss-limit.error", last_err, $0

	/* A near jump beyond CS's limit faults on the jump (Vol. 2 JMP:
	 * #GP(0)): JMP EAX = 0x10000 in a 64-KiB code segment. */
	mov $0x10000, %eax
	TRY16 pm16_jmp_done
pm16_jmp_insn:
	jmpl *%eax
pm16_jmp_done:	movl $0, resume
	CHECK16 "pm16.jmp-beyond-limit.vector", last_vec, $13
	CHECK_IP16 "pm16.jmp-beyond-limit.ip-insn", pm16_jmp_insn

	/* Segment loads (Vol. 2 MOV, §5.5): the error code is the selector
	 * with RPL cleared. Beyond the GDT limit: #GP(sel); not present:
	 * #NP(sel); SS with RPL != CPL: #GP(sel); execute-only code into a
	 * data register: #GP(sel). */
	TRY16 pm16_ld1_done
	mov $0x1f8, %ax
	mov %ax, %es
pm16_ld1_done:	movl $0, resume
	CHECK16 "pm16.load-beyond-gdt.vector", last_vec, $13
	CHECK16 "pm16.load-beyond-gdt.error", last_err, $0x1f8
	TRY16 pm16_ld2_done
	mov $DATA_NP, %ax
	mov %ax, %es
pm16_ld2_done:	movl $0, resume
	CHECK16 "pm16.load-not-present.vector", last_vec, $11
	CHECK16 "pm16.load-not-present.error", last_err, $DATA_NP
	TRY16 pm16_ld3_done
	mov $(DATA16 | 3), %ax
	mov %ax, %ss
pm16_ld3_done:	movl $0, resume
	CHECK16 "pm16.load-ss-rpl3.vector", last_vec, $13
	CHECK16 "pm16.load-ss-rpl3.error", last_err, $DATA16
	TRY16 pm16_ld4_done
	mov $CODE_XO, %ax
	mov %ax, %es
pm16_ld4_done:	movl $0, resume
	CHECK16 "pm16.load-exec-only.vector", last_vec, $13
	CHECK16 "pm16.load-exec-only.error", last_err, $CODE_XO
	mov $DATA16, %ax
	mov %ax, %es
	/* The CPU sets the accessed bit of a descriptor it loads (§3.4.5.1):
	 * DATA_RO was written without it. */
	movzbl gdt + DATA_RO + 5, %eax
	CHECK16 "pm16.accessed-bit-set", %eax, $0x91

	/* A 16-bit trap gate (§6.11): a 3-word frame, IF kept. */
	sti
	int $0x41
pm16_int41_next:
	cli
	CHECK_IP16 "pm16.int41.ip-next", pm16_int41_next
	movzwl last_cs, %eax
	CHECK16 "pm16.int41.cs", %eax, $CODE16
	movzwl rm_int40_flags, %eax     /* FLAGS inside the handler */
	and $0x200, %eax
	CHECK16 "pm16.int41.trap-gate-if", %eax, $0x200

	/* LAR, LSL, VERR, VERW (Vol. 2): ZF says whether the selector is
	 * valid for it. LAR gives the access-rights dword masked 00F0FF00H. */
	mov $CODE32, %bx
	lar %ebx, %eax
	CHECK16 "pm16.lar-code32", %eax, $0x00c09b00
	mov $DATA_LIM, %bx
	lsl %ebx, %eax
	CHECK16 "pm16.lsl-data-lim", %eax, $0xff
	mov $CODE32, %bx
	lsl %ebx, %eax
	CHECK16 "pm16.lsl-code32-granular", %eax, $0xffffffff
	mov $DATA_RO, %bx
	verw %bx
	setz %al
	movzbl %al, %eax
	CHECK16 "pm16.verw-read-only-zf", %eax, $0
	mov $CODE_XO, %bx
	verr %bx
	setz %al
	movzbl %al, %eax
	CHECK16 "pm16.verr-exec-only-zf", %eax, $0
	mov $CODE16, %bx
	verr %bx
	setz %al
	movzbl %al, %eax
	CHECK16 "pm16.verr-code16-zf", %eax, $1
	xor %bx, %bx
	lar %bx, %ax
	setz %al
	movzbl %al, %eax
	CHECK16 "pm16.lar-null-zf", %eax, $0

	/* ==================================================================
	 * 32-bit protected mode: a far jump to a 32-bit code segment. */
	ljmp $CODE32, $pm32

/* --- real-mode helpers ------------------------------------------------ */

/* ICW1-ICW4, then every input masked (8259A data sheet). */
pic_mask:
	mov $0x11, %al
	out %al, $0x20
	out %al, $0xa0
	mov $0x20, %al
	out %al, $0x21
	mov $0x28, %al
	out %al, $0xa1
	mov $4, %al
	out %al, $0x21
	mov $2, %al
	out %al, $0xa1
	mov $1, %al
	out %al, $0x21
	out %al, $0xa1
	mov $0xff, %al
	out %al, $0x21
	out %al, $0xa1
	ret

/* IVT: vectors 0-31 to rm_stubs, 0x40 to rm_int40. */
rm_ivt_init:
	xor %di, %di
	mov $rm_stubs, %ax
1:	mov %ax, (%di)
	movw $0, 2(%di)
	add $8, %ax
	add $4, %di
	cmp $32 * 4, %di
	jb 1b
	movw $rm_int40, 0x40 * 4
	movw $0, 0x40 * 4 + 2
	ret

/* The IVT's exception stubs: every vector pushes a dummy error code (real
 * mode pushes none), then the vector. */
	.balign 8
rm_stubs:
	.set vec, 0
	.rept 32
	.balign 8
	pushw $0
	pushw $vec
	jmp stub16_common
	.set vec, vec + 1
	.endr

/* The same for 16-bit protected mode: vectors 8, 10-14 and 17 come with
 * an error code (§6.13). */
	.balign 8
pm16_stubs:
	.set vec, 0
	.rept 32
	.balign 8
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17)
	.else
	pushw $0
	.endif
	pushw $vec
	jmp stub16_common
	.set vec, vec + 1
	.endr

/* Frame: vec, err, IP, CS, FLAGS (words).  Records them, resumes at
 * `resume` when set.  DS is reloaded from handler_ds. */
stub16_common:
	push %bp
	mov %sp, %bp
	push %ds
	push %eax
	mov %cs:handler_ds, %ax
	mov %ax, %ds
	movzwl 2(%bp), %eax
	mov %eax, last_vec
	movzwl 4(%bp), %eax
	mov %eax, last_err
	movzwl 6(%bp), %eax
	mov %eax, last_ip
	movzwl 8(%bp), %eax
	mov %eax, last_cs
	movzwl 10(%bp), %eax
	mov %eax, last_flags
	mov resume, %eax
	test %eax, %eax
	jz unexpected16
	mov %ax, 6(%bp)
	movl $0, resume
	pop %eax
	pop %ds
	pop %bp
	add $4, %sp
	iret

/* An exception no TRY expected: say which and where, and fail. */
unexpected16:
	mov $msg_unexp, %esi
	call puts16
	mov last_vec, %edi
	call puthex16
	mov $msg_at, %esi
	call puts16
	mov last_ip, %edi
	call puthex16
	mov $msg_nl, %esi
	call puts16
	mov $1, %eax
	out %eax, $0xf4
	hlt

/* INT 0x40 (real mode) and 0x41 (16-bit protected mode): the frame and
 * the FLAGS inside the handler. */
rm_int40:
	push %bp
	mov %sp, %bp
	push %ds
	push %eax
	mov %cs:handler_ds, %ax
	mov %ax, %ds
	pushf
	pop %ax
	mov %ax, rm_int40_flags
	movzwl 2(%bp), %eax
	mov %eax, last_ip
	movzwl 4(%bp), %eax
	mov %eax, last_cs
	movzwl 6(%bp), %eax
	mov %eax, last_flags
	pop %eax
	pop %ds
	pop %bp
	iret

/* Far targets in segment 0x80 (base 0x800). */
rm_far:
	mov %cs, %ax
	mov %ax, rm_far_cs
	lret
rm_far_jmp:
	ljmp $0, $rm_far_back

/* IDT16: 16-bit interrupt gates (type 6) to pm16_stubs; 0x41 a 16-bit
 * trap gate (type 7) to rm_int40. */
idt16_init:
	mov $(IDT16 >> 4), %ax
	mov %ax, %es
	xor %di, %di
	mov $pm16_stubs, %ax
1:	mov %ax, %es:(%di)
	movw $CODE16, %es:2(%di)
	movw $0x8600, %es:4(%di)
	movw $0, %es:6(%di)
	add $8, %ax
	add $8, %di
	cmp $32 * 8, %di
	jb 1b
	movw $rm_int40, %es:0x41 * 8
	movw $CODE16, %es:0x41 * 8 + 2
	movw $0x8700, %es:0x41 * 8 + 4
	xor %ax, %ax
	mov %ax, %es
	ret

	HELPERS 16, addr32

/* =====================================================================
 * 32-bit protected mode. */
	.code32
pm32:
	mov $DATA32, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov %ax, %fs
	mov %ax, %gs
	mov $KSTACK, %esp
	call idt32_init
	lidt idt32_ptr
	call tss32_init
	mov $TSS_SEL, %ax
	ltr %ax
	mov %cs, %ax
	movzwl %ax, %eax
	CHECK32 "pm32.cs", %eax, $CODE32
	/* LTR marks the TSS busy: type 9 -> 11 (§7.2.2). */
	movzbl gdt + TSS_SEL + 5, %eax
	CHECK32 "pm32.ltr-busy", %eax, $0x8b

	/* A CPL-3 excursion (§6.12.1): INT 0x80 from CPL 3 switches to
	 * SS0:ESP0 of the TSS and pushes SS, ESP, EFLAGS, CS, EIP. */
	mov $user_int80, %edi
	xor %esi, %esi
	call to_user
	CHECK32 "pm32.user.int80.cs", last_cs, $(UCODE32 | 3)
	CHECK32 "pm32.user.int80.ss", last_ss, $(UDATA32 | 3)
	mov last_esp, %eax
	sub $USTACK, %eax
	CHECK32 "pm32.user.int80.esp-old", %eax, $0
	mov last_frame, %eax
	sub $(STACK0 - 20), %eax
	CHECK32 "pm32.user.int80.frame-at-esp0", %eax, $0
	CHECK32 "pm32.user.int80.handler-ss", last_hss, $DATA32
	movl last_eip, %eax
	sub $user_int80_next, %eax
	CHECK32 "pm32.user.int80.eip-next", %eax, $0
	/* The IRET to CPL 3 nulled DS (DPL 0 < CPL 3, Vol. 2 IRET). */
	CHECK32 "pm32.user.ds-after-iret", user_ds, $0

	/* Privileged instructions at CPL 3 are #GP(0) (§5.9); CLI too with
	 * IOPL 0 (§6.8.1); loading DS with a DPL-0 segment is #GP(sel). */
	mov $user_priv, %edi
	xor %esi, %esi
	call to_user
	CHECK32 "pm32.user.hlt.vector", user_v1, $13
	CHECK32 "pm32.user.hlt.error", user_e1, $0
	CHECK32 "pm32.user.cli-iopl0.vector", user_v2, $13
	CHECK32 "pm32.user.load-dpl0-ds.vector", user_v3, $13
	CHECK32 "pm32.user.load-dpl0-ds.error", user_e3, $DATA32

	/* The I/O permission bit map (Vol. 1 §19.5.2): port 0x80 allowed,
	 * 0x81 not, 0x3f8 beyond the map's end (the TSS limit); with IOPL 3
	 * (Vol. 1 §19.5.1) the map is not consulted. */
	mov $user_io, %edi
	xor %esi, %esi
	call to_user
	CHECK32 "pm32.user.in80.vector", user_v1, $-1
	CHECK32 "pm32.user.in81.vector", user_v2, $13
	CHECK32 "pm32.user.in81.error", user_e2, $0
	CHECK32 "pm32.user.out3f8.vector", user_v3, $13
	mov $user_io, %edi
	mov $0x3000, %esi               /* IOPL 3 */
	call to_user
	CHECK32 "pm32.user-iopl3.in81.vector", user_v2, $-1
	CHECK32 "pm32.user-iopl3.out3f8.vector", user_v3, $-1

	/* A call gate (§5.8.5): CALL from CPL 3 through a DPL-3 gate to
	 * DPL-0 code switches to SS0:ESP0 and copies the gate's one
	 * parameter; RETF 4 returns to CPL 3 and releases it on both stacks. */
	mov $user_gate, %edi
	xor %esi, %esi
	call to_user
	CHECK32 "pm32.gate.cs-inside", gate_cs, $CODE32
	CHECK32 "pm32.gate.param-copied", gate_param, $0x5a5a
	CHECK32 "pm32.gate.caller-cs", gate_ret_cs, $(UCODE32 | 3)
	CHECK32 "pm32.gate.caller-ss", gate_ss, $(UDATA32 | 3)
	mov gate_esp, %eax
	sub $(USTACK - 4), %eax
	CHECK32 "pm32.gate.caller-esp", %eax, $0
	mov gate_frame, %eax
	sub $(STACK0 - 20), %eax
	CHECK32 "pm32.gate.frame-at-esp0", %eax, $0
	mov user_esp_after, %eax
	sub $USTACK, %eax
	CHECK32 "pm32.gate.esp-after-retf4", %eax, $0
	/* A conforming segment runs at the caller's CPL (§5.8.1.2). */
	CHECK32 "pm32.conforming.cs", conf_cs, $(CONF32 | 3)

	/* #SS at CPL 3 (§6.15 Interrupt 12): pushes through a 16-bit stack
	 * segment of limit 0xff wrap to 0xfffc, beyond the limit; the CPU
	 * delivers it on the TSS's CPL-0 stack. */
	mov $user_ss, %edi
	xor %esi, %esi
	call to_user
	CHECK32 "pm32.user.ss-fault.vector", user_v1, $12
	CHECK32 "pm32.user.ss-fault.error", user_e1, $0
	CHECK32 "pm32.user.ss-fault.saved-ss", last_ss, $(UDATA_LIM | 3)

	/* SYSENTER from CPL 3 (Vol. 2 SYSENTER): CS from IA32_SYSENTER_CS,
	 * SS the next selector, ESP and EIP from their MSRs, IF cleared.
	 * SYSEXIT: CS = SYSENTER_CS + 16, SS + 24, RPL 3, EIP = EDX, ESP =
	 * ECX (flat segments it does not read from the GDT).  Before it, an
	 * IRET to CPL 3 turns a null selector with RPL 3 in ES into 0 (Vol.
	 * 2 IRET, "RETURN-TO-OUTER-PRIVILEGE-LEVEL"). */
	mov $0x174, %ecx
	mov $CODE32, %eax
	xor %edx, %edx
	wrmsr
	mov $0x175, %ecx
	mov $STACK0, %eax
	wrmsr
	mov $0x176, %ecx
	mov $sysenter_entry32, %eax
	wrmsr
	mov $3, %ax
	mov %ax, %es
	mov $user_sysenter, %edi
	mov $0x200, %esi                /* IF set at CPL 3 */
	call to_user
	CHECK32 "pm32.iret-nulls-es-rpl3", user_v1, $0
	CHECK32 "pm32.sysenter.cs", se_cs, $CODE32
	CHECK32 "pm32.sysenter.ss", se_ss, $DATA32
	mov se_rsp, %eax
	sub $STACK0, %eax
	CHECK32 "pm32.sysenter.esp", %eax, $0
	mov se_flags, %eax
	and $0x200, %eax
	CHECK32 "pm32.sysenter.if-cleared", %eax, $0
	CHECK32 "pm32.sysexit.cs", user_v2, $((CODE32 + 16) | 3)
	CHECK32 "pm32.sysexit.ss", user_v3, $((CODE32 + 24) | 3)
	mov user_e1, %eax
	sub $(USTACK - 16), %eax
	CHECK32 "pm32.sysexit.esp", %eax, $0

	/* ==================================================================
	 * 32-bit paging (§4.3): CR4.PSE, a 4-MiB page and 4-KiB pages. */
	call pg32_init
	mov %cr4, %eax
	or $0x10, %eax                  /* PSE */
	mov %eax, %cr4
	mov $PD32, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80010000, %eax            /* PG, WP */
	mov %eax, %cr0
	movl $0xcafe0001, 0x400010      /* linear 4 MiB -> PAGE_A */
	CHECK32 "pg32.4k-page", PAGE_A + 0x10, $0xcafe0001
	CHECK32 "pg32.4m-page", 0x800000 + PAGE_A + 0x10, $0xcafe0001
	mov PT32, %eax
	and $0x60, %eax
	CHECK32 "pg32.pte-accessed-dirty", %eax, $0x60
	mov PD32 + 8, %eax
	and $0x60, %eax
	CHECK32 "pg32.4m-pde-accessed-clean", %eax, $0x20
	/* SMSW r32 stores all of CR0, PG and WP too, as processors do
	 * (Vol. 2B SMSW leaves bits 31:16 undefined outside 64-bit mode;
	 * kvm-unit-tests' realmode test checks them). */
	mov %cr0, %ebx
	smsw %eax
	sub %ebx, %eax
	CHECK32 "pg32.smsw-r32-is-cr0", %eax, $0
	TRY32 pg32_pf_done
	movl $1, 0x401000               /* PT32[1]: not present */
pg32_pf_done:	movl $0, resume
	CHECK32 "pg32.pf-absent-write.vector", last_vec, $14
	CHECK32 "pg32.pf-absent-write.error", last_err, $2
	mov %cr2, %eax
	CHECK32 "pg32.pf-absent-write.cr2", %eax, $0x401000
	TRY32 pg32_wp_done
	movl $1, 0x402000               /* PT32[2]: present, read-only */
pg32_wp_done:	movl $0, resume
	CHECK32 "pg32.pf-wp-write.error", last_err, $3
	/* A fault's EFLAGS image has RF set (Vol. 3 §18.3.1.1), so the
	 * IRET back re-runs the instruction without an instruction
	 * breakpoint; RF then lasts one instruction: INT3's trap, later,
	 * saves it clear. */
	mov last_flags, %eax
	and $0x10000, %eax
	CHECK32 "pg32.pf-wp-write.saved-rf", %eax, $0x10000
	TRY32 pg32_bp_done
	int3
pg32_bp_done:	movl $0, resume
	CHECK32 "pg32.int3.vector", last_vec, $3
	mov last_flags, %eax
	and $0x10000, %eax
	CHECK32 "pg32.int3-after-fault.saved-rf", %eax, $0

	/* ==================================================================
	 * PAE paging (§4.4): paging off, CR4.PAE, a PDPT at a 32-byte (not
	 * 4-KiB) boundary, paging on. */
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	call pae_init
	mov %cr4, %eax
	or $0x20, %eax                  /* PAE */
	mov %eax, %cr4
	mov $PDPT, %eax
	mov %eax, %cr3
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	movl $0xcafe0002, 0x400020      /* 4 MiB: PAE_PT[0] -> PAGE_B */
	CHECK32 "pae.4k-page", PAGE_B + 0x20, $0xcafe0002
	CHECK32 "pae.2m-page", 0x600000 + PAGE_B + 0x20, $0xcafe0002
	/* A present PDPTE with reserved bits (2:1) makes MOV CR3 #GP(0)
	 * and CR3 stays (§4.4.1). */
	TRY32 pae_bad_done
	mov $PDPT_BAD, %eax
	mov %eax, %cr3
pae_bad_done:	movl $0, resume
	CHECK32 "pae.bad-pdpte.vector", last_vec, $13
	CHECK32 "pae.bad-pdpte.error", last_err, $0
	mov %cr3, %eax
	CHECK32 "pae.bad-pdpte.cr3-kept", %eax, $PDPT
	mov $PDPT, %eax                 /* whatever the CPU did with it */
	mov %eax, %cr3
	/* The PDPTEs are registers loaded at MOV CR3, not re-read on a TLB
	 * miss (§4.4.1, §4.10.2.4): repointing PDPTE 0 in memory changes
	 * nothing until CR3 is written again. */
	movl $0xcafe0003, PAGE_C + 0x20
	movl $(PAE_PD2 | 1), PDPT
	invlpg 0x400020
	CHECK32 "pae.pdpte-cached", 0x400020, $0xcafe0002
	mov $PDPT, %eax
	mov %eax, %cr3
	CHECK32 "pae.pdpte-reloaded", 0x400020, $0xcafe0003
	/* XD with EFER.NXE (§4.6): a fetch from an XD page is #PF with I/D
	 * and P in the error code. */
	mov $0xc0000080, %ecx
	rdmsr
	or $0x800, %eax                 /* NXE */
	wrmsr
	movb $0xc3, PAGE_X              /* ret */
	TRY32 pae_nx_done
	call 0x401000                   /* PAE_PT2[1]: PAGE_X, XD */
pae_nx_done:	movl $0, resume
	CHECK32 "pae.nx-fetch.vector", last_vec, $14
	CHECK32 "pae.nx-fetch.error", last_err, $0x11
	mov $KSTACK, %esp

	/* ==================================================================
	 * IA-32e mode (§9.8.5): paging off, PAE on, a PML4 in CR3,
	 * EFER.LME, paging on: LMA = 1 while CS is still a 32-bit segment
	 * (compatibility mode); then a far jump to a 64-bit segment. */
	mov %cr0, %eax
	and $0x7fffffff, %eax
	mov %eax, %cr0
	call lm_init
	call idt64_init
	mov $PML4, %eax
	mov %eax, %cr3
	mov $0xc0000080, %ecx
	rdmsr
	or $0x100, %eax                 /* LME */
	wrmsr
	lidt idt64_ptr
	mov %cr0, %eax
	or $0x80000000, %eax
	mov %eax, %cr0
	mov $0xc0000080, %ecx
	rdmsr
	and $0x500, %eax
	CHECK32 "lm.efer-lme-lma-compat", %eax, $0x500
	ljmp $CODE64, $lm64

/* --- 32-bit helpers ---------------------------------------------------- */

/* to_user(edi = function, esi = EFLAGS): run it at CPL 3 (CS UCODE32,
 * SS UDATA32, ESP USTACK) through IRET; it comes back with int $V_RET. */
to_user:
	pusha
	mov %esp, kern_esp
	movl $-1, user_v1
	movl $-1, user_v2
	movl $-1, user_v3
	push $(UDATA32 | 3)
	push $USTACK
	push %esi
	push $(UCODE32 | 3)
	push %edi
	iret
user_returned:
	mov $DATA32, %ax
	mov %ax, %ds
	mov %ax, %es
	mov %ax, %ss
	mov kern_esp, %esp
	popa
	ret

/* CPL-3 programs; each ends with int $V_RET. */
user_int80:
	mov %ds, %eax
	movzwl %ax, %eax
	mov $(UDATA32 | 3), %bx
	mov %bx, %ds
	mov %eax, user_ds
	int $V_USER
user_int80_next:
	int $V_RET

user_priv:
	mov $(UDATA32 | 3), %ax
	mov %ax, %ds
	mov %ax, %es
	TRY32 1f
	hlt
1:	movl $0, resume
	mov last_vec, %eax
	mov %eax, user_v1
	mov last_err, %eax
	mov %eax, user_e1
	TRY32 2f
	cli
2:	movl $0, resume
	mov last_vec, %eax
	mov %eax, user_v2
	TRY32 3f
	mov $DATA32, %ax
	mov %ax, %es
3:	movl $0, resume
	mov last_vec, %eax
	mov %eax, user_v3
	mov last_err, %eax
	mov %eax, user_e3
	int $V_RET

user_io:
	mov $(UDATA32 | 3), %ax
	mov %ax, %ds
	movl $-1, last_vec
	TRY32 1f
	in $0x80, %al
1:	movl $0, resume
	mov last_vec, %eax
	mov %eax, user_v1
	movl $0, resume
	movl $-1, last_vec
	TRY32 2f
	in $0x81, %al
2:	movl $0, resume
	mov last_vec, %eax
	mov %eax, user_v2
	mov last_err, %eax
	mov %eax, user_e2
	movl $0, resume
	movl $-1, last_vec
	TRY32 3f
	mov $0x3f8, %dx
	mov $'.', %al
	in %dx, %al                     /* the UART's RBR: no side effect */
3:	movl $0, resume
	mov last_vec, %eax
	mov %eax, user_v3
	movl $0, resume
	int $V_RET

user_gate:
	mov $(UDATA32 | 3), %ax
	mov %ax, %ds
	pushl $0x5a5a
	lcall $(GATE_SEL | 3), $0
	mov %esp, user_esp_after
	lcall $(CONF32 | 3), $conf_func
	int $V_RET

/* Reached through the call gate at CPL 0: [ESP] EIP, CS, param, ESP, SS. */
gate_func:
	push %eax
	push %ds
	mov $DATA32, %ax
	mov %ax, %ds
	mov %cs, %ax
	movzwl %ax, %eax
	mov %eax, gate_cs
	lea 8(%esp), %eax
	mov %eax, gate_frame
	mov 12(%esp), %eax
	mov %eax, gate_ret_cs
	mov 16(%esp), %eax
	mov %eax, gate_param
	mov 20(%esp), %eax
	mov %eax, gate_esp
	mov 24(%esp), %eax
	mov %eax, gate_ss
	pop %ds
	pop %eax
	lret $4

conf_func:
	mov %cs, %eax
	movzwl %ax, %eax
	mov %eax, conf_cs
	lret

user_ss:
	mov $(UDATA32 | 3), %ax
	mov %ax, %ds
	mov $(UDATA_LIM | 3), %ax
	mov %ax, %ss
	mov $0x10, %esp
	TRY32 1f
	.rept 8
	push %eax
	.endr
1:	movl $0, resume
	mov $(UDATA32 | 3), %ax
	mov %ax, %ss
	mov $USTACK, %esp
	mov last_vec, %eax
	mov %eax, user_v1
	mov last_err, %eax
	mov %eax, user_e1
	int $V_RET

user_sysenter:
	mov %es, %eax
	movzwl %ax, %eax
	mov $(UDATA32 | 3), %bx
	mov %bx, %ds
	mov %eax, user_v1
	mov $(USTACK - 16), %ecx
	mov $user_sysexit, %edx
	sysenter
user_sysexit:
	mov %cs, %eax
	movzwl %ax, %eax
	mov %eax, user_v2
	mov %ss, %eax
	movzwl %ax, %eax
	mov %eax, user_v3
	mov %esp, user_e1
	int $V_RET

/* SYSENTER's entry (CPL 0, DS still the caller's): records and returns. */
sysenter_entry32:
	mov %cs, %eax
	movzwl %ax, %eax
	mov %eax, se_cs
	mov %ss, %eax
	movzwl %ax, %eax
	mov %eax, se_ss
	mov %esp, se_rsp
	pushf
	pop %eax
	mov %eax, se_flags
	sysexit

/* IDT32: 32-bit interrupt gates (type 14) to pm32_stubs; V_USER and
 * V_RET with DPL 3. */
idt32_init:
	mov $IDT32, %edi
	xor %ecx, %ecx
1:	mov $pm32_stubs, %eax
	mov %ecx, %edx
	shl $4, %edx
	add %edx, %eax
	mov %ax, (%edi)
	movw $CODE32, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	add $8, %edi
	inc %ecx
	cmp $256, %ecx
	jb 1b
	movw $0xee00, IDT32 + V_USER * 8 + 4
	movw $0xee00, IDT32 + V_RET * 8 + 4
	ret

/* The 32-bit TSS: SS0:ESP0, the I/O map at offset 104 with port 0x80's
 * bit clear and every other bit of ports 0-0x87 set, the limit ending
 * the map there; its descriptor; the call gate's descriptor. */
tss32_init:
	movl $STACK0, tss32 + 4
	movl $DATA32, tss32 + 8
	movw $104, tss32 + 0x66
	mov $tss32 + 104, %edi
	mov $0xff, %al
	mov $17, %ecx
	rep stosb
	movb $0xfe, tss32 + 104 + 0x10  /* port 0x80 */
	mov $tss32, %eax
	mov $(104 + 0x11), %edx         /* map bytes 0-0x11: ports 0-0x8f */
	mov $0x89, %ecx                 /* P, DPL 0, 32-bit TSS */
	mov $(gdt + TSS_SEL), %edi
	call set_sys_desc
	mov $LDT_SEL, %edi
	mov $ldt, %eax
	mov $(ldt_end - ldt - 1), %edx
	mov $0x82, %ecx                 /* P, LDT */
	mov $(gdt + LDT_SEL), %edi
	call set_sys_desc
	mov $gate_func, %eax            /* call gate: DPL 3, 1 dword param */
	mov %ax, gdt + GATE_SEL
	movw $CODE32, gdt + GATE_SEL + 2
	movw $0xec01, gdt + GATE_SEL + 4
	shr $16, %eax
	mov %ax, gdt + GATE_SEL + 6
	ret

/* set_sys_desc(edi = descriptor, eax = base, edx = limit < 64 KiB,
 * ecx = access byte). */
set_sys_desc:
	mov %dx, (%edi)
	mov %ax, 2(%edi)
	shr $16, %eax
	mov %al, 4(%edi)
	mov %cl, 5(%edi)
	movb $0, 6(%edi)
	mov %ah, 7(%edi)
	ret

/* 32-bit paging: PD[0] 4-MiB page 0-4 MiB, PD[1] -> PT32 (4-8 MiB),
 * PD[2] a 4-MiB page at 8 MiB -> physical 0.  PT32[0] -> PAGE_A, [1]
 * absent, [2] -> PAGE_A read-only. */
pg32_init:
	mov $PD32, %edi
	xor %eax, %eax
	mov $0x1000, %ecx
	rep stosl                       /* PD32 and PT32 */
	movl $0x83, PD32
	movl $(PT32 | 3), PD32 + 4
	movl $0x83, PD32 + 8
	movl $(PAGE_A | 3), PT32
	movl $(PAGE_A | 1), PT32 + 8
	ret

/* PAE: PDPT[0] -> PAE_PD: [0], [1] 2-MiB pages 0-4 MiB, [2] -> PAE_PT
 * (4-6 MiB), [3] a 2-MiB page 6 MiB -> physical 0.  PAE_PT[0] -> PAGE_B.
 * PAE_PD2 is PAE_PD but [2] -> PAE_PT2: [0] -> PAGE_C, [1] -> PAGE_X
 * with XD.  PDPT_BAD[0] has R/W (reserved in a PDPTE) set. */
pae_init:
	mov $PAE_PD, %edi
	xor %eax, %eax
	mov $0x1000, %ecx
	rep stosl                       /* PAE_PD .. PAE_PT2 */
	mov $PDPT, %edi
	xor %eax, %eax
	mov $16, %ecx
	rep stosl                       /* PDPT and PDPT_BAD */
	movl $(PAE_PD | 1), PDPT
	movl $(PAE_PD | 3), PDPT_BAD
	movl $0x83, PAE_PD
	movl $0x200083, PAE_PD + 8
	movl $(PAE_PT | 3), PAE_PD + 16
	movl $0x83, PAE_PD + 24
	movl $(PAGE_B | 3), PAE_PT
	mov $PAE_PD, %esi
	mov $PAE_PD2, %edi
	mov $1024, %ecx
	rep movsl
	movl $(PAE_PT2 | 3), PAE_PD2 + 16
	movl $(PAGE_C | 3), PAE_PT2
	movl $(PAGE_X | 3), PAE_PT2 + 8
	movl $0x80000000, PAE_PT2 + 12  /* XD */
	ret

/* IDT64: 64-bit interrupt gates (type 14) to lm_stubs; V_USER and V_RET
 * with DPL 3. */
idt64_init:
	mov $IDT64, %edi
	xor %ecx, %ecx
1:	mov $lm_stubs, %eax
	mov %ecx, %edx
	shl $4, %edx
	add %edx, %eax
	mov %ax, (%edi)
	movw $CODE64, 2(%edi)
	movw $0x8e00, 4(%edi)
	shr $16, %eax
	mov %ax, 6(%edi)
	movl $0, 8(%edi)
	movl $0, 12(%edi)
	add $16, %edi
	inc %ecx
	cmp $256, %ecx
	jb 1b
	movw $0xee00, IDT64 + V_USER * 16 + 4
	movw $0xee00, IDT64 + V_RET * 16 + 4
	ret

/* 4-level paging: PML4[0] -> PDPT64[0] -> PD64: 2-MiB user pages 0-8
 * MiB (CPL 3 runs here too). */
lm_init:
	mov $PML4, %edi
	xor %eax, %eax
	mov $0xc00, %ecx
	rep stosl
	movl $(PDPT64 | 7), PML4
	movl $(PD64 | 7), PDPT64
	movl $0x87, PD64
	movl $0x200087, PD64 + 8
	movl $0x400087, PD64 + 16
	movl $0x600087, PD64 + 24
	ret

	.balign 16
pm32_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17)
	.else
	pushl $0
	.endif
	pushl $vec
	jmp stub32_common
	.set vec, vec + 1
	.endr

/* Frame: vec, err, EIP, CS, EFLAGS [, ESP, SS from CPL 3].  Records
 * it; V_RET goes back to to_user's caller; else resumes at `resume`. */
stub32_common:
	push %eax
	push %ds
	mov $DATA32, %ax
	mov %ax, %ds
	lea 16(%esp), %eax
	mov %eax, last_frame
	mov %ss, %ax
	movzwl %ax, %eax
	mov %eax, last_hss
	mov 8(%esp), %eax
	mov %eax, last_vec
	cmp $V_RET, %eax
	je user_returned
	mov 12(%esp), %eax
	mov %eax, last_err
	mov 16(%esp), %eax
	mov %eax, last_eip
	mov 20(%esp), %eax
	mov %eax, last_cs
	mov 24(%esp), %eax
	mov %eax, last_flags
	mov 28(%esp), %eax
	mov %eax, last_esp
	mov 32(%esp), %eax
	mov %eax, last_ss
	mov resume, %eax
	test %eax, %eax
	jnz 1f
	cmpl $32, last_vec
	jb unexpected32
	jmp 2f
1:	mov %eax, 16(%esp)
	movl $0, resume
2:	pop %ds
	pop %eax
	add $8, %esp
	iret

unexpected32:
	mov $msg_unexp, %esi
	call puts32
	mov last_vec, %edi
	call puthex32
	mov $msg_at, %esi
	call puts32
	mov last_eip, %edi
	call puthex32
	mov $msg_nl, %esi
	call puts32
	mov $1, %eax
	out %eax, $0xf4
	hlt

	HELPERS 32

/* =====================================================================
 * 64-bit mode. */
	.code64
lm64:
	mov $DATA32, %eax
	mov %eax, %ds
	mov %eax, %ss
	mov $KSTACK, %esp
	mov %cs, %eax
	movzwl %ax, %eax
	CHECK64 "lm.cs", %rax, $CODE64
	call tss64_init
	mov $TSS_SEL, %eax
	ltr %ax

	/* Addresses that IA-32e mode loads into registers must be
	 * canonical, bits 63:47 equal (Vol. 1 §3.3.7.1): WRMSR of FS_BASE
	 * (Vol. 2 WRMSR) and LGDT (Vol. 2 LGDT) raise #GP(0) and load
	 * nothing; a far RET to a 64-bit segment at a non-canonical
	 * offset raises #GP(0) at the RET (Vol. 2 RET). */
	movq $-1, last_vec
	movq $-1, last_err
	movq $lm_wrmsr_done, resume
	mov $0xc0000100, %ecx
	mov $0x8000, %edx
	xor %eax, %eax
	wrmsr
lm_wrmsr_done:
	movq $0, resume
	CHECK64 "lm.wrmsr-fs-base-noncanonical.vector", last_vec, $13
	CHECK64 "lm.wrmsr-fs-base-noncanonical.error", last_err, $0
	/* As in legacy mode, the fault's image has RF set. */
	mov last_flags, %rax
	and $0x10000, %eax
	CHECK64 "lm.gp.saved-rf", %rax, $0x10000
	movq $-1, last_vec
	movq $-1, last_err
	movq $lm_lgdt_done, resume
	lgdt gdt_ptr_noncanonical
lm_lgdt_done:
	movq $0, resume
	CHECK64 "lm.lgdt-noncanonical.vector", last_vec, $13
	sgdt sgdt_buf
	mov sgdt_buf + 2, %rax
	sub $gdt, %rax
	CHECK64 "lm.lgdt-noncanonical.gdt-kept", %rax, $0
	lgdt gdt_ptr64                  /* for machines that took it */
	movq $-1, last_vec
	movq $-1, last_err
	movq $lm_retf_done, resume
	pushq $CODE64
	mov $0x0000800000000000, %rax
	push %rax
lm_retf_insn:
	lretq
lm_retf_done:
	movq $0, resume
	add $16, %rsp
	CHECK64 "lm.lretq-noncanonical.vector", last_vec, $13
	xor %eax, %eax
	mov last_eip, %rdx
	cmp $lm_retf_insn, %rdx
	sete %al
	CHECK64 "lm.lretq-noncanonical.rip-at-insn", %rax, $1

	/* Compatibility mode from the GDT (§5.8.?, Vol. 2 CALL far): a far
	 * call through an m16:32 pointer to a 32-bit segment; there 40h is
	 * INC EAX, not REX; RETF back to 64-bit mode. */
	lcall *ptr_compat32
	CHECK64 "compat32.cs", compat_cs, $CODE32
	CHECK64 "compat32.inc-40", compat_val, $6
	/* ...from the LDT (LLDT with a 16-byte descriptor in IA-32e mode):
	 * a 32-bit and a 16-bit code segment, where 40h is INC AX. */
	mov $LDT_SEL, %eax
	lldt %ax
	lcall *ptr_ldt32
	CHECK64 "compat32-ldt.cs", compat_cs, $LCODE32
	CHECK64 "compat32-ldt.inc-40", compat_val, $6
	lcall *ptr_ldt16
	CHECK64 "compat16-ldt.cs", compat_cs, $LCODE16
	CHECK64 "compat16-ldt.inc-40", compat_val, $0x8000

	/* IRETQ to CPL 3 in LDT code segments with an LDT stack segment,
	 * as Linux's sigreturn does for 32- and 16-bit code (§6.14.3); INT
	 * 0x80 there comes back through the 64-bit IDT with the frame. */
	mov $LUCODE32, %edi
	mov $user_ldt32, %esi
	call to_user64
	CHECK64 "user-ldt32.cs", user_cs, $LUCODE32
	CHECK64 "user-ldt32.ss", user_ss_v, $LUDATA
	CHECK64 "user-ldt32.frame-cs", last_cs, $LUCODE32
	CHECK64 "user-ldt32.frame-ss", last_ss, $LUDATA
	mov $LUCODE16, %edi
	mov $user_ldt16, %esi
	call to_user64
	CHECK64 "user-ldt16.cs", user_cs, $LUCODE16
	CHECK64 "user-ldt16.inc-40", compat_val, $0x8000
	CHECK64 "user-ldt16.frame-cs", last_cs, $LUCODE16

	/* SYSENTER from compatibility mode at CPL 3 enters 64-bit mode
	 * (IA-32e mode: CS.L = 1, RIP and RSP all 64 bits of their MSRs);
	 * SYSEXIT without REX.W returns to 32-bit code, CS = SYSENTER_CS +
	 * 16 (Vol. 2 SYSENTER, SYSEXIT), as Linux's 32-bit vDSO does on
	 * Intel processors. */
	mov $0x174, %ecx
	mov $CODE64, %eax
	xor %edx, %edx
	wrmsr
	mov $0x176, %ecx
	mov $sysenter_entry64, %eax
	wrmsr
	movq $0, se_cs
	mov $LUCODE32, %edi
	mov $user_sysenter32, %esi
	call to_user64
	CHECK64 "lm.sysenter.cs", se_cs, $CODE64
	CHECK64 "lm.sysenter.ss", se_ss, $(CODE64 + 8)
	mov se_rsp, %rax
	sub $STACK0, %rax
	CHECK64 "lm.sysenter.rsp", %rax, $0
	CHECK64 "lm.sysexit.cs", user_cs, $((CODE64 + 16) | 3)
	CHECK64 "lm.sysexit.ss", user_ss_v, $((CODE64 + 24) | 3)

	/* The verdict and the exit. */
	mov fails, %eax
	test %eax, %eax
	jnz 1f
	mov $msg_pass, %esi
	call puts64
	xor %eax, %eax
	out %eax, $0xf4
	jmp 2f
1:	mov $msg_fail, %esi
	call puts64
	mov fails, %edi
	call putdec64
	mov $msg_nl, %esi
	call puts64
	mov $1, %eax
	out %eax, $0xf4
2:	cli
	hlt
	jmp 2b

/* to_user64(edi = CS, esi = RIP): IRETQ to CPL 3 with SS LUDATA, RSP
 * USTACK; comes back through int $V_RET. */
to_user64:
	push %rbx
	push %rbp
	mov %rsp, kern_rsp
	push $LUDATA
	push $USTACK
	push $2
	push %rdi
	push %rsi
	iretq
user_returned64:
	mov kern_rsp, %rsp
	mov $DATA32, %eax
	mov %eax, %ds
	mov %eax, %es
	pop %rbp
	pop %rbx
	ret

/* The 64-bit TSS (§7.7): RSP0; its descriptor replaces the 32-bit one
 * (16 bytes, type 9: the busy 32-bit TSS's type was 11). */
tss64_init:
	movq $STACK0, tss64 + 4
	movw $104, tss64 + 0x66
	mov $tss64, %eax
	mov $103, %edx
	mov $0x89, %ecx
	mov $(gdt + TSS_SEL), %edi
	call set_sys_desc64
	movl $0, gdt + TSS_SEL + 8
	movl $0, gdt + TSS_SEL + 12
	ret

set_sys_desc64:
	mov %dx, (%rdi)
	mov %ax, 2(%rdi)
	shr $16, %eax
	mov %al, 4(%rdi)
	mov %cl, 5(%rdi)
	movb $0, 6(%rdi)
	mov %ah, 7(%rdi)
	ret

	.balign 16
lm_stubs:
	.set vec, 0
	.rept 256
	.balign 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17)
	.else
	pushq $0
	.endif
	pushq $vec
	jmp stub64_common
	.set vec, vec + 1
	.endr

/* Frame: vec, err, RIP, CS, RFLAGS, RSP, SS.  V_RET returns to
 * to_user64's caller; else the frame is recorded and execution resumes
 * at `resume` when set. */
stub64_common:
	push %rax
	mov 8(%rsp), %rax
	mov %rax, last_vec
	cmp $V_RET, %eax
	je user_returned64
	mov 16(%rsp), %rax
	mov %rax, last_err
	mov 24(%rsp), %rax
	mov %rax, last_eip
	mov 32(%rsp), %rax
	mov %rax, last_cs
	mov 40(%rsp), %rax
	mov %rax, last_flags
	mov 48(%rsp), %rax
	mov %rax, last_esp
	mov 56(%rsp), %rax
	mov %rax, last_ss
	mov resume, %rax
	test %rax, %rax
	jnz 1f
	cmpq $32, last_vec
	jb unexpected64
	jmp 2f
1:	mov %rax, 24(%rsp)
	movq $0, resume
2:	pop %rax
	add $16, %rsp
	iretq

unexpected64:
	mov $msg_unexp, %esi
	call puts64
	mov last_vec, %rdi
	call puthex64
	mov $msg_at, %esi
	call puts64
	mov last_eip, %rdi
	call puthex64
	mov $msg_nl, %esi
	call puts64
	mov $1, %eax
	out %eax, $0xf4
	hlt

/* check64(rsi = name, rdi = value, rdx = expected). */
check64:
	push %rsi
	call puts64
	mov $msg_colon, %esi
	call puts64
	call puthex64
	cmp %rdx, %rdi
	je 1f
	incl fails
	mov $msg_expected, %esi
	call puts64
	push %rdi
	mov %rdx, %rdi
	call puthex64
	pop %rdi
1:	mov $msg_nl, %esi
	call puts64
	pop %rsi
	ret
puts64:
	push %rax
	push %rsi
1:	mov (%rsi), %al
	test %al, %al
	jz 2f
	call putc64
	inc %rsi
	jmp 1b
2:	pop %rsi
	pop %rax
	ret
putc64:
	push %rdx
	mov $0x3f8, %dx
	out %al, %dx
	pop %rdx
	ret
puthex64:
	push %rax
	push %rcx
	push %rdx
	mov $'0', %al
	call putc64
	mov $'x', %al
	call putc64
	mov $60, %ecx
	xor %edx, %edx
1:	mov %rdi, %rax
	shr %cl, %rax
	and $0xf, %eax
	test %ecx, %ecx
	jz 2f
	test %edx, %edx
	jnz 2f
	test %eax, %eax
	jz 3f
2:	mov $1, %edx
	add $'0', %al
	cmp $'9', %al
	jbe 4f
	add $('a' - '0' - 10), %al
4:	call putc64
3:	sub $4, %ecx
	jns 1b
	pop %rdx
	pop %rcx
	pop %rax
	ret

/* putdec64(rdi): decimal (the verdict's count, as rt.S prints it). */
putdec64:
	push %rax
	push %rdx
	push %rdi
	mov %rdi, %rax
	xor %edx, %edx
	mov $10, %edi
	div %rdi
	test %rax, %rax
	jz 1f
	mov %rax, %rdi
	call putdec64
1:	lea '0'(%rdx), %eax
	call putc64
	pop %rdi
	pop %rdx
	pop %rax
	ret

/* --- compatibility-mode code ---------------------------------------------- */
	.code32
compat32:
	mov %cs, %eax
	movzwl %ax, %eax
	mov %eax, compat_cs
	mov $5, %eax
	.byte 0x40                      /* inc %eax */
	mov %eax, compat_val
	lret

user_ldt32:
	mov %cs, %eax
	movzwl %ax, %eax
	mov $LUDATA, %bx
	mov %bx, %ds
	mov %eax, user_cs
	mov %ss, %eax
	movzwl %ax, %eax
	mov %eax, user_ss_v
	int $V_USER
	int $V_RET

user_sysenter32:
	mov $LUDATA, %bx
	mov %bx, %ds
	mov $(USTACK - 16), %ecx
	mov $user_sysexit32, %edx
	sysenter
user_sysexit32:
	mov %cs, %eax
	movzwl %ax, %eax
	mov %eax, user_cs
	mov %ss, %eax
	movzwl %ax, %eax
	mov %eax, user_ss_v
	int $V_RET

	.code64
sysenter_entry64:
	mov %cs, %eax
	movzwl %ax, %eax
	mov %rax, se_cs
	mov %ss, %eax
	movzwl %ax, %eax
	mov %rax, se_ss
	mov %rsp, se_rsp
	sysexitl

	.code16
compat16:
	mov %cs, %ax
	movzwl %ax, %eax
	mov %eax, compat_cs
	mov $0x7fff, %ax
	.byte 0x40                      /* inc %ax */
	movzwl %ax, %eax
	mov %eax, compat_val
	lretl

user_ldt16:
	mov %cs, %ax
	mov $LUDATA, %bx
	mov %bx, %ds
	movzwl %ax, %eax
	mov %eax, user_cs
	mov $0x7fff, %ax
	.byte 0x40                      /* inc %ax */
	movzwl %ax, %eax
	mov %eax, compat_val
	int $V_USER
	int $V_RET

/* --- data ------------------------------------------------------------------ */
	.data
	.balign 16
gdt:
	.quad 0
	.quad 0x00009b000000ffff        /* CODE16 */
	.quad 0x000093000000ffff        /* DATA16 */
	.quad 0x00cf9b000000ffff        /* CODE32 */
	.quad 0x00cf93000000ffff        /* DATA32 */
	.quad 0x00af9b000000ffff        /* CODE64 */
	.quad 0x00cffb000000ffff        /* UCODE32 */
	.quad 0x00cff3000000ffff        /* UDATA32 */
	.quad 0, 0                      /* TSS_SEL (tss32_init, tss64_init) */
	.quad 0, 0                      /* LDT_SEL (tss32_init) */
	.quad 0x00009300600000ff        /* DATA_LIM */
	.quad 0x000090000000ffff        /* DATA_RO (accessed bit clear) */
	.quad 0x000013000000ffff        /* DATA_NP */
	.quad 0x0000970000000fff        /* DATA_XD */
	.quad 0x00cf99000000ffff        /* CODE_XO */
	.quad 0x00cf9f000000ffff        /* CONF32 */
	.quad 0                         /* GATE_SEL (tss32_init) */
	.quad 0x0000f300600000ff        /* UDATA_LIM */
gdt_end:
	.if gdt_end - gdt - 1 != GDT_LIMIT
	.error "GDT_LIMIT"
	.endif
gdt_ptr:
	.word GDT_LIMIT
	.long gdt
idt16_ptr:
	.word 256 * 8 - 1
	.long IDT16
idt32_ptr:
	.word 256 * 8 - 1
	.long IDT32
idt64_ptr:
	.word 256 * 16 - 1
	.long IDT64
ptr_compat32:
	.long compat32
	.word CODE32
gdt_ptr64:
	.word GDT_LIMIT
	.quad gdt
gdt_ptr_noncanonical:
	.word GDT_LIMIT
	.quad 0x0000800000000000 + gdt
sgdt_buf:
	.word 0
	.quad 0
ptr_ldt32:
	.long compat32
	.word LCODE32
ptr_ldt16:
	.long compat16
	.word LCODE16

	.balign 8
ldt:
	.quad 0x00cf9b000000ffff        /* LCODE32 */
	.quad 0x00009b000000ffff        /* LCODE16 */
	.quad 0x00cffb000000ffff        /* LUCODE32 */
	.quad 0x00cff3000000ffff        /* LUDATA */
	.quad 0x0000fb000000ffff        /* LUCODE16 */
ldt_end:

handler_ds:   .word 0
rm_int40_flags: .word 0
rm_far_cs:    .word 0
	.balign 8
fails:        .long 0
resume:       .quad 0
last_vec:     .quad 0
last_err:     .quad 0
last_ip:      .long 0
last_eip:     .quad 0
last_cs:      .quad 0
last_flags:   .quad 0
last_esp:     .quad 0
last_ss:      .quad 0
last_hss:     .long 0
last_frame:   .long 0
kern_esp:     .long 0
kern_rsp:     .quad 0
user_ds:      .long 0
user_v1:      .long 0
user_e1:      .long 0
user_v2:      .long 0
user_e2:      .long 0
user_v3:      .long 0
user_e3:      .long 0
user_esp_after: .long 0
gate_cs:      .long 0
gate_param:   .long 0
gate_ret_cs:  .long 0
gate_esp:     .long 0
gate_ss:      .long 0
gate_frame:   .long 0
conf_cs:      .long 0
compat_cs:    .quad 0
compat_val:   .quad 0
user_cs:      .quad 0
se_cs:        .quad 0
se_ss:        .quad 0
se_rsp:       .quad 0
se_flags:     .quad 0
user_ss_v:    .quad 0
	.balign 16
tss32:        .skip 104 + 0x12
	.balign 16
tss64:        .skip 104

	.section .rodata
msg_pass:     .asciz "verdict: PASS\n"
msg_fail:     .asciz "verdict: FAIL "
msg_nl:       .asciz "\n"
msg_colon:    .asciz ": "
msg_expected: .asciz " FAIL expected "
msg_unexp:    .asciz "unexpected exception "
msg_at:       .asciz " at "
