/* Stand-in for src/devices/intc.c until the interrupt-controller models
 * land: no interrupt ever pends.  Delete this file (and its local.mk line)
 * when merging the real models. */
#include "devices/intc.h"

#include <stddef.h>

int intc_create(struct machine *m, struct intc **out, struct rax_err *e)
{
	*out = NULL;
	return 0;
}

void intc_destroy(struct intc *ic) { }
void intc_set_irq(struct intc *ic, unsigned gsi, int level) { }
bool intc_pending(struct intc *ic) { return false; }
int intc_ack(struct intc *ic) { return -1; }
uint64_t intc_get_cr8(struct intc *ic) { return 0; }
void intc_set_cr8(struct intc *ic, uint64_t cr8) { }
int intc_rdmsr(struct intc *ic, uint32_t msr, uint64_t *val) { return -2; }
int intc_wrmsr(struct intc *ic, uint32_t msr, uint64_t val) { return -2; }
