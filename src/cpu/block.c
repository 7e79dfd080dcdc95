/* The decoded-instruction cache (cpu.h "Decoded-instruction cache"):
 * blocks of straight-line code keyed by physical address and decoding
 * mode, 2-way sets, chaining between blocks, and the decode-time
 * replacement of x87/MMX/SSE opcodes that fault under CR0.TS/EM or
 * without CR4.OSFXSR. */
#include "cpu/cpu.h"

#include <errno.h>
#include <stdlib.h>

/* The block for tag: a 2-way set (slots 2i, 2i+1) looked up in the
 * compact tag array; on a miss, returns the way to refill. */
static inline struct block *block_slot(struct cpu *c, uint64_t pa,
				       uint64_t tag, bool *hit)
{
	unsigned set = (unsigned)((pa * 0x9e3779b97f4a7c15ull) >>
				  (64 - BLK_BITS)) & ~1u;
	unsigned way;

	if (c->blk_tags[set] == tag) {
		way = 0;
	} else if (c->blk_tags[set + 1] == tag) {
		way = 1;
	} else {
		*hit = false;
		way = c->blk_lru[set / 2];
		c->blk_lru[set / 2] = (uint8_t)(way ^ 1);
		return &c->blocks[set + way];
	}
	*hit = true;
	c->blk_lru[set / 2] = (uint8_t)(way ^ 1);
	return &c->blocks[set + way];
}

static inline void set_block_tag(struct cpu *c, struct block *b, uint64_t tag)
{
	b->tag = tag;
	c->blk_tags[b - c->blocks] = tag;
}

void cpu_update_fpu_trap(struct cpu *c)
{
	bool t = (c->cr0 & (CR0_TS | CR0_EM)) || !(c->cr4 & CR4_OSFXSR);

	if (t != c->fpu_trap) {
		c->fpu_trap = t;
		c->blk = NULL;  /* leave the block decoded under the old state */
		c->epoch++;     /* and every chain */
	}
}

static bool sse_op(unsigned op)
{
	return (op >= 0x110 && op <= 0x117) || (op >= 0x128 && op <= 0x12f) ||
	       (op >= 0x150 && op <= 0x17f) || op == 0x1c2 ||
	       (op >= 0x1c4 && op <= 0x1c6) || op >= 0x1d0;
}

/* With fpu_trap: the opcode d runs as, by the "Protected Mode
 * Exceptions" of SDM Vol. 2: x87 and FXSAVE/FXRSTOR #NM under EM or TS
 * (WAIT: TS with MP); MMX #UD under EM, #NM under TS; SSE and
 * LDMXCSR/STMXCSR also #UD without CR4.OSFXSR. */
static uint16_t fpu_checked_op(const struct cpu *c, const struct dec_insn *d)
{
	unsigned op = d->op, r = d->reg & 7;
	bool em = c->cr0 & CR0_EM, ts = c->cr0 & CR0_TS;
	bool mmx, sse;

	if (op >= DEC_MAP_0F38) /* none here; DEC_OP_UD stays */
		return (uint16_t)op;
	if ((op >= 0x0d8 && op <= 0x0df) ||
	    (op == 0x1ae && d->mod != 3 && r < 2))
		return em || ts ? CPU_OP_NM : (uint16_t)op;
	if (op == 0x09b)
		return ts && (c->cr0 & CR0_MP) ? CPU_OP_NM : (uint16_t)op;
	sse = sse_op(op) || (op == 0x1ae && d->mod != 3 && (r == 2 || r == 3));
	if (!sse)
		return (uint16_t)op;
	mmx = op == 0x177 || ((dec_attrs[op].flags & DF_MMX) &&
			      d->pfx == DEC_PFX_NONE);
	if (em || (!mmx && !(c->cr4 & CR4_OSFXSR)))
		return DEC_OP_UD;
	return ts ? CPU_OP_NM : (uint16_t)op;
}

/* Decodes the run of instructions at pa (host p, avail bytes to the page
 * end) into b.  Returns the number decoded (0: the first one crosses the
 * page end or is malformed). */
static unsigned build_block(struct cpu *c, struct block *b, const uint8_t *p,
			    unsigned avail)
{
	unsigned n = 0, off = 0;

	while (n < BLK_INSNS && off < avail) {
		struct dec_insn *d = &b->d[n];
		uint16_t op;

		if (dec_decode(d, p + off, avail - off, c->mode))
			break;
		if (c->fpu_trap)
			d->op = fpu_checked_op(c, d);
		off += d->len;
		n++;
		c->st_decoded++;
		op = d->op;
		/* Stop after unconditional transfers: what follows is
		 * often data or padding. */
		if (op == 0x0e9 || op == 0x0eb || op == 0x0c3 || op == 0x0c2 ||
		    op == 0x0cf || op == 0x0cb || op == 0x0ca || op == 0x10b ||
		    op == 0x0f4 || op == DEC_OP_UD)
			break;
		/* Also after conditional branches and calls: the rest is
		 * decoded when (and if) execution falls through to it. */
		if ((op >= 0x070 && op <= 0x07f) || (op >= 0x180 && op <= 0x18f) ||
		    op == 0x0e8 || op == 0x0ff || (op >= 0x0e0 && op <= 0x0e3))
			break;
	}
	return n;
}

/* A taken branch or a block end: follow a chain, else look up (and
 * maybe build) the block at rip. */
__attribute__((noinline)) const struct dec_insn *
cpu_fetch_lookup(struct cpu *c, struct dec_insn *tmp)
{
	uint64_t la = c->rip, pa, tag;
	unsigned avail;
	const uint8_t *p;
	struct block *b = c->blk;
	int ret;

	struct block *prev = b;
	bool hit;

	if (b) {
		for (int k = 0; k < 2; k++) {
			struct block *nb = b->next[k];

			if (b->next_rip[k] == c->rip &&
			    b->next_key[k] == c->epoch * 4 + c->cpl &&
			    nb->tag == b->next_tag[k]) {
				c->st_blk_chain++;
				c->blk = nb;
				c->blk_i = 1;
				c->blk_rip = c->rip + nb->d[0].len;
				return &nb->d[0];
			}
		}
	}
	c->blk = NULL;
	if (c->mode != DEC_MODE64)
		la = (la + c->seg[S_CS].base) & 0xffffffffull;
	p = cpu_fetch_ptr(c, la, &pa, &avail);
	if (!p)
		cpu_raise(c, EXC_GP, 0, true); /* fetch from MMIO */
	tag = pa | ((uint64_t)c->blk_gen << 48) | ((uint64_t)c->mode << 56) |
	      ((uint64_t)c->fpu_trap << 63);
	b = block_slot(c, pa, tag, &hit);
	if (hit) {
		c->st_blk_hit++;
	} else {
		c->st_blk_miss++;
		if (b->tag != BLK_EMPTY)
			c->st_blk_evict++;
		cpu_mark_code(c, pa);
		set_block_tag(c, b, BLK_EMPTY);
		b->n = build_block(c, b, p, avail);
		if (b->n)
			set_block_tag(c, b, tag);
	}
	if (b->n) {
		if (prev) {
			unsigned k = (prev->chain_rr ^= 1) & 1;

			prev->next_rip[k] = c->rip;
			prev->next_tag[k] = b->tag;
			prev->next[k] = b;
			prev->next_key[k] = c->epoch * 4 + c->cpl;
		}
		c->blk = b;
		c->blk_i = 1;
		c->blk_rip = c->rip + b->d[0].len;
		return &b->d[0];
	}
	c->st_decoded++;
	ret = dec_decode(tmp, p, avail, c->mode);
	if (ret == -EAGAIN) {
		uint8_t buf[16];
		unsigned n = avail < 15 ? avail : 15;

		/* The instruction crosses a page: gather and do not cache. */
		c->st_xpage++;
		memcpy(buf, p, n);
		cpu_mem_slow(c, la + n, buf + n, 15 - n, TLB_FETCH);
		ret = dec_decode(tmp, buf, 15, c->mode);
	}
	if (!ret && c->fpu_trap)
		tmp->op = fpu_checked_op(c, tmp);
	if (!ret)
		return tmp;
	cpu_gp(c, 0);
}


/* Forgets every decoded block at once (a new generation). */
void cpu_blocks_flush(struct cpu *c)
{
	c->blk_gen = (c->blk_gen + 1) & 0xff;
	if (!c->blk_gen) /* wrapped: old tags could match again */
		for (unsigned i = 0; i < BLK_COUNT; i++)
			set_block_tag(c, &c->blocks[i], BLK_EMPTY);
	c->blk = NULL;
	c->epoch++;
}

int cpu_blocks_init(struct cpu *c)
{
	c->blocks = aligned_alloc(64, BLK_COUNT * sizeof(*c->blocks));
	c->blk_tags = calloc(BLK_COUNT, sizeof(*c->blk_tags));
	c->blk_lru = calloc(BLK_COUNT / 2, 1);
	if (!c->blocks || !c->blk_tags || !c->blk_lru) {
		cpu_blocks_free(c);
		return -ENOMEM;
	}
	memset(c->blocks, 0, BLK_COUNT * sizeof(*c->blocks));
	for (unsigned i = 0; i < BLK_COUNT; i++)
		set_block_tag(c, &c->blocks[i], BLK_EMPTY);
	return 0;
}

void cpu_blocks_free(struct cpu *c)
{
	free(c->blocks);
	free(c->blk_tags);
	free(c->blk_lru);
	c->blocks = NULL;
	c->blk_tags = NULL;
	c->blk_lru = NULL;
}
