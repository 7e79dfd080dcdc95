; bm/stage1.asm: the boot sector.  The BIOS loads it at 0x7c00 with the boot
; drive in DL.  It prints a banner, enables A20, loads BM_SECTORS sectors
; (stage 2 + stage 3, given with -DBM_SECTORS by the build) from LBA 1 to
; BM_STAGE2 with INT 13h AH=42h, and jumps there with DL still the drive.
bits 16
org 0x7c00
%include "layout.inc"

start:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, BM_STAGE1
	jmp 0:.cs0                  ; some BIOSes enter at 07c0:0000
.cs0:	sti
	cld
	mov [drive], dl
	mov word [BM_HANDOFF], 0
	call serial_init
	mov si, msg_banner
	call print

	; A20: fast A20 (port 0x92 bit 1, never touch bit 0 = reset), then
	; ask the BIOS too (INT 15h AX=2401h); either is enough.
	in al, 0x92
	or al, 2
	and al, 0xfe
	out 0x92, al
	mov ax, 0x2401
	int 0x15

	; INT 13h extensions present? (AH=41h, BX=55AAh -> BX=AA55h, CF=0)
	mov ah, 0x41
	mov bx, 0x55aa
	mov dl, [drive]
	int 0x13
	jc no_ext
	cmp bx, 0xaa55
	jne no_ext

	; Read in chunks of at most 64 sectors (32 KiB, one segment step).
	mov cx, BM_SECTORS
.next:	mov ax, cx
	cmp ax, 64
	jbe .n
	mov ax, 64
.n:	mov [dap.count], ax
	mov si, dap
	mov ah, 0x42
	mov dl, [drive]
	push cx
	int 0x13
	pop cx
	jc disk_err
	mov ax, [dap.count]
	sub cx, ax
	add [dap.lba], ax
	shl ax, 5                   ; sectors -> paragraphs
	add [dap.seg], ax
	test cx, cx
	jnz .next

	mov si, msg_jump
	call print
	mov dl, [drive]
	jmp 0:BM_STAGE2

no_ext:	mov si, msg_noext
	jmp fail
disk_err:
	mov si, msg_disk
fail:	call print
.h:	cli
	hlt
	jmp .h

; COM1: 115200 8N1, FIFO on (PC16550D datasheet, registers at 0x3f8..0x3ff).
serial_init:
	mov dx, COM1 + 1
	xor al, al
	out dx, al                  ; no interrupts
	mov dx, COM1 + 3
	mov al, 0x80
	out dx, al                  ; DLAB
	mov dx, COM1
	mov al, 1
	out dx, al                  ; divisor 1 = 115200
	inc dx
	xor al, al
	out dx, al
	mov dx, COM1 + 3
	mov al, 3
	out dx, al                  ; 8N1
	mov dx, COM1 + 2
	mov al, 0xc7
	out dx, al                  ; FIFO enable + clear
	mov dx, COM1 + 4
	mov al, 3
	out dx, al                  ; DTR, RTS
	ret

; print: NUL-terminated string at DS:SI to the BIOS teletype and to COM1.
print:	lodsb
	test al, al
	jz .done
	push ax
	mov dx, COM1 + 5
.wait:	in al, dx
	test al, 0x20               ; LSR.THRE
	jz .wait
	pop ax
	mov dx, COM1
	out dx, al
	mov ah, 0x0e
	xor bx, bx
	int 0x10
	jmp print
.done:	ret

msg_banner: db "rax-bm: bare-metal VT-x hypervisor (stage 1)", 13, 10, 0
msg_jump:   db "stage 1: loaded, jumping to stage 2", 13, 10, 0
msg_noext:  db "stage 1: no INT 13h extensions", 13, 10, 0
msg_disk:   db "stage 1: disk read error", 13, 10, 0
drive:      db 0

align 4
dap:	db 16, 0                    ; size, reserved
.count:	dw 0
	dw 0                        ; offset
.seg:	dw BM_STAGE2 >> 4
.lba:	dq 1

	times 446 - ($ - $$) db 0
	; One partition entry so BIOSes that insist on an MBR boot us.
	db 0x80, 0, 2, 0, 0xda, 0, 0xff, 0xff
	dd 1, 2015                  ; LBA 1 .. end of the 2016-sector image
	times 510 - ($ - $$) db 0
	dw 0xaa55
