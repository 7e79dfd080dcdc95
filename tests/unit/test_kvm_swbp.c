/* The KVM engine's software-breakpoint bookkeeping without /dev/kvm: an
 * int3 the guest overwrites is put back at the next exit
 * (kvm_swbp_refresh), and removing the breakpoint restores the guest's
 * newest byte, not the one seen at insertion.  The breakpoint is entered
 * the way swbp_insert() leaves it (that one needs KVM_TRANSLATE).
 * Run: ./tests/unit/test_kvm_swbp (from the build folder). */
#include <stdlib.h>

#include "kvm/kvm_int.h"
#include "mem.h"
#include "test.h"

int main(void)
{
	static struct kvm_engine k;
	struct machine m;
	uint8_t *ram;

	memset(&m, 0, sizeof(m));
	if (gm_init(&m.mem, 1u << 20)) {
		fprintf(stderr, "test_kvm_swbp: no memory\n");
		return 99;
	}
	m.engine = &k;
	ram = m.mem.host;

	/* Two breakpoints as swbp_insert() leaves them. */
	ram[0x1000] = 0x55;
	ram[0x2000] = 0x90;
	k.swbp[0] = (struct kvm_swbp){ 0xffffffff81001000ull, 0x1000, 0x55 };
	k.swbp[1] = (struct kvm_swbp){ 0xffffffff81002000ull, 0x2000, 0x90 };
	k.nswbp = 2;
	ram[0x1000] = ram[0x2000] = 0xcc;

	/* Nothing overwritten: nothing to do. */
	CHECK_EQ(kvm_swbp_refresh(&m), 0);
	CHECK_EQ(ram[0x1000], 0xcc);

	/* The guest rewrites the first page (a decompressor, say). */
	memset(ram + 0x1000, 0x48, 4096);
	CHECK_EQ(kvm_swbp_refresh(&m), 1);
	CHECK_EQ(ram[0x1000], 0xcc);
	CHECK_EQ(ram[0x1001], 0x48);
	CHECK_EQ(ram[0x2000], 0xcc);
	CHECK_EQ(kvm_swbp_refresh(&m), 0);

	/* Removing restores what the guest wrote last. */
	CHECK_EQ(kvm_bp_remove(&m, BP_SW, 0xffffffff81001000ull, 1), 0);
	CHECK_EQ(ram[0x1000], 0x48);
	CHECK_EQ(k.nswbp, 1);
	CHECK_EQ(kvm_bp_remove(&m, BP_SW, 0xffffffff81002000ull, 1), 0);
	CHECK_EQ(ram[0x2000], 0x90);
	CHECK_EQ(k.nswbp, 0);
	CHECK(kvm_bp_remove(&m, BP_SW, 0xffffffff81002000ull, 1) < 0);

	gm_destroy(&m.mem);
	return test_summary("test_kvm_swbp");
}
