/* The ACPI fixed hardware rax's board has (acpipm.c) and the firmware
 * tables describe (src/loader/acpi.c): where its register blocks are,
 * the SCI line and the sleep type that means S5.  Both sides take the
 * values from here, so the FADT and the DSDT's \_S5 cannot disagree with
 * the device.  Freestanding (no includes). */
#ifndef RAX_ACPIPM_H
#define RAX_ACPIPM_H

/* PM1a event block (PM1_STS, PM1_EN: 2 bytes each), PM1a control block
 * (2 bytes) and the PM timer (4 bytes) in I/O space, where QEMU's PIIX4
 * and ICH9 put theirs.  ACPI 6.0 §4.8.3.1-4.8.3.3. */
#define ACPIPM_BASE 0x600
#define ACPIPM_EVT (ACPIPM_BASE + 0)
#define ACPIPM_EVT_LEN 4
#define ACPIPM_CNT (ACPIPM_BASE + 4)
#define ACPIPM_CNT_LEN 2
#define ACPIPM_TMR (ACPIPM_BASE + 8)
#define ACPIPM_TMR_LEN 4
#define ACPIPM_PORTS 12

/* The SCI: ISA IRQ 9, which is GSI 9 (FADT SCI_INT, ACPI 6.0 §5.2.9). */
#define ACPIPM_SCI_IRQ 9

/* SLP_TYPx values (PM1_CNT bits 12:10) the \_S5 package gives: the
 * device powers the machine off when software writes this with SLP_EN
 * (ACPI 6.0 §7.4.2 "\_Sx (System States)", §4.8.3.2.1). */
#define ACPIPM_SLP_TYP_S5 5

/* The PM timer runs at 3.579545 MHz (§4.8.3.3) and is 24 bits wide
 * (FADT flag TMR_VAL_EXT clear). */
#define ACPIPM_TMR_HZ 3579545ull
#define ACPIPM_TMR_BITS 24

#endif
