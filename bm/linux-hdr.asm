; bm/linux-hdr.asm: the header sector of a Linux payload (bm/linux.c,
; struct bm_linux_hdr), at LBA 2016 of bm/rax-bm-linux.img.  The build
; passes the sector numbers and sizes with -D.
	db "RAXBMLNX"
	dd KERNEL_LBA, KERNEL_SIZE, INITRD_LBA, INITRD_SIZE
cmdline:
	db "console=ttyS0 earlyprintk=serial,ttyS0,115200 nolapic noapic "
	db "tsc=reliable lpj=1000000 rdinit=/init", 0
	times 512 - ($ - $$) db 0
