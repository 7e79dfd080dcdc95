# Boot the default guest to its busybox shell on the interpreter and use it.
#
# Run (after `make` and `make guest` in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_boot.py
# or `make check` (tests/py/boot.sh).  Every rax a test starts is killed by
# its PID at teardown; every wait has a timeout.
import os
import re

import sys

import pexpect
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep the source tree clean
import hostcpu  # noqa: E402


HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")
BUILD = os.environ.get("RAX_BUILD", os.path.join(SRC, "build"))
RAX = os.path.join(BUILD, "rax")
MARKER = "RAX-GUEST-READY"
PROMPT = "~ # "
BOOT_TIMEOUT = float(os.environ.get("RAX_BOOT_TIMEOUT", "600"))
CMDLINE = "console=ttyS0 nokaslr reboot=k"


def spawn(*args):
    child = pexpect.spawn(RAX, ["--backend", "emulator", *args],
                          encoding="utf-8", codec_errors="replace",
                          timeout=BOOT_TIMEOUT)
    return child


# A kernel message on the console ("[    1.418941] clocksource: ...").
KMSG = re.compile(r"^\[\s*\d+\.\d+\] ")


def shell(child, cmd, timeout=120):
    """Types cmd, returns what it printed before the next prompt, without
    the echoed command and without kernel messages: the kernel may print
    on the same console at any time (with --clock host, a loaded host
    makes the clocksource watchdog complain)."""
    child.sendline(cmd)
    child.expect_exact(PROMPT, timeout=timeout)
    out = child.before.replace("\r", "")
    at = out.rfind(cmd)  # the terminal's echo of cmd
    out = out[at + len(cmd):] if at >= 0 else out
    out = out.split("\n", 1)[1] if "\n" in out else ""
    return "\n".join(l for l in out.split("\n") if not KMSG.match(l))


def finish(child):
    """reboot -f with reboot=k: the i8042 reset ends rax with status 0."""
    child.sendline("reboot -f")
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    assert child.exitstatus == 0, child.before[-2000:]


BOOT_PATHS = {
    "bzImage-host-decompress": lambda g: ["--kernel", g + "/bzImage",
                                          "--decompress", "host"],
    "bzImage-guest-decompress": lambda g: ["--kernel", g + "/bzImage",
                                           "--decompress", "guest"],
    "vmlinux-elf": lambda g: ["--kernel", g + "/vmlinux"],
    # The interpreter on host time (timers, TSC, HLT sleeps) instead of
    # the instruction count.
    "bzImage-clock-host": lambda g: ["--kernel", g + "/bzImage",
                                     "--decompress", "host",
                                     "--clock", "host"],
}


@pytest.mark.parametrize("path", sorted(BOOT_PATHS))
def test_boots_to_a_shell_that_computes(guest, procs, path):
    child = spawn(*BOOT_PATHS[path](guest), "--initrd",
                  guest + "/initramfs.cpio.gz", "--cmdline", CMDLINE)
    procs.append(child)
    child.expect_exact(MARKER)
    child.expect_exact(PROMPT, timeout=120)
    assert shell(child, "echo $((6*7))").strip() == "42"
    finish(child)


def test_proc_shows_the_interpreters_cpu_model(guest, procs):
    child = spawn("--kernel", guest + "/bzImage", "--initrd",
                  guest + "/initramfs.cpio.gz", "--cmdline", CMDLINE)
    procs.append(child)
    child.expect_exact(MARKER)
    child.expect_exact(PROMPT, timeout=120)
    cpuinfo = shell(child, "cat /proc/cpuinfo")
    assert re.search(r"model name\s*:\s*\S", cpuinfo), cpuinfo
    flags = re.search(r"flags\s*:(.*)", cpuinfo).group(1).split()
    for f in ("fpu", "tsc", "cx8", "apic", "cmov", "fxsr", "sse", "sse2",
              "lm", "nx"):
        assert f in flags, (f, flags)
    # The default model is the highest level the host has: x86-64-v3
    # (AVX2 ...) exactly when the host has it; never AVX-512.
    v3 = hostcpu.level() == 3
    assert ("avx2" in flags) == v3, (v3, flags)
    assert "avx512f" not in flags, flags
    listing = shell(child, "ls /proc").split()
    for name in ("1", "cpuinfo", "meminfo", "interrupts", "self"):
        assert name in listing, listing
    finish(child)


def boot_to_marker(guest, *extra, stats_out=None):
    """Boots with rax.exit_at_marker (the guest resets right after the
    marker): returns the console lines with printk timestamps and the
    retired-instruction count --stats reports at that fixed end point
    (stats_out: a list the --stats text is appended to)."""
    child = pexpect.spawn(RAX, ["--backend", "emulator", "--kernel",
                                guest + "/bzImage", "--initrd",
                                guest + "/initramfs.cpio.gz", "--stats",
                                "--rtc-base", "2026-01-01T00:00:00",
                                "--cmdline", CMDLINE + " rax.exit_at_marker"]
                          + list(extra),
                          encoding="utf-8", codec_errors="replace",
                          timeout=BOOT_TIMEOUT)
    try:
        child.expect_exact(MARKER)
        log = child.before
        child.expect(pexpect.EOF)
        stats = child.before
        child.close()
    finally:
        if child.isalive():
            child.kill(9)
    assert child.exitstatus == 0, stats[-2000:]
    m = re.search(r"(\d+) instructions", stats)
    assert m, stats[-2000:]
    if stats_out is not None:
        stats_out.append(stats)
    lines = [l for l in log.replace("\r", "").split("\n") if l.startswith("[")]
    return lines, int(m.group(1))


def test_two_boots_retire_the_same_instructions(guest):
    """Virtual time is the retired-instruction count: with the RTC at a
    fixed date (the guest seeds its RNG, and so userspace ASLR, from it),
    two boots retire the same number of instructions up to the marker and
    print the same printk timestamps."""
    (log_a, n_a), (log_b, n_b) = boot_to_marker(guest), boot_to_marker(guest)
    assert n_a > 10000000
    assert n_a == n_b
    assert len(log_a) > 50
    assert log_a == log_b


def test_translated_boot_retires_the_same_instructions_as_the_walk(guest):
    """The trace translator (src/cpu/jit.c) changes the speed, never the
    run: a boot with it (the default) and one with --jit off retire the
    same instructions to the marker and print the same timestamps, so
    every timer interrupt came at the same instruction."""
    stats = []
    log_a, n_a = boot_to_marker(guest, stats_out=stats)
    log_b, n_b = boot_to_marker(guest, "--jit", "off", stats_out=stats)
    jit = [int(re.search(r"jit\s+(\d+)", t).group(1)) for t in stats]
    assert jit[0] > 1000 and jit[1] == 0, jit
    assert n_a == n_b
    assert len(log_a) > 50
    assert log_a == log_b
