# The interpreter's CPU models (--cpu, src/cpu/model.c): the default guest
# boots with --cpu v1, v2 and v3; /proc/cpuinfo shows exactly the flags
# of each level (x86-64-v2's under v2 and v3, none of them under v1,
# x86-64-v3's under v3 only); static programs built with gcc
# -march=x86-64-v2 (tests/py/cpu_v2.c) and -march=x86-64-v3
# (tests/py/cpu_v3.c: AVX2, FMA, F16C, BMI), added to the initramfs as a
# second cpio archive, print the host's own answers on the models that
# have their level and die of SIGILL on the one below; under v3 two
# processes keep all sixteen YMM registers live at once across timer
# preemption (tests/py/ymm_switch.c: Linux's XSAVE/XRSTOR context switch
# with XCR0 = 7); Linux's own x86 selftest test_FISTTP
# (tools/testing/selftests/x86 of the cached linux-source-6.1 the
# default guest is built from; FISTTP is SSE3) passes under v2.
#
# Run (after `make` and `make guest` in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_cpu_model.py
# or `make check` (tests/py/cpu-model.sh).  Every rax a test starts is
# killed at teardown; every wait has a timeout.
import os
import re
import shutil
import subprocess
import sys

import pexpect
import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True  # keep the source tree clean
import hostcpu  # noqa: E402
from conftest import default_guest_dir as guest_dir  # noqa: E402
from test_boot import (BOOT_TIMEOUT, CMDLINE, MARKER, PROMPT, RAX,  # noqa: E402
                       finish, shell)

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAM = "/cpu_v2"
PROGRAM3 = "/cpu_v3"
YMM = "/ymm_switch"
SELFTEST = "/test_FISTTP"
# Where examples/build-guest.sh unpacks Debian's linux-source-6.1.
SELFTESTS = os.path.join(os.environ.get("RAX_CACHE") or
                         os.path.expanduser("~/.cache/rax"),
                         "src", "linux-source-6.1", "tools", "testing",
                         "selftests", "x86")
# /proc/cpuinfo's names of what x86-64-v2 adds (SSE3 is "pni").
V2_FLAGS = ("pni", "ssse3", "sse4_1", "sse4_2", "popcnt", "cx16",
            "lahf_lm")
# And x86-64-v3's (LZCNT is "abm").
V3_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "movbe", "abm",
            "xsave")


def build(tmp_path_factory, src, march):
    exe = str(tmp_path_factory.mktemp("cpu") / src[:-2])
    subprocess.run([shutil.which("gcc"), "-static", "-O2", "-march=" + march,
                    "-o", exe, os.path.join(HERE, src)], check=True)
    return exe


def newc(name, data, mode):
    """One member of a cpio archive in the newc format (the kernel's
    initramfs format, Documentation/driver-api/early-userspace)."""
    name = name.encode() + b"\0"
    fields = [1, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name), 0]
    hdr = b"070701" + b"".join(b"%08x" % v for v in fields) + name
    hdr += b"\0" * (-len(hdr) % 4)
    return hdr + data + b"\0" * (-len(data) % 4)


@pytest.fixture(scope="module")
def program(tmp_path_factory):
    """The x86-64-v2 program and the host's output of it."""
    cc = shutil.which("gcc")
    if not cc:
        pytest.skip("gcc is not installed")
    if hostcpu.level() < 2:
        pytest.skip("the host CPU lacks x86-64-v2")
    exe = str(tmp_path_factory.mktemp("cpu") / "cpu_v2")
    subprocess.run([cc, "-static", "-O2", "-march=x86-64-v2", "-o", exe,
                    os.path.join(HERE, "cpu_v2.c")], check=True)
    out = subprocess.run([exe], check=True, capture_output=True,
                         text=True).stdout
    assert out.startswith("crc32 "), out
    return exe, out


@pytest.fixture(scope="module")
def program3(program, tmp_path_factory):
    """The x86-64-v3 program, the host's output of it and the YMM
    context-switch program; None when the host lacks x86-64-v3."""
    if hostcpu.level() < 3:
        return None
    exe = build(tmp_path_factory, "cpu_v3.c", "x86-64-v3")
    out = subprocess.run([exe], check=True, capture_output=True,
                         text=True).stdout
    assert out.startswith("fma "), out
    return exe, out, build(tmp_path_factory, "ymm_switch.c", "x86-64-v3")


@pytest.fixture(scope="module")
def selftest(program, tmp_path_factory):
    """Linux's test_FISTTP built static, or None without the source."""
    src = os.path.join(SELFTESTS, "test_FISTTP.c")
    if not os.path.exists(src):
        return None
    exe = str(tmp_path_factory.mktemp("cpu") / "test_FISTTP")
    subprocess.run(["gcc", "-static", "-O2", "-o", exe, src, "-lm"],
                   check=True, capture_output=True)
    return exe


@pytest.fixture(scope="module")
def initrd(program, program3, selftest, tmp_path_factory):
    """The default guest's initramfs with the programs appended as a
    second (uncompressed) archive: the kernel unpacks both."""
    path = str(tmp_path_factory.mktemp("cpu") / "initramfs.cpio")
    with open(os.path.join(guest_dir(), "initramfs.cpio.gz"), "rb") as f:
        base = f.read()
    with open(program[0], "rb") as f:
        exe = f.read()
    with open(path, "wb") as f:
        f.write(base + b"\0" * (-len(base) % 4))
        f.write(newc(PROGRAM[1:], exe, 0o100755))
        if program3:
            for name, exe3 in ((PROGRAM3, program3[0]), (YMM, program3[2])):
                with open(exe3, "rb") as p:
                    f.write(newc(name[1:], p.read(), 0o100755))
        if selftest:
            with open(selftest, "rb") as s:
                f.write(newc(SELFTEST[1:], s.read(), 0o100755))
        f.write(newc("TRAILER!!!", b"", 0))
    return path


def boot(procs, initrd, model):
    child = pexpect.spawn(RAX, ["--backend", "emulator", "--cpu", model,
                                "--kernel", guest_dir() + "/bzImage",
                                "--initrd", initrd, "--cmdline", CMDLINE],
                          encoding="utf-8", codec_errors="replace",
                          timeout=BOOT_TIMEOUT)
    procs.append(child)
    child.expect_exact(MARKER)
    child.expect_exact(PROMPT, timeout=120)
    return child


def cpu_flags(child):
    cpuinfo = shell(child, "cat /proc/cpuinfo")
    return re.search(r"flags\s*:(.*)", cpuinfo).group(1).split()


def test_v3_shows_its_flags_runs_v2_and_v3_programs_and_switches_ymm(
        procs, initrd, program, program3):
    if not program3:
        pytest.skip("the host CPU lacks x86-64-v3")
    child = boot(procs, initrd, "v3")
    flags = cpu_flags(child)
    for f in V2_FLAGS + V3_FLAGS + ("xsaveopt", "xsavec"):
        assert f in flags, (f, flags)
    for f in ("avx512f", "xsaves", "aes", "adx"):
        assert f not in flags, (f, flags)
    out = shell(child, PROGRAM + "; echo rc=$?")
    assert out.strip() == program[1].strip() + "\nrc=0", (out, program[1])
    out = shell(child, PROGRAM3 + "; echo rc=$?")
    assert out.strip() == program3[1].strip() + "\nrc=0", (out, program3[1])
    # Two at once on the one vCPU: the timer preempts each many times.
    out = shell(child, "%s 3000000 & %s 3000000; wait" % (YMM, YMM),
                timeout=600)
    res = re.findall(r"ymm (\S+) after (\d+) involuntary", out)
    assert len(res) == 2 and all(r[0] == "ok" for r in res), out
    assert sum(int(r[1]) for r in res) > 0, out
    finish(child)


def test_v2_shows_its_flags_and_runs_a_v2_program(procs, initrd, program,
                                                  program3, selftest):
    child = boot(procs, initrd, "v2")
    flags = cpu_flags(child)
    for f in V2_FLAGS:
        assert f in flags, (f, flags)
    for f in V3_FLAGS:
        assert f not in flags, (f, flags)
    out = shell(child, PROGRAM + "; echo rc=$?")
    assert out.strip() == program[1].strip() + "\nrc=0", (out, program[1])
    if program3:  # the v3 program dies of SIGILL before printing
        out = shell(child, PROGRAM3 + "; echo rc=$?")
        assert "fma" not in out and out.strip().endswith("rc=132"), out
    if selftest:
        out = shell(child, SELFTEST + "; echo rc=$?")
        assert "[OK]\tfisttp" in out and out.strip().endswith("rc=0"), out
    finish(child)
    if not selftest:
        pytest.skip("no " + SELFTESTS + " (make guest unpacks it): "
                    "test_FISTTP not run")


def test_v1_hides_them_and_the_v2_program_dies_of_sigill(procs, initrd):
    child = boot(procs, initrd, "v1")
    flags = cpu_flags(child)
    for f in V2_FLAGS:
        assert f not in flags, (f, flags)
    for f in ("sse", "sse2", "fxsr", "cx8", "lm", "nx"):
        assert f in flags, (f, flags)
    out = shell(child, PROGRAM + "; echo rc=$?")
    # 128 + SIGILL (4): busybox sh reports the signal; nothing printed.
    assert "crc32" not in out, out
    assert out.strip().endswith("rc=132"), out
    finish(child)
