# The default guest (built with CONFIG_ACPI) on the interpreter with rax's
# ACPI tables (src/loader/acpi.c) and PM device (src/devices/acpipm.c):
# the kernel takes its CPUs from the MADT and reports no ACPI error,
# `poweroff -f` ends rax with status 0 through \_S5, `--acpi off` boots on
# the MP table alone, and with MSI off a virtio device's INTx reaches the
# kernel through the GSI the DSDT's _PRT names.
#
# Run (after `make` and `make guest` in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_acpi.py
# or `make check` (tests/py/acpi.sh).  Every rax a test starts is killed by
# its PID at teardown; every wait has a timeout.
import os
import re

import pexpect
import pytest

from conftest import default_guest_dir

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "..", "..")
BUILD = os.environ.get("RAX_BUILD", os.path.join(SRC, "build"))
RAX = os.path.join(BUILD, "rax")
MARKER = "RAX-GUEST-READY"
PROMPT = "~ # "
TIMEOUT = float(os.environ.get("RAX_BOOT_TIMEOUT", "600"))
CMDLINE = "console=ttyS0 nokaslr reboot=k"
# Kernel messages that mean the tables or the AML are wrong.
ACPI_ERROR = re.compile(r"ACPI (BIOS )?(Error|Warning)|ACPI Exception|"
                        r"ACPI.*AE_[A-Z_]+|"
                        r"\[Firmware Bug\].*(ACPI|APIC|FADT|MADT|DSDT)")


@pytest.fixture
def guest():
    return default_guest_dir(require=("CONFIG_ACPI=y",))


def boot(procs, guest, *args, cmdline=CMDLINE):
    child = pexpect.spawn(RAX, ["--backend", "emulator", "--kernel",
                                guest + "/bzImage", "--initrd",
                                guest + "/initramfs.cpio.gz",
                                "--cmdline", cmdline, *args],
                          encoding="utf-8", codec_errors="replace",
                          timeout=TIMEOUT)
    procs.append(child)
    child.expect_exact(MARKER)
    child.expect_exact(PROMPT, timeout=120)
    return child


KMSG = re.compile(r"^\[\s*\d+\.\d+\] ")
# The kernel log without its timestamps, so that shell() keeps it.
DMESG = "dmesg | sed 's/^\\[[ 0-9.]*\\] //'"


def shell(child, cmd, timeout=120):
    """Types cmd, returns what it printed before the next prompt, without
    the echoed command and without kernel messages printed meanwhile."""
    child.sendline(cmd)
    child.expect_exact(PROMPT, timeout=timeout)
    out = child.before.replace("\r", "")
    at = out.rfind(cmd)
    out = out[at + len(cmd):] if at >= 0 else out
    out = out.split("\n", 1)[1] if "\n" in out else ""
    return "\n".join(l for l in out.split("\n") if not KMSG.match(l))


def end(child, cmd):
    """cmd ends the guest; rax must exit 0.  Returns its last output."""
    child.sendline(cmd)
    child.expect(pexpect.EOF, timeout=120)
    child.close()
    assert child.exitstatus == 0, child.before[-3000:]
    return child.before


def test_the_guest_uses_acpi_and_poweroff_ends_rax_with_0(guest, procs):
    child = boot(procs, guest, "--rtc-base", "2026-01-01T00:00:00")
    dmesg = shell(child, DMESG)
    for line in ("ACPI: RSDP 0x00000000000E0000",
                 "ACPI: Using ACPI (MADT) for SMP configuration information",
                 "ACPI: PM-Timer IO Port: 0x608",
                 "ACPI: Interpreter enabled",
                 "ACPI: PM: (supports S0 S5)",
                 "ACPI: PCI Root Bridge [PCI0]",
                 "clocksource: acpi_pm"):
        assert line in dmesg, (line, dmesg[-4000:])
    bad = [l for l in dmesg.split("\n") if ACPI_ERROR.search(l)]
    assert not bad, bad
    tail = end(child, "poweroff -f")
    assert "guest powered off (ACPI S5)" in tail, tail[-2000:]


def test_acpi_off_boots_on_the_mp_table(guest, procs):
    child = boot(procs, guest, "--acpi", "off")
    dmesg = shell(child, DMESG)
    assert "found SMP MP-table" in dmesg, dmesg[-4000:]
    assert "ACPI: RSDP" not in dmesg and "Using ACPI (MADT)" not in dmesg
    end(child, "reboot -f")


def test_pci_intx_is_routed_by_the_prt(guest, procs):
    """pci=nomsi: virtio-rng in slot 1 falls back to INTA#, which the
    kernel routes by the _PRT to GSI 16 (IOAPIC pin 16, level: fasteoi);
    reading the device needs its interrupts."""
    child = boot(procs, guest, "--rng", cmdline=CMDLINE + " pci=nomsi")
    assert "virtio_rng" in shell(child, "cat /sys/class/misc/hw_random/"
                                 "rng_current")
    out = shell(child, "dd if=/dev/hwrng bs=16 count=4 2>/dev/null | "
                "od -An -tx1 | tr -d ' \\n'; echo", timeout=120)
    assert re.fullmatch(r"[0-9a-f]{128}", out.strip().splitlines()[-1]), out
    irqs = shell(child, "grep virtio /proc/interrupts")
    m = re.search(r"^\s*(\d+):\s+(\d+)\s+IO-APIC\s+(\d+)-fasteoi\s+virtio",
                  irqs, re.M)
    assert m, irqs
    assert (m.group(1), m.group(3)) == ("16", "16"), irqs
    assert int(m.group(2)) > 0, irqs
    end(child, "poweroff -f")
