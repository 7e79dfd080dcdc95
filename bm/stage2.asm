; bm/stage2.asm: the hypervisor loader.  Stage 1 jumps here in real mode.
; It checks long mode and VMX, enables VMX in IA32_FEATURE_CONTROL, builds
; identity page tables (2 MiB pages, first 4 GiB), enters long mode
; directly from real mode, adjusts CR0/CR4 to the VMX fixed bits, executes
; VMXON and jumps to stage 3 (C) at BM_STAGE3.  SDM references are to the
; Intel SDM Vol. 3 (2023 numbering).
bits 16
org 0x8000
%include "layout.inc"

MSR_FEATURE_CONTROL equ 0x3a
MSR_VMX_BASIC       equ 0x480
MSR_VMX_CR0_FIXED0  equ 0x486
MSR_VMX_CR4_FIXED0  equ 0x488
MSR_EFER            equ 0xc0000080

start16:
	cli
	xor ax, ax
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov sp, BM_STAGE1
	; Continue VGA output where the BIOS teletype left its cursor.
	mov ah, 3
	xor bh, bh
	int 0x10
	movzx ax, dh
	imul ax, 80
	movzx dx, dl
	add ax, dx
	mov [BM_HANDOFF], ax
	cli
	mov si, msg_stage2
	call print16

	; Long mode: CPUID.80000001h:EDX.LM[29] (SDM Vol. 3 §10.8.5).
	mov eax, 0x80000000
	cpuid
	cmp eax, 0x80000001
	jb .nolm
	mov eax, 0x80000001
	cpuid
	bt edx, 29
	jnc .nolm

	; VMX: CPUID.1:ECX.VMX[5] (SDM Vol. 3 §24.6).
	mov eax, 1
	cpuid
	bt ecx, 5
	jnc .novmx

	; IA32_FEATURE_CONTROL (SDM Vol. 3 §24.7): bit 0 lock, bit 2 VMXON
	; outside SMX.  Locked without bit 2: VMXON would #GP.
	mov ecx, MSR_FEATURE_CONTROL
	rdmsr
	test al, 1
	jz .unlocked
	test al, 4
	jz .fwoff
	jmp .vmx_ok
.unlocked:
	or eax, 5
	wrmsr
.vmx_ok:
	mov si, msg_vtx
	call print16

	; A20 must really be on: stage 1 asked port 0x92 and the BIOS; if
	; 0000:0600 and FFFF:0610 (1 MiB higher) still alias, try the 8042
	; keyboard controller (command 0xd1: write output port, bit 1 = A20).
	call a20_on
	je .a20ok
	call kbc_wait
	mov al, 0xd1
	out 0x64, al
	call kbc_wait
	mov al, 0xdf
	out 0x60, al
	call kbc_wait
	call a20_on
	je .a20ok
	mov si, msg_a20
	jmp fail16
.a20ok:

	; Identity map 4 GiB with 2 MiB pages (SDM Vol. 3 §4.5).
	mov ax, BM_HOST_PML4 >> 4
	mov es, ax
	xor di, di
	xor eax, eax
	mov cx, 0x6000 / 4
	rep stosd
	mov dword [es:0], BM_HOST_PDPT + 3
	mov di, BM_HOST_PDPT - BM_HOST_PML4
	mov eax, BM_HOST_PD + 3
	mov cx, 4
.pdpt:	mov [es:di], eax
	add di, 8
	add eax, 0x1000
	loop .pdpt
	mov di, BM_HOST_PD - BM_HOST_PML4
	mov eax, 0x83               ; P, RW, PS
	mov cx, 2048
.pd:	mov [es:di], eax
	add di, 8
	add eax, 0x200000
	loop .pd
	xor ax, ax
	mov es, ax

	; Real mode straight to long mode (SDM Vol. 3 §10.8.5): PAE, CR3,
	; EFER.LME, then CR0.PE|PG together, then a far jump to a 64-bit CS.
	lgdt [gdtr]
	lidt [idtr0]
	mov eax, cr4
	or eax, 0x20
	mov cr4, eax
	mov eax, BM_HOST_PML4
	mov cr3, eax
	mov ecx, MSR_EFER
	rdmsr
	or eax, 0x100
	wrmsr
	mov eax, cr0
	and eax, ~0x60000000        ; caches on: clear CD, NW
	or eax, 0x80000001
	mov cr0, eax
	jmp 0x08:long64

.nolm:	mov si, msg_nolm
	jmp fail16
.novmx:	mov si, msg_novmx
	jmp fail16
.fwoff:	mov si, msg_fwoff
fail16:	call print16
	mov dx, COM1 + 5
.drain:	in al, dx
	test al, 0x40               ; LSR.TEMT: let the UART drain first
	jz .drain
	mov dx, 0x8900              ; Bochs/QEMU shutdown port
	mov si, msg_shutdown
.s:	lodsb
	test al, al
	jz .h
	out dx, al
	jmp .s
.h:	cli
	hlt
	jmp .h

; a20_on: ZF=1 if A20 is enabled (a write at 0000:0600, free low memory,
; does not show at FFFF:0610, its alias when address bit 20 is masked).
a20_on:
	push es
	mov ax, 0xffff
	mov es, ax
	mov byte [0x600], 0x00
	mov byte [es:0x610], 0xff
	cmp byte [0x600], 0x00
	pop es
	ret

; kbc_wait: until the 8042's input buffer is empty (status bit 1).
kbc_wait:
	in al, 0x64
	test al, 2
	jnz kbc_wait
	ret

; print16: NUL-terminated string at DS:SI to COM1 and VGA text memory.
print16:
	lodsb
	test al, al
	jz .done
	call putc16
	jmp print16
.done:	ret

putc16:	push ax
	cmp al, 10
	jne .c
	mov al, 13
	call serial16
.c:	pop ax
	push ax
	call serial16
	pop ax
	push es
	push bx
	mov bx, 0xb800
	mov es, bx
	mov bx, [BM_HANDOFF]
	cmp al, 10
	je .nl
	shl bx, 1
	mov ah, 0x07
	mov [es:bx], ax
	shr bx, 1
	inc bx
	jmp .sc
.nl:	mov ax, bx
	xor dx, dx
	mov bx, 80
	div bx
	inc ax
	mul bx
	mov bx, ax
.sc:	cmp bx, 2000
	jb .st
	; scroll one row
	push ds
	push si
	push di
	push cx
	mov cx, 0xb800
	mov ds, cx
	xor di, di
	mov si, 160
	mov cx, 80 * 24
	rep movsw
	mov ax, 0x0720
	mov cx, 80
	rep stosw
	pop cx
	pop di
	pop si
	pop ds
	mov bx, 80 * 24
.st:	mov [BM_HANDOFF], bx
	pop bx
	pop es
	ret

serial16:
	push dx
	push ax
	mov dx, COM1 + 5
.w:	in al, dx
	test al, 0x20
	jz .w
	pop ax
	mov dx, COM1
	out dx, al
	pop dx
	ret

bits 64
long64:
	mov ax, 0x10
	mov ds, ax
	mov es, ax
	mov ss, ax
	mov fs, ax
	mov gs, ax
	mov rsp, BM_STACK_TOP
	lea rsi, [rel msg_lm]
	call print64

	; CR0/CR4 must match IA32_VMX_CR0/CR4_FIXED0 (bits fixed to 1) and
	; FIXED1 (bits allowed to be 1) before VMXON (SDM Vol. 3 §24.8,
	; App. A.7/A.8).  CR4.VMXE is among the CR4 fixed-1 bits.
	mov ecx, MSR_VMX_CR0_FIXED0
	rdmsr
	mov rbx, cr0
	or ebx, eax
	inc ecx
	rdmsr
	and ebx, eax
	mov cr0, rbx
	mov ecx, MSR_VMX_CR4_FIXED0
	rdmsr
	mov rbx, cr4
	or ebx, eax
	or ebx, 1 << 13             ; CR4.VMXE
	inc ecx
	rdmsr
	and ebx, eax
	mov cr4, rbx

	; VMXON region: 4 KiB, revision id from IA32_VMX_BASIC[30:0]
	; (SDM Vol. 3 §25.11.5).
	mov edi, BM_VMXON
	xor eax, eax
	mov ecx, 1024
	rep stosd
	mov ecx, MSR_VMX_BASIC
	rdmsr
	and eax, 0x7fffffff
	mov [BM_VMXON], eax
	vmxon [rel vmxon_pa]
	jc .invalid
	jz .valid
	lea rsi, [rel msg_vmxon]
	call print64
	mov rax, BM_STAGE3
	jmp rax
.invalid:
	lea rsi, [rel msg_vmxon_inv]
	jmp fail64
.valid:	lea rsi, [rel msg_vmxon_val]
fail64:	call print64
	mov dx, COM1 + 5
.drain:	in al, dx
	test al, 0x40
	jz .drain
	mov dx, 0x8900
	lea rsi, [rel msg_shutdown]
.s:	lodsb
	test al, al
	jz .h
	out dx, al
	jmp .s
.h:	cli
	hlt
	jmp .h

; print64: NUL-terminated string at RSI to COM1 and VGA text memory.
print64:
	lodsb
	test al, al
	jz .done
	cmp al, 10
	jne .c
	mov bl, al
	mov al, 13
	call serial64
	mov al, bl
.c:	call serial64
	movzx edi, word [BM_HANDOFF]
	cmp al, 10
	je .nl
	mov ah, 0x07
	mov [0xb8000 + rdi * 2], ax
	inc edi
	jmp .sc
.nl:	mov eax, edi
	xor edx, edx
	mov ecx, 80
	div ecx
	inc eax
	imul edi, eax, 80
.sc:	cmp edi, 2000
	jb .st
	push rsi
	mov esi, 0xb8000 + 160
	mov edi, 0xb8000
	mov ecx, 80 * 24
	rep movsw
	mov ax, 0x0720
	mov ecx, 80
	rep stosw
	pop rsi
	mov edi, 80 * 24
.st:	mov [BM_HANDOFF], di
	jmp print64
.done:	ret

serial64:
	push rax
	mov dx, COM1 + 5
.w:	in al, dx
	test al, 0x20
	jz .w
	pop rax
	mov dx, COM1
	out dx, al
	ret

align 8
gdt:	dq 0
	dq 0x00209a0000000000       ; 0x08: 64-bit code, DPL 0
	dq 0x0000920000000000       ; 0x10: data
gdtr:	dw gdtr - gdt - 1
	dd gdt
idtr0:	dw 0
	dd 0
vmxon_pa: dq BM_VMXON

msg_stage2:    db "stage 2: hypervisor loader", 10, 0
msg_nolm:      db "Long mode not supported by this CPU", 10, 0
msg_novmx:     db "VT-x not supported by this CPU", 10, 0
msg_fwoff:     db "VMX disabled by firmware (IA32_FEATURE_CONTROL locked)", 10, 0
msg_vtx:       db "VT-x supported", 10, 0
msg_a20:       db "A20 could not be enabled", 10, 0
msg_lm:        db "Long mode enabled", 10, 0
msg_vmxon:     db "VMXON executed successfully!", 10, 0
msg_vmxon_inv: db "VMXON failed (VMfailInvalid)", 10, 0
msg_vmxon_val: db "VMXON failed (VMfailValid)", 10, 0
msg_shutdown:  db "Shutdown", 0

%if ($ - $$) > BM_STAGE2_SIZE
%error "stage 2 exceeds BM_STAGE2_SIZE"
%endif
