#!/bin/sh
# bm/linux-img.sh: append a Linux payload to a copy of rax-bm.img.
# Usage: linux-img.sh [--exit-at-marker] DISK GUESTDIR
# DISK is a copy of bm/rax-bm.img (2016 sectors; the header goes to the
# sector after it, where bm/linux.c reads it); GUESTDIR holds bzImage and
# initramfs.cpio.gz (examples/build-guest.sh).  Appended: the header
# sector (bm/linux-hdr.asm, assembled with $NASM), the bzImage and the
# initramfs, each padded to whole sectors, then zeros up to whole Bochs
# cylinders (16 heads x 63 sectors).  --exit-at-marker adds
# rax.exit_at_marker to the command line: the guest's /init then reboots
# right after printing its marker, which ends the run (bm/io.c).
# Used by "make bm/rax-bm-linux.img" and tests/bm/boots-linux-to-init.test.
set -eu
here=$(dirname "$0")
extra=
if [ "${1:-}" = --exit-at-marker ]; then
	extra=-DEXIT_AT_MARKER
	shift
fi
[ $# = 2 ] || { echo "usage: $0 [--exit-at-marker] DISK GUESTDIR" >&2; exit 2; }
disk=$1 dir=${2%/}
for f in "$dir/bzImage" "$dir/initramfs.cpio.gz"; do
	[ -f "$f" ] || { echo "bm: $f missing" >&2; exit 1; }
done
size=$(wc -c < "$disk")
[ $(( size % 512 )) = 0 ] || { echo "bm: $disk is not whole sectors" >&2; exit 1; }
k=$(wc -c < "$dir/bzImage")
i=$(wc -c < "$dir/initramfs.cpio.gz")
hdr_lba=$(( size / 512 ))
kernel_lba=$(( hdr_lba + 1 ))
initrd_lba=$(( kernel_lba + (k + 511) / 512 ))
${NASM:-nasm} -f bin -o "$disk.hdr" $extra -DKERNEL_LBA=$kernel_lba \
	-DKERNEL_SIZE="$k" -DINITRD_LBA=$initrd_lba -DINITRD_SIZE="$i" \
	"$here/linux-hdr.asm"
{
	cat "$disk.hdr"
	dd if="$dir/bzImage" bs=512 conv=sync 2>/dev/null
	dd if="$dir/initramfs.cpio.gz" bs=512 conv=sync 2>/dev/null
} >> "$disk"
rm -f "$disk.hdr"
cyls=$(( ($(wc -c < "$disk") / 512 + 1007) / 1008 ))
dd if=/dev/null of="$disk" bs=512 seek=$(( cyls * 1008 )) 2>/dev/null
echo "bm: $disk: Linux payload from $dir, $cyls cylinders"
