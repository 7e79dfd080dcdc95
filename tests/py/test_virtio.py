# The default guest on rax's interpreter with virtio devices: a root file
# system on virtio-blk (ext4 made by mke2fs -d, checked on the host with
# e2fsck and debugfs), read-only images, deterministic disk I/O, and
# virtio-rng.  The network is in test_virtio_net.py.
#
# Run (after `make` and `make guest` in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_virtio.py
# or `make check` (tests/py/virtio.sh).  Every rax a test starts is killed
# by its PID at teardown; every wait has a timeout.
import hashlib
import os
import re
import secrets
import sys

import pexpect
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree clean
import rootfs  # noqa: E402

SRC = os.path.join(HERE, "..", "..")
BUILD = os.environ.get("RAX_BUILD", os.path.join(SRC, "build"))
RAX = os.path.join(BUILD, "rax")
TIMEOUT = float(os.environ.get("RAX_BOOT_TIMEOUT", "600"))
CMDLINE = "console=ttyS0 nokaslr reboot=k"
DISK_CMDLINE = CMDLINE + " root=/dev/vda init=/init"
PROMPT = "~ # "


@pytest.fixture
def image(tmp_path):
    miss = rootfs.missing_tools()
    if miss:
        pytest.skip("missing " + ", ".join(miss) +
                    " (apt-get install e2fsprogs busybox-static)")
    path = str(tmp_path / "rootfs.img")
    rootfs.build(path)
    return path


def spawn(procs, *args):
    child = pexpect.spawn(RAX, ["--backend", "emulator", *args],
                          encoding="utf-8", codec_errors="replace",
                          timeout=TIMEOUT)
    procs.append(child)
    return child


def shell(child, cmd, timeout=300):
    """Types cmd, returns what it printed before the next prompt."""
    child.sendline(cmd)
    child.expect_exact(PROMPT, timeout=timeout)
    out = child.before.replace("\r", "")
    return out.split("\n", 1)[1] if "\n" in out else ""


def reboot(child):
    """reboot -f with reboot=k: rax ends with status 0; returns what rax
    printed last."""
    child.sendline("reboot -f")
    child.expect(pexpect.EOF, timeout=300)
    child.close()
    assert child.exitstatus == 0, child.before[-3000:]
    return child.before


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_root_on_virtio_blk_keeps_a_written_file(guest, image, procs):
    """root=/dev/vda rw, no initramfs: write, sync, reboot; the host's
    e2fsck finds the file system clean and debugfs finds the file."""
    token = "written-by-rax-" + secrets.token_hex(8)
    child = spawn(procs, "--kernel", guest + "/bzImage", "--disk", image,
                  "--cmdline", DISK_CMDLINE + " rw", "--log", "debug,dev")
    child.expect(rootfs.MARKER + r" /dev/root / ext4 (\S+) 0 0")
    assert child.match.group(1).startswith("rw"), child.match.group(0)
    child.expect_exact(PROMPT, timeout=300)
    assert "vda" in shell(child, "cat /proc/partitions")
    shell(child, f"echo {token} > /root/hello.txt && sync")
    # A clean shutdown: the journal is checkpointed and the file system
    # marked clean, so e2fsck -n has nothing to recover.
    shell(child, "mount -o remount,ro /")
    tail = reboot(child)
    # The guest's sync reached the device as flushes (fdatasync).
    m = re.search(r"virtio-blk \S+: (\d+) reads, (\d+) writes, (\d+) flushes",
                  tail)
    assert m and int(m.group(2)) > 0 and int(m.group(3)) > 0, tail[-2000:]
    status, out = rootfs.fsck(image)
    assert status == 0, out
    assert rootfs.cat(image, "/root/hello.txt") == token + "\n"


def test_read_only_image_refuses_writes_and_stays_unchanged(guest, image,
                                                            procs):
    before = sha256(image)
    child = spawn(procs, "--kernel", guest + "/bzImage", "--disk",
                  image + ",ro", "--cmdline", DISK_CMDLINE + " rw")
    # The kernel sees a read-only disk (VIRTIO_BLK_F_RO) and mounts the
    # root read-only although the command line asked for rw.
    child.expect(rootfs.MARKER + r" /dev/root / ext4 (\S+) 0 0")
    assert child.match.group(1).startswith("ro"), child.match.group(0)
    child.expect_exact(PROMPT, timeout=300)
    out = shell(child, "echo x > /root/new.txt; echo status=$?")
    assert "Read-only file system" in out and "status=1" in out, out
    assert shell(child, "cat /sys/block/vda/ro").strip() == "1"
    reboot(child)
    assert sha256(image) == before


def boot_to_disk_marker(guest, image, procs):
    """A fixed-date boot from a read-only root that resets right after
    its marker; returns the retired-instruction count."""
    child = spawn(procs, "--kernel", guest + "/bzImage", "--disk",
                  image + ",ro", "--stats", "--rtc-base",
                  "2026-01-01T00:00:00", "--cmdline",
                  DISK_CMDLINE + " ro rax.exit_at_marker")
    child.expect_exact(rootfs.MARKER)
    child.expect(pexpect.EOF)
    stats = child.before
    child.close()
    assert child.exitstatus == 0, stats[-2000:]
    m = re.search(r"(\d+) instructions", stats)
    assert m, stats[-2000:]
    return int(m.group(1))


def test_disk_boots_retire_the_same_instructions(guest, image, procs):
    """Disk requests complete on the notifying write (virtual time is
    the instruction count), so two boots from the disk repeat exactly."""
    a = boot_to_disk_marker(guest, image, procs)
    b = boot_to_disk_marker(guest, image, procs)
    assert a > 10000000
    assert a == b


def test_rng_feeds_the_guest_hw_random(guest, procs):
    child = spawn(procs, "--kernel", guest + "/bzImage", "--initrd",
                  guest + "/initramfs.cpio.gz", "--cmdline", CMDLINE,
                  "--rng")
    child.expect_exact("RAX-GUEST-READY")
    child.expect_exact(PROMPT, timeout=300)
    out = shell(child, "cat /sys/class/misc/hw_random/rng_current")
    assert "virtio_rng" in out, out
    out = shell(child, "dd if=/dev/hwrng bs=16 count=4 2>/dev/null | "
                "od -An -tx1 | tr -d ' \\n'; echo")
    hexes = out.strip().splitlines()[-1]
    assert re.fullmatch(r"[0-9a-f]{128}", hexes), out
    assert hexes != "0" * 128
    reboot(child)

