#!/usr/bin/env bash
# Build the default rax guest, or with --l1 the L1 host kernel that gives
# tests/nested a real /dev/kvm inside QEMU TCG.  See examples/README-guest.md.
#
# Usage: examples/build-guest.sh [--l1] [--print-dir]
#
#   default  Linux 6.1 (tinyconfig + examples/guest.config) and a busybox
#            initramfs whose /init prints RAX-GUEST-READY and starts a shell:
#            bzImage, vmlinux (with symbols), vmlinux-gdb.py + scripts/gdb,
#            initramfs.cpio.gz, config.
#   --l1     tinyconfig + guest.config + examples/l1.config (KVM, kvm_amd) and
#            a busybox initramfs whose /init checks /dev/kvm and runs /l1-cmd:
#            bzImage, initramfs-base.cpio.gz, config.  tests/nested/run.py
#            appends rax-static and the default guest to that initramfs.
#
# Results go to ${RAX_CACHE:-$HOME/.cache/rax}/guest-<key> (l1-<key>), where
# <key> comes from examples/guest-key.sh.  A complete folder is never rebuilt:
# the script prints its path and exits.  Sources are unpacked once from
# /usr/src/linux-source-6.1.tar.xz (Debian package linux-source-6.1) into
# $RAX_CACHE/src; kernels build in $RAX_CACHE/build-guest (build-l1), so a
# changed fragment rebuilds incrementally.  Nothing is written to the checkout.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
mode=guest
print_dir=no
for arg in "$@"; do
	case $arg in
	--l1) mode=l1 ;;
	--print-dir) print_dir=yes ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-guest: unknown argument '$arg'" >&2; exit 2 ;;
	esac
done

cache=${RAX_CACHE:-$HOME/.cache/rax}
if [ $mode = l1 ]; then
	key=$(sh "$here/guest-key.sh" --l1)
	fragments="$here/guest.config $here/l1.config"
else
	key=$(sh "$here/guest-key.sh")
	fragments="$here/guest.config"
fi
out=$cache/$mode-$key
if [ $print_dir = yes ] || [ -e "$out/.complete" ]; then
	echo "$out"
	exit 0
fi

tarball=${RAX_LINUX_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
src=$cache/src/linux-source-6.1
bld=$cache/build-$mode
jobs=${RAX_JOBS:-$(nproc)}
export ARCH=x86_64	# tinyconfig then starts from a 64-bit allnoconfig
start=$(date +%s)
log() { echo "build-guest: $*" >&2; }

mkdir -p "$cache"
exec 9>"$cache/.lock-$mode"
flock 9		# one build per mode at a time; a second caller waits
if [ -e "$out/.complete" ]; then
	echo "$out"
	exit 0
fi

unpack_source() {
	[ -e "$src/.rax-unpacked" ] && return 0
	[ -r "$tarball" ] || { log "$tarball missing: apt-get install" \
		"linux-source-6.1"; exit 1; }
	log "unpacking $tarball"
	exec 8>"$cache/.lock-src"
	flock 8
	[ -e "$src/.rax-unpacked" ] && return 0
	rm -rf "$src" "$cache/src/.unpack"
	mkdir -p "$cache/src/.unpack"
	tar -xJf "$tarball" -C "$cache/src/.unpack"
	mv "$cache/src/.unpack/linux-source-6.1" "$src"
	rmdir "$cache/src/.unpack"
	touch "$src/.rax-unpacked"
}

# Every line of the fragments must be in the final .config (the last
# fragment wins when two set the same symbol): Kconfig silently drops a
# value whose dependencies are not met.
check_config() {
	# shellcheck disable=SC2086
	awk -v cfg="$bld/.config" '
	FILENAME != cfg && /^CONFIG_[A-Za-z0-9_]+=/ {
		s = $0; sub(/=.*/, "", s); want[s] = $0; next }
	FILENAME != cfg && /^# CONFIG_[A-Za-z0-9_]+ is not set$/ {
		want[$2] = $0; next }
	FILENAME == cfg && /^CONFIG_/ { s = $0; sub(/=.*/, "", s); have[s] = $0 }
	END {
		for (s in want) {
			h = (s in have) ? have[s] : "# " s " is not set"
			if (want[s] == h)
				continue
			printf "build-guest: requested \"%s\", .config has " \
				"\"%s\"\n", want[s], h > "/dev/stderr"
			bad = 1
		}
		exit bad
	}' $fragments "$bld/.config" || { log "config check failed"; exit 1; }
}

build_kernel() {
	mkdir -p "$bld"
	log "configuring $mode kernel in $bld"
	make -s -C "$src" O="$bld" tinyconfig >"$bld/tinyconfig.log" 2>&1 ||
		{ cat "$bld/tinyconfig.log"; exit 1; }
	# merge_config.sh runs make in the source tree; -n fills symbols the
	# fragments leave open with "no", as tinyconfig does.
	# shellcheck disable=SC2086
	(cd "$src" && scripts/kconfig/merge_config.sh -n -O "$bld" \
		"$bld/.config" $fragments) >"$bld/merge.log" 2>&1 ||
		{ cat "$bld/merge.log"; exit 1; }
	check_config
	log "building $mode kernel ($jobs jobs)"
	local targets="bzImage"
	[ $mode = guest ] && targets="bzImage vmlinux scripts_gdb"
	# shellcheck disable=SC2086
	make -s -C "$src" O="$bld" -j"$jobs" $targets
}

# /init of the default guest: prints the marker rax's tests wait for and
# starts an interactive shell with the console as controlling tty (job
# control, Ctrl-C).  The loop keeps PID 1 alive when the shell exits.
# With rax.exit_at_marker on the kernel command line it resets right after
# the marker instead (a fixed end point: tests compare instruction counts).
guest_init() {
	cat <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
export HOME=/root PATH=/bin:/sbin:/usr/bin:/usr/sbin PS1='~ # '
cd /root
echo RAX-GUEST-READY
case " $(cat /proc/cmdline) " in *" rax.exit_at_marker "*) reboot -f ;; esac
while :; do
	setsid cttyhack sh
done
EOF
}

# /init of L1: checks /dev/kvm, runs /l1-cmd (added by tests/nested/run.py)
# or the rax.cmd="..." kernel parameter with the console as controlling
# tty, prints its exit status, then reboots (QEMU runs with -no-reboot, so
# it exits).  Without a command it starts a shell.
l1_init() {
	cat <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t tmpfs tmpfs /tmp
export HOME=/root PATH=/bin:/sbin:/usr/bin:/usr/sbin PS1='l1 # '
echo "RAX-L1-INIT uptime $(cut -d' ' -f1 /proc/uptime) s"
dmesg | grep -i -e kvm -e svm -e 'nested'
if [ -c /dev/kvm ]; then
	echo "RAX-L1-KVM yes"
else
	echo "RAX-L1-KVM missing"
fi
cmd=$(sed -n 's/.*rax\.cmd="\([^"]*\)".*/\1/p' /proc/cmdline)
if [ -x /l1-cmd ]; then
	setsid cttyhack /l1-cmd
	status=$?
elif [ -n "$cmd" ]; then
	setsid cttyhack sh -c "$cmd"
	status=$?
else
	setsid cttyhack sh
	status=$?
fi
echo "RAX-L1-EXIT $status"
reboot -f
EOF
}

# The script busybox udhcpc runs by default (Debian's busybox looks for
# /etc/udhcpc/default.script): configures the interface, the default
# route and /etc/resolv.conf from the lease (with rax --net user:
# 10.0.2.15, router 10.0.2.2, DNS 10.0.2.3).
udhcpc_script() {
	cat <<'EOF'
#!/bin/sh
# udhcpc calls this with $1 = deconfig, bound, renew or nak and the
# lease in the environment ($interface, $ip, $subnet, $router, $dns).
case $1 in
deconfig)
	ifconfig "$interface" 0.0.0.0 up
	;;
bound|renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	if [ -n "$router" ]; then
		while route del default dev "$interface" 2>/dev/null; do :; done
		for r in $router; do
			route add default gw "$r" dev "$interface"
		done
	fi
	: >/etc/resolv.conf
	for d in $dns; do
		echo "nameserver $d" >>/etc/resolv.conf
	done
	;;
esac
exit 0
EOF
}

build_initramfs() {
	local tmp=$1 name=$2 init=$3 applet
	cc -O2 -o "$tmp/gen_init_cpio" "$src/usr/gen_init_cpio.c"
	$init >"$tmp/init"
	udhcpc_script >"$tmp/udhcpc.script"
	{
		for d in /dev /proc /sys /tmp /root /bin /sbin /usr /usr/bin \
			/usr/sbin /etc /etc/udhcpc; do
			echo "dir $d 0755 0 0"
		done
		echo "nod /dev/console 0600 0 0 c 5 1"
		echo "file /bin/busybox /bin/busybox 0755 0 0"
		echo "file /init $tmp/init 0755 0 0"
		echo "file /etc/udhcpc/default.script $tmp/udhcpc.script" \
			"0755 0 0"
		for applet in $(/bin/busybox --list-full); do
			[ "$applet" = bin/busybox ] && continue
			echo "slink /$applet /bin/busybox 0777 0 0"
		done
	} >"$tmp/cpio_list"
	"$tmp/gen_init_cpio" -t 0 "$tmp/cpio_list" | gzip -9n >"$tmp/$name"
}

unpack_source
[ -x /bin/busybox ] && /bin/busybox --list-full >/dev/null ||
	{ log "/bin/busybox missing: apt-get install busybox-static"; exit 1; }
build_kernel

tmp=$(mktemp -d "$cache/.tmp-$mode.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cp "$bld/arch/x86/boot/bzImage" "$bld/.config" "$tmp/"
mv "$tmp/.config" "$tmp/config"
if [ $mode = guest ]; then
	build_initramfs "$tmp" initramfs.cpio.gz guest_init
	cp "$bld/vmlinux" "$tmp/"
	cp -L "$bld/vmlinux-gdb.py" "$tmp/"
	mkdir -p "$tmp/scripts/gdb/linux"
	cp -L "$bld"/scripts/gdb/linux/*.py "$tmp/scripts/gdb/linux/"
else
	build_initramfs "$tmp" initramfs-base.cpio.gz l1_init
fi
rm -f "$tmp/gen_init_cpio" "$tmp/cpio_list" "$tmp/init" \
	"$tmp/udhcpc.script"
touch "$tmp/.complete"
chmod 755 "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
log "$out ready in $(( $(date +%s) - start )) s"
echo "$out"
