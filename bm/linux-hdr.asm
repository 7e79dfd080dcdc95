; bm/linux-hdr.asm: the header sector of a Linux payload (bm/linux.c,
; struct bm_linux_hdr), at LBA 2016 of bm/rax-bm-linux.img.  bm/linux-img.sh
; passes the sector numbers and sizes with -D, and EXIT_AT_MARKER for the
; test run (the guest's /init reboots after its marker).
	db "RAXBMLNX"
	dd KERNEL_LBA, KERNEL_SIZE, INITRD_LBA, INITRD_SIZE
cmdline:
	db "console=ttyS0 earlyprintk=serial,ttyS0,115200 nolapic noapic "
	db "tsc=reliable lpj=1000000 rdinit=/init"
%ifdef EXIT_AT_MARKER
	db " rax.exit_at_marker"
%endif
	db 0
	times 512 - ($ - $$) db 0
