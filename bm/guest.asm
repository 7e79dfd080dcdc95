; bm/guest.asm: the built-in test guest.  32-bit protected mode, flat,
; paging off, entered at 0x200000 (BM_GUEST_BASE) with a
; stack below 0x400000.  Every step makes the hypervisor handle one kind
; of VM exit; the results are printed through COM1 (I/O exits).
bits 32
org 0x200000

COM1      equ 0x3f8
DEMAND    equ 0x1000000            ; outside the EPT map at launch
PML4      equ 0x380000             ; the guest's own page tables
PDPT      equ PML4 + 0x1000
PD        equ PML4 + 0x2000
IDT       equ PML4 + 0x3000

start:
	mov esi, msg_hello
	call puts

	; CPUID (exits unconditionally): vendor string, and VMX hidden.
	xor eax, eax
	cpuid
	mov [vendor], ebx
	mov [vendor + 4], edx
	mov [vendor + 8], ecx
	mov esi, msg_vendor
	call puts
	mov esi, vendor
	call puts
	call nl
	mov eax, 1
	cpuid
	mov [cpuid1_ecx], ecx
	mov esi, msg_vmx_hidden
	bt ecx, 5                      ; VMX
	jc .vis
	bt edx, 9                      ; APIC
	jnc .p1
.vis:	mov esi, msg_vmx_visible
.p1:	call puts

	; IN from a port nobody emulates (COM2, absent): reads all ones.
	mov dx, 0x2f8
	in al, dx
	movzx edi, al
	mov esi, msg_in
	call puts
	mov eax, edi
	call hex8
	call nl

	; WRMSR/RDMSR: IA32_SYSENTER_CS lives in the VMCS, reads back.
	mov ecx, 0x174
	mov eax, 0x1234
	xor edx, edx
	wrmsr
	xor eax, eax
	rdmsr
	mov esi, msg_msr_ok
	cmp eax, 0x1234
	je .p2
	mov esi, msg_msr_bad
.p2:	call puts
	mov ecx, 0x1b                  ; IA32_APIC_BASE
	rdmsr
	mov esi, msg_apic
	call puts
	call hex32
	call nl

	; MOV to CR0 setting CD: a host-owned bit, so it exits; the guest
	; then reads its own value back through the read shadow.
	mov eax, cr0
	or eax, 1 << 30
	mov cr0, eax
	mov ebx, cr0
	and eax, ~(1 << 30)
	mov cr0, eax
	mov esi, msg_cr0_ok
	bt ebx, 30
	jc .p3
	mov esi, msg_cr0_bad
.p3:	call puts
	; MOV to/from CR3 (CR3-load exiting).
	mov eax, 0x345000
	mov cr3, eax
	mov ebx, cr3
	mov esi, msg_cr3_ok
	cmp ebx, eax
	je .p4
	mov esi, msg_cr3_bad
.p4:	call puts

	; XSETBV, when CPUID says XSAVE (CPUID.1:ECX bit 26).
	mov esi, msg_no_xsave
	bt dword [cpuid1_ecx], 26
	jnc .p5
	mov eax, cr4
	or eax, 1 << 18                ; CR4.OSXSAVE
	mov cr4, eax
	xor ecx, ecx
	xor edx, edx
	mov eax, 1                     ; XCR0 = x87 only
	xsetbv
	mov esi, msg_xsetbv
.p5:	call puts

	; A write outside the EPT map: the host maps the page on demand
	; and the instruction is retried.
	mov dword [DEMAND], 0xcafef00d
	mov eax, [DEMAND]
	mov esi, msg_ept_ok
	cmp eax, 0xcafef00d
	je .p6
	mov esi, msg_ept_bad
.p6:	call puts

	; Long mode, the way a 64-bit kernel's startup code enters it:
	; identity page tables (2 MiB pages, 1 GiB), CR4.PAE (no exit),
	; CR3 (exit), EFER.LME through WRMSR (exit), CR0.PG (no exit: the
	; CPU activates IA-32e mode in VMX non-root operation itself), then
	; a far jump to a 64-bit code segment.
	mov edi, PML4
	xor eax, eax
	mov ecx, 4 * 1024              ; page tables and the IDT
	rep stosd
	mov dword [PML4], PDPT + 3
	mov dword [PDPT], PD + 3
	mov edi, PD
	mov eax, 0x83                  ; P, RW, PS
	mov ecx, 512
.pd:	mov [edi], eax
	add eax, 0x200000
	add edi, 8
	loop .pd
	mov eax, cr4
	or eax, 1 << 5                 ; CR4.PAE
	mov cr4, eax
	mov eax, PML4
	mov cr3, eax
	mov ecx, 0xc0000080            ; IA32_EFER
	rdmsr
	or eax, 1 << 8                 ; LME
	wrmsr
	lgdt [gdt64_ptr]
	mov eax, cr0
	or eax, 1 << 31                ; CR0.PG
	mov cr0, eax
	jmp 0x08:long64

bits 64
long64:
	mov ecx, 0xc0000080
	rdmsr
	lea rsi, [rel msg_long]
	bt eax, 10                     ; EFER.LMA
	jc .p7
	lea rsi, [rel msg_long_bad]
.p7:	call puts64
	; WRMSR IA32_GS_BASE (kept in the VMCS), then a GS-relative load.
	mov ecx, 0xc0000101
	lea rax, [rel gs_magic]
	mov rdx, rax
	shr rdx, 32
	wrmsr
	lea rsi, [rel msg_gs_ok]
	cmp dword [gs:0], 0x600df00d
	je .p8
	lea rsi, [rel msg_gs_bad]
.p8:	call puts64
	; Interrupts: program the (virtual) PIC for vectors 0x30-0x3f with
	; only IRQ0 unmasked, an IDT gate for 0x30, then wait for three
	; timer ticks.  The host injects each tick it takes from the PIT.
	mov al, 0x11                   ; ICW1: edge, cascade, ICW4 follows
	out 0x20, al
	out 0xa0, al
	mov al, 0x30                   ; ICW2: vector bases
	out 0x21, al
	mov al, 0x38
	out 0xa1, al
	mov al, 4                      ; ICW3: slave on IRQ2
	out 0x21, al
	mov al, 2
	out 0xa1, al
	mov al, 1                      ; ICW4: 8086 mode
	out 0x21, al
	out 0xa1, al
	mov al, 0xfe                   ; OCW1: IRQ0 only
	out 0x21, al
	mov al, 0xff
	out 0xa1, al
	lea rax, [rel tick]
	mov edi, IDT + 0x30 * 16
	mov [rdi], ax                  ; offset 15:0
	mov word [rdi + 2], 0x08       ; selector
	mov word [rdi + 4], 0x8e00     ; present, DPL 0, interrupt gate
	shr rax, 16
	mov [rdi + 6], ax              ; offset 31:16
	shr rax, 16
	mov [rdi + 8], eax             ; offset 63:32
	lidt [rel idt64_ptr]
	; First about two PIT periods with IF=0: the tick that arrives
	; exits to the host, which must hold it until the STI below opens
	; the interrupt window.  (STI; CLI: Bochs 2.7 arms INTR exits in a
	; guest on an IF change only.)
	sti
	cli
	mov ecx, 4000000
.spin:	dec ecx
	jnz .spin
	sti
.wait:	hlt                            ; IF=1: sleeps until the next tick
	cmp dword [rel ticks], 3
	jb .wait
	cli
	lea rsi, [rel msg_ticks]
	call puts64

	lea rsi, [rel msg_bye]
	call puts64
.halt:	hlt                            ; IF=0: the end
	jmp .halt

tick:	inc dword [rel ticks]
	push rax
	mov al, 0x20                   ; EOI (ignored by the host's PIC model)
	out 0x20, al
	pop rax
	iretq

puts64:	lodsb
	test al, al
	jz .done
	mov bl, al
	mov dx, COM1 + 5
.w:	in al, dx
	test al, 0x20
	jz .w
	mov al, bl
	mov dx, COM1
	out dx, al
	jmp puts64
.done:	ret
bits 32

; puts: NUL-terminated string at ESI to COM1, polling LSR.THRE.
puts:	lodsb
	test al, al
	jz .done
	call putc
	jmp puts
.done:	ret

putc:	push eax
	mov dx, COM1 + 5
.w:	in al, dx
	test al, 0x20
	jz .w
	pop eax
	mov dx, COM1
	out dx, al
	ret

nl:	mov al, 10
	jmp putc

; hex32: EAX in hex; hex8: AL in hex.
hex32:	mov ecx, 8
	mov ebx, eax
.l:	rol ebx, 4
	mov eax, ebx
	call hexdigit
	loop .l
	ret
hex8:	mov ebx, eax
	shl ebx, 24
	mov ecx, 2
	jmp hex32.l
hexdigit:
	and al, 15
	add al, '0'
	cmp al, '9'
	jbe putc
	add al, 'a' - '9' - 1
	jmp putc

msg_hello:       db "guest: hello from VMX non-root", 10, 0
msg_vendor:      db "guest: cpuid vendor ", 0
msg_vmx_hidden:  db "guest: cpuid.1 VMX and APIC hidden", 10, 0
msg_vmx_visible: db "guest: cpuid.1 VMX or APIC VISIBLE", 10, 0
msg_in:          db "guest: in 0x2f8 = ", 0
msg_msr_ok:      db "guest: wrmsr/rdmsr SYSENTER_CS ok", 10, 0
msg_msr_bad:     db "guest: wrmsr/rdmsr SYSENTER_CS MISMATCH", 10, 0
msg_apic:        db "guest: rdmsr APIC_BASE = ", 0
msg_cr0_ok:      db "guest: mov cr0 (CD) exited, shadow ok", 10, 0
msg_cr0_bad:     db "guest: mov cr0 shadow MISMATCH", 10, 0
msg_cr3_ok:      db "guest: mov cr3 ok", 10, 0
msg_cr3_bad:     db "guest: mov cr3 MISMATCH", 10, 0
msg_xsetbv:      db "guest: xsetbv ok", 10, 0
msg_no_xsave:    db "guest: no XSAVE, xsetbv skipped", 10, 0
msg_ept_ok:      db "guest: EPT on-demand page ok", 10, 0
msg_ept_bad:     db "guest: EPT on-demand page MISMATCH", 10, 0
msg_ticks:       db "guest: 3 timer interrupts at vector 0x30 (HLT until each)", 10, 0
msg_long:        db "guest: long mode active (EFER.LMA=1)", 10, 0
msg_long_bad:    db "guest: long mode NOT active", 10, 0
msg_gs_ok:       db "guest: wrmsr GS_BASE ok", 10, 0
msg_gs_bad:      db "guest: wrmsr GS_BASE MISMATCH", 10, 0
msg_bye:         db "guest: done, halting", 10, 0

align 8
gdt64:	dq 0
	dq 0x00209a0000000000          ; 0x08: 64-bit code
	dq 0x00cf92000000ffff          ; 0x10: data (SS for IRETQ)
gdt64_ptr:
	dw gdt64_ptr - gdt64 - 1
	dd gdt64
idt64_ptr:
	dw 0xfff
	dq IDT
align 4
gs_magic:   dd 0x600df00d
ticks:      dd 0
cpuid1_ecx: dd 0
vendor:     times 13 db 0
