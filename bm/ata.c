/* bm/ata.c: read sectors from the primary ATA master by PIO, LBA28
 * (ATA/ATAPI-6: READ SECTORS 0x20; task file at 0x1f0-0x1f7).  Stage 3
 * has no BIOS: this is how it reaches what lies beyond stage 1's load. */
#include "bm.h"

#include "cpu.h"

#define ATA_DATA 0x1f0
#define ATA_STATUS 0x1f7
#define ATA_BSY 0x80
#define ATA_DRQ 0x08
#define ATA_ERR 0x01

/* Wait for BSY to clear; 0xff is a floating bus (no controller) and a
 * drive that stays busy for ~10^7 polls counts as absent. */
static int bm_ata_wait(int drq)
{
	uint32_t spins = 10000000;
	uint8_t st;

	do
		st = bm_inb(ATA_STATUS);
	while ((st & ATA_BSY) && st != 0xff && --spins);
	if (st == 0xff || !spins || (st & ATA_ERR))
		return -1;
	return drq && !(st & ATA_DRQ) ? -1 : 0;
}

int bm_ata_read(uint32_t lba, uint32_t count, void *buf)
{
	uint16_t *p = buf;
	uint32_t n, i;

	for (; count; count -= n, lba += n) {
		n = count > 256 ? 256 : count;
		if (bm_ata_wait(0))
			return -1;
		bm_outb(0x1f6, 0xe0 | (lba >> 24 & 0x0f)); /* master, LBA */
		bm_outb(0x1f2, n & 0xff);                   /* 0 means 256 */
		bm_outb(0x1f3, lba & 0xff);
		bm_outb(0x1f4, lba >> 8 & 0xff);
		bm_outb(0x1f5, lba >> 16 & 0xff);
		bm_outb(ATA_STATUS, 0x20);
		for (i = 0; i < n; i++) {
			if (bm_ata_wait(1))
				return -1;
			__asm__ volatile("rep insw"
					 : "+D"(p), "=m"(*(char(*)[512])p)
					 : "d"(ATA_DATA), "c"(256)
					 : "memory");
		}
	}
	return 0;
}
