#!/bin/sh
# Prints the path of a newer QEMU for the nested KVM harness, fetching it
# first if needed: qemu-system-x86 from Debian 12's bookworm-backports
# (10.0.x), unpacked into ~/.cache/rax/qemu-backports/ without installing
# it (the system's QEMU 7.2 stays the reference peer for benchmarks).
# QEMU 7.2's TCG never arms the debug registers KVM loads for a nested
# guest; 10.0.2's does (DEVELOPERS.md, "The KVM engine on this machine").
# Use: RAX_NESTED_QEMU=$(sh tests/nested/qemu-backports.sh) make check-gdb
# Needs apt-get and network access; exits 1 with a message otherwise.
set -eu
dir=${XDG_CACHE_HOME:-$HOME/.cache}/rax/qemu-backports
wrapper=$dir/qemu-system-x86_64
if [ ! -x "$wrapper" ]; then
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/rax-qemu.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	mkdir -p "$tmp/lists/partial" "$tmp/deb"
	echo 'deb http://deb.debian.org/debian bookworm-backports main' \
		> "$tmp/bp.list"
	apt_opts="-o Dir::Etc::sourcelist=$tmp/bp.list
		  -o Dir::Etc::sourceparts=- -o Dir::State::Lists=$tmp/lists
		  -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1"
	# shellcheck disable=SC2086
	if ! apt-get -qq $apt_opts update >"$tmp/log" 2>&1 ||
	   ! (cd "$tmp/deb" && apt-get -qq $apt_opts download \
		qemu-system-x86/bookworm-backports) >>"$tmp/log" 2>&1; then
		echo "qemu-backports: cannot fetch qemu-system-x86 from bookworm-backports:" >&2
		tail -3 "$tmp/log" >&2
		exit 1
	fi
	rm -rf "$dir"
	mkdir -p "$dir"
	dpkg-deb -x "$tmp"/deb/qemu-system-x86_*.deb "$dir/root"
	# Firmware from the installed qemu-system-data/seabios; no modules
	# (the installed ones belong to another build), no audio.
	cat > "$wrapper.tmp" <<EOW
#!/bin/sh
exec "$dir/root/usr/bin/qemu-system-x86_64" -L /usr/share/qemu -audio none "\$@"
EOW
	chmod +x "$wrapper.tmp"
	"$wrapper.tmp" --version >/dev/null
	mv "$wrapper.tmp" "$wrapper"
fi
echo "$wrapper"
