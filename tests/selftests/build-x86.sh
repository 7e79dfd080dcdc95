#!/usr/bin/env bash
# Build Linux's x86 selftests (tools/testing/selftests/x86 of Debian's
# linux-source-6.1) as static programs for tests/selftests/run.py.
#
# Usage: tests/selftests/build-x86.sh [--print-dir]
#
# The programs go to ${RAX_CACHE:-$HOME/.cache/rax}/selftests-x86-<key>,
# where <key> is the linux-source-6.1 package version, whether 32-bit
# programs could be built (m32, with gcc-multilib; else m64) and the first
# 12 hex digits of this script's SHA-256.  A complete folder is never
# rebuilt: the script prints its path and exits.  The source is unpacked
# once from /usr/src/linux-source-6.1.tar.xz into $RAX_CACHE/src (the same
# tree, lock and marker as examples/build-guest.sh); make writes only into
# the output folder.  Nothing is written to the checkout.
#
# Every program is linked with -static (the guest's initramfs has no C
# library) and the folder holds:
#   <test>_64, <test>_32   the programs (the upstream Makefile's names)
#   tests                  their names, one a line
#   build.log              make's output
# Exit status: 0 built (or already there), 77 when linux-source-6.1 is
# not installed or gcc cannot link a static 64-bit program, 1 on a
# failed build.
set -euo pipefail

print_dir=no
for arg in "$@"; do
	case $arg in
	--print-dir) print_dir=yes ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "build-x86: unknown argument '$arg'" >&2; exit 2 ;;
	esac
done

log() { echo "build-x86: $*" >&2; }
cache=${RAX_CACHE:-$HOME/.cache/rax}
tarball=${RAX_LINUX_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
src=$cache/src/linux-source-6.1
cc=${CC:-gcc}

version=$(dpkg-query -W -f '${Version}' linux-source-6.1 2>/dev/null) ||
	version=""
if [ -z "$version" ] || [ ! -r "$tarball" ]; then
	log "linux-source-6.1 is not installed (apt-get install linux-source-6.1)"
	exit 77
fi

# Can gcc link a static program of each width?  (The upstream Makefile's
# check_cc.sh, with -static added.)
can_link() {
	local t rc=0
	t=$(mktemp -d)
	printf 'int main(void) { return 0; }\n' >"$t/t.c"
	"$cc" -static "$@" -o "$t/t" "$t/t.c" >/dev/null 2>&1 || rc=1
	rm -rf "$t"
	return "$rc"
}
can_link -m64 || { log "$cc cannot link a static 64-bit program"; exit 77; }
width=m64
can_link -m32 && width=m32

key=$version-$width-$(sha256sum <"$0" | cut -c1-12)
out=$cache/selftests-x86-$key
if [ $print_dir = yes ] || [ -e "$out/.complete" ]; then
	echo "$out"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock-selftests-x86"
flock 9		# one build at a time; a second caller waits
if [ -e "$out/.complete" ]; then
	echo "$out"
	exit 0
fi

if [ ! -e "$src/.rax-unpacked" ]; then
	log "unpacking $tarball"
	exec 8>"$cache/.lock-src"
	flock 8
	if [ ! -e "$src/.rax-unpacked" ]; then
		rm -rf "$src" "$cache/src/.unpack"
		mkdir -p "$cache/src/.unpack"
		tar -xJf "$tarball" -C "$cache/src/.unpack"
		mv "$cache/src/.unpack/linux-source-6.1" "$src"
		rmdir "$cache/src/.unpack"
		touch "$src/.rax-unpacked"
	fi
	exec 8>&-
fi

log "building $src/tools/testing/selftests/x86 ($width) into $out"
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
# CC carries -static so that every program, not only the two the Makefile
# links statically, runs without a C library; check_cc.sh then also
# decides the 32-bit build on a static link.  The kernel's UAPI headers
# come from the host (linux-libc-dev), as KHDR_INCLUDES points at a
# usr/include the unpacked source does not have.
if ! make -C "$src/tools/testing/selftests/x86" -j"${RAX_JOBS:-$(nproc)}" \
	CC="$cc -static" OUTPUT="$out.tmp" all >"$out.tmp/build.log" 2>&1; then
	tail -30 "$out.tmp/build.log" >&2
	log "build failed (log: $out.tmp/build.log)"
	exit 1
fi
(cd "$out.tmp" && find . -maxdepth 1 -type f -name '*_[36][24]' |
	sed 's|^\./||' | sort) >"$out.tmp/tests"
n=$(wc -l <"$out.tmp/tests")
[ "$n" -gt 0 ] || { log "no program was built"; exit 1; }
touch "$out.tmp/.complete"
rm -rf "$out"
mv "$out.tmp" "$out"
log "$n programs"
echo "$out"
