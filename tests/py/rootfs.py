"""A root file system for rax's virtio-blk tests and benchmarks: an ext4
image made without root privileges by `mke2fs -d` (Debian e2fsprogs) from
a busybox-static tree.  Used by tests/py/test_virtio.py,
tests/nested/run.py --disk and bench/virtio-bench.py.

Its /init prints RAX-DISK-READY and what / is mounted as, then starts a
shell on the console (like the default guest's initramfs); with
rax.exit_at_marker on the kernel command line it resets right after the
marker instead.  Boot it with root=/dev/vda init=/init and no initrd.
"""
import os
import shutil
import subprocess
import tempfile

MARKER = "RAX-DISK-READY"
BUSYBOX = "/bin/busybox"
SBIN = "/sbin:/usr/sbin:/bin:/usr/bin"

INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
export HOME=/root PATH=/bin:/sbin:/usr/bin:/usr/sbin PS1='~ # '
cd /root
echo "RAX-DISK-READY $(grep ' / ' /proc/mounts)"
case " $(cat /proc/cmdline) " in *" rax.exit_at_marker "*) reboot -f ;; esac
while :; do
	setsid cttyhack sh
done
"""

UDHCPC = """#!/bin/sh
case $1 in
deconfig) ifconfig "$interface" 0.0.0.0 up ;;
bound|renew)
	ifconfig "$interface" "$ip" netmask "${subnet:-255.255.255.0}" up
	[ -n "$router" ] && route add default gw "$router" dev "$interface"
	;;
esac
exit 0
"""


def tool(name):
    """Path of an e2fsprogs tool, or None (they live in /sbin)."""
    return shutil.which(name, path=SBIN + ":" + os.environ.get("PATH", ""))


def missing_tools():
    """What building and checking the image needs but is not here."""
    miss = [t for t in ("mke2fs", "e2fsck", "debugfs") if not tool(t)]
    if not os.access(BUSYBOX, os.X_OK):
        miss.append(BUSYBOX + " (busybox-static)")
    return miss


def build(path, size_mib=32, files=None):
    """Writes an ext4 image of size_mib MiB at path.  files maps paths in
    the image to their contents (str or bytes)."""
    with tempfile.TemporaryDirectory(prefix="rax-rootfs-") as tree:
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc/udhcpc",
                  "dev", "proc", "sys", "tmp", "root", "etc"):
            os.makedirs(os.path.join(tree, d), exist_ok=True)
        shutil.copy(BUSYBOX, os.path.join(tree, "bin", "busybox"))
        applets = subprocess.run([BUSYBOX, "--list-full"], check=True,
                                 capture_output=True, text=True).stdout
        for a in applets.split():
            link = os.path.join(tree, a)
            if a == "bin/busybox" or os.path.lexists(link):
                continue
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("/bin/busybox", link)
        every = {"init": INIT, "etc/udhcpc/default.script": UDHCPC}
        every.update(files or {})
        for name, body in every.items():
            p = os.path.join(tree, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "wb") as f:
                f.write(body.encode() if isinstance(body, str) else body)
            if body.startswith("#!" if isinstance(body, str) else b"#!"):
                os.chmod(p, 0o755)
        if os.path.exists(path):
            os.unlink(path)
        subprocess.run([tool("mke2fs"), "-q", "-F", "-t", "ext4", "-L",
                        "rax-root", "-d", tree, path, f"{size_mib}M"],
                       check=True, capture_output=True)


def fsck(path):
    """e2fsck -fn: (exit status, output); 0 means clean."""
    r = subprocess.run([tool("e2fsck"), "-fn", path], capture_output=True,
                       text=True)
    return r.returncode, r.stdout + r.stderr


def cat(path, name):
    """debugfs's view of file `name` in the image (None when absent)."""
    r = subprocess.run([tool("debugfs"), "-R", f"cat {name}", path],
                       capture_output=True)
    if r.returncode or b"File not found" in r.stderr:
        return None
    return r.stdout.decode("utf-8", "replace")
