# The default guest on 4 vCPUs of the interpreter (rax --cpus 4): Linux
# finds the CPUs in the MP table, starts the APs with INIT and start-up
# IPIs, runs a local timer on each, spreads busy processes over them, and
# two boots with a fixed RTC retire the same instructions on each vCPU.
#
# Run (after `make` and `make guest` in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_smp.py
# or `make check` (tests/py/smp.sh).  Every rax a test starts is killed by
# its PID at teardown; every wait has a timeout.
import re

import pexpect

from test_boot import (BOOT_TIMEOUT, CMDLINE, MARKER, PROMPT, RAX, finish,
                       shell, spawn)

CPUS = 4


def test_four_vcpus_boot_run_timers_and_share_busy_loops(guest, procs):
    child = spawn("--cpus", str(CPUS), "--kernel", guest + "/bzImage",
                  "--initrd", guest + "/initramfs.cpio.gz",
                  "--cmdline", CMDLINE)
    procs.append(child)
    child.expect_exact(MARKER)
    child.expect_exact(PROMPT, timeout=120)
    assert shell(child, "nproc").strip() == str(CPUS)
    # LOC: the local APIC timer's interrupts, one column per CPU.
    ints = shell(child, "cat /proc/interrupts")
    loc = re.search(r"^\s*LOC:((?:\s+\d+){%d})" % CPUS, ints, re.M)
    assert loc, ints
    counts = [int(n) for n in loc.group(1).split()]
    assert all(n > 0 for n in counts), ints
    # Four busy loops: the scheduler puts one on each CPU (field 39 of
    # /proc/PID/stat is the CPU it last ran on).
    shell(child, "pids=; for i in 1 2 3 4; do "
                 "(while :; do :; done) & pids=\"$pids $!\"; done")
    cpus = set()
    for _ in range(30):
        out = shell(child, "sleep 1; for p in $pids; do "
                           "cut -d' ' -f39 /proc/$p/stat; done", timeout=300)
        cpus = {int(n) for n in out.split()}
        if len(cpus) == CPUS:
            break
    assert cpus == set(range(CPUS)), out
    shell(child, "kill $pids", timeout=300)
    finish(child)


def boot_to_marker(guest, *extra):
    """Boots 4 vCPUs with rax.exit_at_marker (the guest resets right after
    the marker): returns each vCPU's retired instructions (--stats)."""
    child = pexpect.spawn(RAX, ["--backend", "emulator", "--cpus", str(CPUS),
                                "--kernel", guest + "/bzImage", "--initrd",
                                guest + "/initramfs.cpio.gz", "--stats",
                                "--rtc-base", "2026-01-01T00:00:00",
                                "--cmdline", CMDLINE + " rax.exit_at_marker"]
                          + list(extra),
                          encoding="utf-8", codec_errors="replace",
                          timeout=BOOT_TIMEOUT)
    try:
        child.expect_exact(MARKER)
        child.expect(pexpect.EOF)
        stats = child.before
        child.close()
    finally:
        if child.isalive():
            child.kill(9)
    assert child.exitstatus == 0, stats[-2000:]
    per_cpu = re.findall(r"vcpu (\d+): (\d+) instructions", stats)
    assert [int(c) for c, _ in per_cpu] == list(range(CPUS)), stats[-2000:]
    return [int(n) for _, n in per_cpu]


def test_two_smp_boots_retire_the_same_instructions_on_each_vcpu(guest):
    """The vCPUs run in turns of --quantum instructions on one thread, so
    an SMP boot repeats to the instruction, as a single vCPU's does."""
    a, b = boot_to_marker(guest), boot_to_marker(guest)
    assert all(n > 10000 for n in a), a  # every AP ran
    assert a == b


def test_translated_smp_boot_retires_the_same_instructions_as_the_walk(guest):
    """With the trace translator off (--jit off) each vCPU retires the
    same instructions to the marker as with it: translated traces share
    the decode cache of all vCPUs and keep their turns exact."""
    a, b = boot_to_marker(guest), boot_to_marker(guest, "--jit", "off")
    assert all(n > 10000 for n in a), a
    assert a == b
