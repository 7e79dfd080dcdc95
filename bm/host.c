/* bm/host.c: the host's descriptor tables.  VM exits load TR, GDTR and
 * IDTR from the VMCS host-state area (SDM Vol. 3 §28.5), so the host
 * needs a real TSS (TR may not be 0, §27.2.3) and an IDT whose exception
 * entries report a host fault instead of triple-faulting. */
#include "bm.h"

#include "console.h"

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS 0x18

/* 64-bit TSS, SDM Vol. 3 §9.7 Figure 9-11. */
struct bm_tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct bm_tss) == 104, "64-bit TSS is 104 bytes");

/* 64-bit interrupt gate, SDM Vol. 3 §7.14.1 Figure 7-8. */
struct bm_idt_gate {
	uint16_t off_lo, sel;
	uint8_t ist, type;
	uint16_t off_mid;
	uint32_t off_hi, reserved;
};
_Static_assert(sizeof(struct bm_idt_gate) == 16, "64-bit gate is 16 bytes");

struct bm_desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));
_Static_assert(sizeof(struct bm_desc_ptr) == 10, "GDTR/IDTR image");

static struct bm_tss bm_tss;
/* VM exits set the IDTR limit to 0xffff (§28.5.2): keep all 256 gates. */
static struct bm_idt_gate bm_idt[256] __attribute__((aligned(16)));
static uint64_t bm_gdt[5] __attribute__((aligned(16))) = {
	0,
	0x00209a0000000000, /* 0x08: 64-bit code, DPL 0 */
	0x0000920000000000, /* 0x10: data */
	0, 0,               /* 0x18: TSS, filled in below */
};

/* The frame isr_common (entry.S) builds: vector, error code (0 when the
 * CPU pushes none), then what the CPU pushed. */
struct bm_fault {
	uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

_Noreturn void bm_host_fault(struct bm_fault *f);
_Noreturn void bm_host_fault(struct bm_fault *f)
{
	uint64_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	bm_panic("host exception %lu error %lx at rip %lx rsp %lx cr2 %lx",
		 f->vector, f->error, f->rip, f->rsp, cr2);
}

void bm_host_tables_load(struct bm_host_tables *t)
{
	uint64_t tss = (uint64_t)&bm_tss, stub;
	struct bm_desc_ptr gdtr = { sizeof(bm_gdt) - 1, (uint64_t)bm_gdt };
	struct bm_desc_ptr idtr = { sizeof(bm_idt) - 1, (uint64_t)bm_idt };
	int v;

	/* Available 64-bit TSS (type 9), present; §8.2.3 Figure 8-4. */
	bm_tss.iomap_base = sizeof(bm_tss);
	bm_gdt[3] = (sizeof(bm_tss) - 1) | (tss & 0xffffff) << 16 |
		    0x89ULL << 40 | (tss >> 24 & 0xff) << 56;
	bm_gdt[4] = tss >> 32;
	for (v = 0; v < 32; v++) {
		stub = (uint64_t)bm_isr_stubs + 16 * v;
		bm_idt[v] = (struct bm_idt_gate){
			.off_lo = stub & 0xffff, .sel = SEL_CODE,
			.type = 0x8e, /* present, DPL 0, interrupt gate */
			.off_mid = stub >> 16 & 0xffff, .off_hi = stub >> 32,
		};
	}
	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\tmov %2, %%eax\n\t"
			 "mov %%eax, %%ds\n\tmov %%eax, %%es\n\t"
			 "mov %%eax, %%ss\n\tmov %%eax, %%fs\n\t"
			 "mov %%eax, %%gs\n\t"
			 "ltr %w3\n\t"
			 "lidt %4"
			 : : "m"(gdtr), "i"(SEL_CODE), "i"(SEL_DATA),
			   "r"(SEL_TSS), "m"(idtr) : "rax", "memory");
	t->gdt_base = (uint64_t)bm_gdt;
	t->idt_base = (uint64_t)bm_idt;
	t->tr_base = tss;
}
