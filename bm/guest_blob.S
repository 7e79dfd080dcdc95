/* bm/guest_blob.S: the built-in test guest (bm/guest.asm, assembled by
 * NASM into guest.bin in the build tree) as data; stage 3 copies it to
 * BM_GUEST_BASE. */
	.section .rodata
	.globl bm_guest_blob, bm_guest_blob_end
	.balign 16
bm_guest_blob:
	.incbin "guest.bin"
bm_guest_blob_end:

	.section .note.GNU-stack, "", @progbits
