# Time travel with real gdb (issue 14): gdb's reverse-stepi, reverse-nexti,
# reverse-finish and reverse-continue (breakpoints and watchpoints) on
# rax's interpreter with its history, which is on by default with --gdb.
#
# Two guests: tests/guest/lapic.S (a small program that halts waiting
# for periodic LAPIC timer interrupts; assembled here, needs only cc and
# ld), and the default guest (skipped when it is not built).
#
# Run (after building rax in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_reverse.py
# or: make check TESTS=tests/py/reverse.sh (build folder).
import hashlib
import os
import re
import subprocess
import time

import pytest

from conftest import (BUILD, HERE, Gdb, Target, default_guest_dir, free_port,
                      wait_listening)

RAX = os.path.join(BUILD, "rax")
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
REGS = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
        "r10", "r11", "r12", "r13", "r14", "r15", "rip", "eflags"]
NO_MORE = "No more reverse-execution history"


def build_program(tmp_path, name):
    out = str(tmp_path)
    r = subprocess.run(["sh", os.path.join(SRC, "tests", "guest", "build.sh"),
                        out, name], env=dict(os.environ, srcdir=SRC),
                       capture_output=True, text=True)
    if r.returncode:
        pytest.fail("cannot assemble %s:\n%s" % (name, r.stderr))
    return os.path.join(out, name + ".elf")


class Session:
    """rax --gdb-wait on the interpreter (history on by default) and gdb."""

    def __init__(self, procs, tmp_path, argv, symbols, timeout=120):
        if not os.access(RAX, os.X_OK):
            pytest.skip("%s is not built" % RAX)
        port = free_port()
        self.addr = "127.0.0.1:%d" % port
        self.out = os.path.join(str(tmp_path), "console.out")
        self.rax = Target([RAX, "--backend", "emulator", "--gdb", self.addr,
                           "--gdb-wait", "--rtc-base", "2026-01-01T00:00:00"]
                          + argv, tmp_path, stdin=subprocess.PIPE)
        procs.append(self.rax)
        wait_listening(("127.0.0.1", port), self.rax, timeout=60)
        self.gdb = Gdb(["-iex", "set auto-load safe-path /"], timeout=timeout)
        procs.append(self.gdb)
        self.gdb.cmd("file %s" % symbols)
        out = self.gdb.cmd("target remote %s" % self.addr, timeout=60)
        assert "Remote debugging using" in out, out

    def cmd(self, line, timeout=None):
        return self.gdb.cmd(line, timeout=timeout)

    def regs(self):
        return tuple(self.gdb.reg(r) for r in REGS)

    def icount(self):
        out = self.cmd("monitor icount")
        m = re.search(r"(\d+) instructions", out)
        assert m, out
        return int(m.group(1))

    def mem_hash(self, addr, size):
        out = self.cmd("python import hashlib; print('H=' + hashlib.sha256("
                       "gdb.selected_inferior().read_memory(%d, %d).tobytes())"
                       ".hexdigest())" % (addr, size))
        m = re.search(r"H=([0-9a-f]+)", out)
        assert m, out
        return m.group(1)

    def state(self, addr=0, size=0):
        """Registers, instruction count and a hash of [addr, addr+size),
        in one gdb command (a round trip per register is slow)."""
        script = ("python import hashlib; f = gdb.selected_frame(); "
                  "print('S=' + repr([int(f.read_register(r)) & "
                  "0xffffffffffffffff for r in %r] + "
                  "[gdb.execute('monitor icount', to_string=True).split()[1], "
                  "hashlib.sha256(gdb.selected_inferior().read_memory("
                  "%d, %d).tobytes()).hexdigest() if %d else '']))"
                  % (REGS, addr, size, size))
        out = self.cmd(script)
        m = re.search(r"S=(\[.*\])", out)
        assert m, out
        return m.group(1)


# ---- tests/guest/lapic.S ------------------------------------------------

# The program's image and stack: 0x200000 up (rt.S's page tables, IDT,
# handlers and counters, the program's data).
IMAGE = (0x200000, 0x40000)


@pytest.fixture
def lapic(procs, tmp_path):
    elf = build_program(tmp_path, "lapic")
    s = Session(procs, tmp_path, ["--kernel", elf, "--mem", "64M"], elf)
    out = s.cmd("tbreak test_main")
    out = s.cmd("continue")
    assert "test_main" in out, out
    return s


def test_qsupported_offers_reverse_and_monitor_history(lapic):
    out = lapic.cmd("monitor history")
    assert re.search(r"history: \d+ snapshots", out), out
    # gdb sends bs for reverse-stepi only if the stub offered ReverseStep.
    out = lapic.cmd("reverse-stepi")
    assert "Target remote does not support" not in out, out


def test_reverse_continue_to_breakpoints_then_start_of_history(lapic):
    s = lapic
    s.cmd("break h_eoi")
    seen = []
    for _ in range(3):
        out = s.cmd("continue")
        assert "h_eoi" in out, out
        seen.append(s.state(*IMAGE))
    for k in (1, 0):
        out = s.cmd("reverse-continue")
        assert "h_eoi" in out, out
        assert s.state(*IMAGE) == seen[k], "reverse-continue to hit %d" % k
    s.cmd("delete")
    out = s.cmd("reverse-continue")
    assert NO_MORE in out, out
    # forward again: the same hits, replayed
    s.cmd("break h_eoi")
    for k in range(3):
        out = s.cmd("continue")
        assert "h_eoi" in out, out
        assert s.state(*IMAGE) == seen[k], "replayed hit %d" % k


def test_stepi_200_back_and_forth(lapic):
    """Issue 14 (a) on a small guest: 200 stepi recording everything,
    200 reverse-stepi comparing each state, 200 stepi again."""
    s = lapic
    s.cmd("break h_eoi")
    out = s.cmd("continue")
    assert "h_eoi" in out, out
    s.cmd("delete")
    # Out of the handler into the waiting loop: halts and interrupts.
    states = [s.state(*IMAGE)]
    for _ in range(200):
        s.cmd("stepi")
        states.append(s.state(*IMAGE))
    for i in range(199, -1, -1):
        out = s.cmd("reverse-stepi")
        assert NO_MORE not in out, out
        assert s.state(*IMAGE) == states[i], "reverse-stepi to step %d" % i
    for i in range(1, 201):
        s.cmd("stepi")
        assert s.state(*IMAGE) == states[i], "stepi again to step %d" % i


def test_reverse_continue_with_a_watchpoint(lapic):
    """The counter of vector 0x51 is written by rt_common: reverse
    continue stops at the write with gdb's old and new values."""
    s = lapic
    s.cmd("break h_eoi")
    for _ in range(2):
        out = s.cmd("continue")
        assert "h_eoi" in out, out
    s.cmd("delete")
    count = int(s.cmd("p *(long *)((char *)&vec_count + 0x51 * 8)")
                .split("=")[1])
    s.cmd("watch *(long *)((char *)&vec_count + 0x51 * 8)")
    out = s.cmd("reverse-continue")
    assert "watchpoint" in out.lower(), out
    assert "Old value = %d" % count in out, out
    assert "New value = %d" % (count - 1) in out, out
    out = s.cmd("info symbol $pc")
    assert "rt_common" in out, out
    # forward over the write again
    out = s.cmd("continue")
    assert "New value = %d" % count in out, out


def test_reverse_finish_and_reverse_nexti_over_a_call(lapic):
    s = lapic
    s.cmd("break check")
    out = s.cmd("continue")
    assert "check" in out, out
    s.cmd("delete")
    ret = int(s.cmd("x/gx $rsp").split(":")[1].split()[0], 16)
    out = s.cmd("reverse-finish")
    assert s.gdb.reg("rip") == ret - 5, out  # at the call (e8 rel32)
    before = s.state(*IMAGE)
    s.cmd("nexti")
    assert s.gdb.reg("rip") == ret
    s.cmd("reverse-nexti")
    assert s.state(*IMAGE) == before


def test_console_output_is_not_repeated(lapic):
    s = lapic
    s.cmd("break cr8_done")
    out = s.cmd("continue")
    assert "cr8_done" in out, out
    s.cmd("delete")
    s.cmd("break h_eoi")
    out = s.cmd("reverse-continue")
    assert "h_eoi" in out, out
    s.cmd("delete")
    s.cmd("break cr8_done")
    out = s.cmd("continue")
    assert "cr8_done" in out, out
    s.cmd("delete")
    s.gdb.send("continue")
    s.gdb.wait_prompt(timeout=60)
    log = s.rax.read_stderr()
    # rax's stdout and stderr go to one file: each CHECK line once.
    for name in ("oneshot.count", "periodic.count-at-least-3",
                 "tpr-masked.irr-bit"):
        n = len(re.findall(r"^%s: " % re.escape(name), log, re.M))
        assert n == 1, "%s printed %d times:\n%s" % (name, n, log[-3000:])


# ---- the default guest (issue 14's Done-when) ---------------------------

BOOT_TIMEOUT = int(os.environ.get("RAX_GDB_TIMEOUT", "300"))


def guest_session(procs, tmp_path, monkeypatch, *args):
    """The default guest under gdb, decompressed on the host, with args."""
    d = default_guest_dir()
    monkeypatch.setenv("RAX_GUEST_DIR", d)
    return Session(procs, tmp_path, ["--decompress", "host", *args],
                   os.path.join(d, "vmlinux"), timeout=BOOT_TIMEOUT)


@pytest.fixture
def linux(procs, tmp_path, monkeypatch):
    return guest_session(procs, tmp_path, monkeypatch)


def full_state(s):
    return s.state()


def all_threads_state(s):
    """Every vCPU's registers (gdb's threads) and the instruction count,
    the selected thread kept."""
    out = s.cmd("python sel = gdb.selected_thread(); print('ST' + 'ATE=' + "
                "repr([gdb.execute('monitor icount', to_string=True)"
                ".split()[1]] + [(t.num, [int(gdb.selected_frame()"
                ".read_register(r)) & 0xffffffffffffffff for r in %r]) "
                "for t in gdb.selected_inferior().threads() "
                "if t.switch() is None])); sel.switch()" % REGS)
    m = re.search(r"STATE=(\[.*\])", out)
    assert m, out
    return m.group(1)


@pytest.fixture
def linux2(procs, tmp_path, monkeypatch):
    """The default guest on two vCPUs."""
    return guest_session(procs, tmp_path, monkeypatch, "--cpus", "2")


def ramhash(s):
    out = s.cmd("monitor ramhash")
    m = re.search(r"ram ([0-9a-f]+)", out)
    assert m, out
    return m.group(1)


def wait_console(s, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in s.rax.read_stderr():
            return
        time.sleep(0.5)
    pytest.fail("%r not on the console:\n%s" % (text,
                                                s.rax.read_stderr()[-2000:]))


def record_to_shell(s):
    """The history on: continue until the guest's shell is up."""
    out = s.cmd("monitor history")
    assert re.search(r"history: \d+ snapshots", out), out
    s.gdb.send("continue")
    wait_console(s, "RAX-GUEST-READY", BOOT_TIMEOUT)
    time.sleep(1)


def goto_each(s, points):
    """monitor goto each instruction count in points, in order."""
    for n in points:
        out = s.cmd("monitor goto %d" % n, timeout=BOOT_TIMEOUT)
        assert "at %d instructions" % n in out, out


def stepi_back_and_forth(s, n, state):
    """n stepi recording state(s) after each, n reverse-stepi comparing
    each state with the recorded one, n stepi again reaching each
    recorded state; guest RAM (a hash) the same at both ends each way."""
    states = [state(s)]
    ram0 = ramhash(s)
    for _ in range(n):
        s.cmd("stepi")
        states.append(state(s))
    ram_n = ramhash(s)
    for i in range(n - 1, -1, -1):
        out = s.cmd("reverse-stepi")
        assert NO_MORE not in out, out
        assert state(s) == states[i], "reverse-stepi to %d" % i
    assert ramhash(s) == ram0
    for i in range(1, n + 1):
        s.cmd("stepi")
        assert state(s) == states[i], "stepi again to %d" % i
    assert ramhash(s) == ram_n


def test_linux_stepi_200_back_and_forth(linux):
    """(a) at a breakpoint late in boot: 200 stepi recording all
    registers, 200 reverse-stepi comparing, 200 stepi again to the
    identical state (instruction count, registers, guest RAM)."""
    s = linux
    out = s.cmd("tbreak run_init_process")
    out = s.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "run_init_process" in out, out
    stepi_back_and_forth(s, 200, full_state)


def reverse_continue_to_the_hostname_write(s):
    """At the shell: `hostname x`, a watchpoint on the kernel's nodename,
    reverse-continue: it stops in sethostname with gdb's old value 'x'."""
    s.gdb.send("continue")
    wait_console(s, "RAX-GUEST-READY", BOOT_TIMEOUT)
    time.sleep(1)
    s.rax.type("hostname x\n")
    time.sleep(3)
    s.gdb.interrupt()
    out = s.cmd("p init_uts_ns.name.nodename[0]")
    assert "'x'" in out, out
    s.cmd("watch -l init_uts_ns.name.nodename[0]")
    out = s.cmd("reverse-continue", timeout=BOOT_TIMEOUT)
    assert "atchpoint" in out and "Old value" in out, out
    assert "'x'" in out.split("Old value")[1].split("\n")[0], out
    bt = s.cmd("bt")
    assert "sethostname" in bt, bt


def test_linux_watchpoint_on_the_hostname(linux):
    """(b) at the shell: `hostname x`, then a watchpoint on the kernel's
    nodename and reverse-continue: stops where sethostname wrote it,
    with gdb's old and new values."""
    s = linux
    reverse_continue_to_the_hostname_write(s)
    assert "x" != s.cmd("p init_uts_ns.name.nodename[0]")


def test_linux_reverse_finish_and_reverse_next(linux):
    """(c) reverse-finish out of kernel_execve lands on its call in the
    caller; next over the call, reverse-next back to the start of that
    line (before the call, in the caller), next again: the same state."""
    s = linux
    s.cmd("tbreak kernel_execve")
    out = s.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "kernel_execve" in out, out
    out = s.cmd("reverse-finish")
    sym = s.cmd("info symbol $pc")
    assert "kernel_execve" not in sym, (out, sym)
    caller = sym.split()[0]
    at_call = int(s.icount())
    s.cmd("next", timeout=BOOT_TIMEOUT)
    after = full_state(s)
    out = s.cmd("reverse-next", timeout=BOOT_TIMEOUT)
    assert s.cmd("info symbol $pc").split()[0] == caller, out
    assert int(s.icount()) <= at_call, out
    s.cmd("next", timeout=BOOT_TIMEOUT)
    assert full_state(s) == after


def test_linux_start_of_history_and_no_repeated_output(linux):
    """(d) reverse-continue with no breakpoint ends at the start of the
    history; (e) forward again, the console output is not repeated."""
    s = linux
    s.cmd("tbreak run_init_process")
    out = s.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "run_init_process" in out, out
    out = s.cmd("reverse-continue", timeout=BOOT_TIMEOUT)
    assert NO_MORE in out, out
    s.cmd("tbreak run_init_process")
    out = s.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "run_init_process" in out, out
    s.gdb.send("continue")
    wait_console(s, "RAX-GUEST-READY", BOOT_TIMEOUT)
    log = s.rax.read_stderr()
    assert log.count("Linux version") == 1, log[-3000:]
    assert log.count("RAX-GUEST-READY") == 1, log[-3000:]


def test_linux_ctrl_c_interrupts_a_reverse_search(linux):
    """Ctrl-C during a reverse-continue that would replay the whole boot
    stops it somewhere before; the guest then goes on forward."""
    s = linux
    s.gdb.send("continue")
    wait_console(s, "RAX-GUEST-READY", BOOT_TIMEOUT)
    s.gdb.interrupt()
    at_shell = int(s.icount())
    s.gdb.send("reverse-continue")
    time.sleep(0.3)
    out = s.gdb.interrupt(timeout=60)
    assert NO_MORE not in out, out
    assert "SIGINT" in out, out
    assert 0 < int(s.icount()) < at_shell
    for _ in range(30):  # the replay to the live edge, then live
        s.gdb.send("continue")
        time.sleep(2)
        s.gdb.interrupt(timeout=60)
        if int(s.icount()) > at_shell:
            break
    assert int(s.icount()) > at_shell


# ---- two vCPUs ------------------------------------------------------------

def test_linux_smp_reverse_stepi_matches_recorded_states(linux2):
    """--cpus 2: one clock for both vCPUs, snapshots of both and of the
    turns.  At a breakpoint late in boot, 60 stepi of the thread that hit
    it (logged steps) recording both vCPUs' registers, 60 reverse-stepi
    comparing, 60 stepi again; then, at a later breakpoint, 60
    reverse-stepi on the recorded run (both vCPUs taking turns) and 60
    stepi forward through it reaching the same states."""
    s = linux2
    out = s.cmd("tbreak run_init_process")
    out = s.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "run_init_process" in out, out
    out = s.cmd("info threads")
    assert "Thread 2" in out, out
    stepi_back_and_forth(s, 60, all_threads_state)
    out = s.cmd("tbreak do_execveat_common")
    out = s.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "do_execveat_common" in out, out
    back = [all_threads_state(s)]
    for _ in range(60):
        out = s.cmd("reverse-stepi")
        assert NO_MORE not in out, out
        back.append(all_threads_state(s))
    assert len(set(back)) == len(back), "reverse-stepi did not move"
    for i in range(59, -1, -1):
        s.cmd("stepi")
        assert all_threads_state(s) == back[i], "stepi forward to %d" % i


def test_linux_smp_watchpoint_on_the_hostname(linux2):
    """--cpus 2, at the shell: `hostname x`, a watchpoint on the
    nodename, reverse-continue stops in sethostname with gdb's old and
    new values, whichever vCPU ran it."""
    s = linux2
    reverse_continue_to_the_hostname_write(s)


# ---- virtio devices ----------------------------------------------------------

def test_linux_virtio_rng_replays_the_same_bytes(procs, tmp_path, monkeypatch):
    """--rng with the history: the device's queues and its byte stream
    are saved with each snapshot, so replays give the guest the same
    bytes.  At the shell, read /dev/hwrng; then travel back to the
    middle of the boot and to its start, and forward again: guest RAM
    is the same (the kernel's entropy pool and dd's buffers hold what
    virtio-rng gave)."""
    s = guest_session(procs, tmp_path, monkeypatch, "--rng")
    record_to_shell(s)
    s.rax.type("dd if=/dev/hwrng bs=16 count=4 2>/dev/null | od -An -tx1;"
               " cat /sys/class/misc/hw_random/rng_current\n")
    wait_console(s, "virtio_rng.0", 60)
    time.sleep(1)
    s.gdb.interrupt()
    end = s.icount()
    ram = ramhash(s)
    goto_each(s, (end // 2, end, 1000, end))
    assert ramhash(s) == ram


def test_linux_virtio_blk_is_copy_on_write_under_the_history(
        procs, tmp_path, monkeypatch):
    """--disk with --history (asked for: not on by default with a disk):
    the guest's writes go to the history's
    overlay, not to the image; reading back (page cache dropped) gives
    the guest what it wrote; travelling back before the write and
    forward again repeats the same reads and writes (guest RAM the same)
    and the image file stays as it was."""
    image = os.path.join(str(tmp_path), "disk.img")
    with open(image, "wb") as f:
        f.write(bytes(1 << 20))
        f.seek(8 * 512)
        f.write(b"ORIGINAL")
    with open(image, "rb") as f:
        before = hashlib.sha256(f.read()).hexdigest()
    s = guest_session(procs, tmp_path, monkeypatch, "--disk", image,
                      "--history", "512M")
    record_to_shell(s)
    s.rax.type("dd if=/dev/vda bs=512 skip=8 count=1 2>/dev/null | "
               "head -c 8; echo ' <-first'; printf WRITTEN1 | "
               "dd of=/dev/vda bs=512 seek=8 conv=notrunc 2>/dev/null; "
               "sync; echo 3 > /proc/sys/vm/drop_caches; "
               "dd if=/dev/vda bs=512 skip=8 count=1 2>/dev/null | "
               "head -c 8; echo ' <-again'\n")
    wait_console(s, "WRITTEN1 <-again", 60)
    assert "ORIGINAL <-first" in s.rax.read_stderr()
    time.sleep(1)
    s.gdb.interrupt()
    end = s.icount()
    ram = ramhash(s)
    goto_each(s, (end // 2, end, 1000, end))
    assert ramhash(s) == ram
    with open(image, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == before


def test_linux_virtio_net_frames_are_logged_and_replayed(
        procs, tmp_path, monkeypatch):
    """--net with the history: received frames are host input the history
    logs.  At the shell, DHCP and a wget from an HTTP server on the
    host; then back to the middle of the boot and forward again: the
    replay gives the guest the same frames (guest RAM the same), its
    transmissions are not sent again (the server sees one request), and
    the console does not print the page twice."""
    import http.server
    import secrets
    import threading
    r = subprocess.run([RAX, "--kernel", "/nonexistent", "--net", "user"],
                       capture_output=True, text=True, timeout=60)
    if "without libslirp" in r.stderr:
        pytest.skip("rax was built without libslirp (libslirp-dev)")
    token = "served-by-the-host-" + secrets.token_hex(8)
    (tmp_path / "hello.txt").write_text(token + "\n")
    requests = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            requests.append(args)

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        lambda *a: Handler(*a, directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        s = guest_session(procs, tmp_path, monkeypatch, "--net", "user")
        record_to_shell(s)
        s.rax.type("udhcpc -i eth0 -n -q -t 5 >/dev/null 2>&1; wget -q -O - "
                   "http://10.0.2.2:%d/hello.txt\n" % httpd.server_address[1])
        deadline = time.monotonic() + 120
        while s.rax.read_stderr().count(token) < 1:
            assert time.monotonic() < deadline, s.rax.read_stderr()[-2000:]
            time.sleep(0.5)
        time.sleep(1)
        s.gdb.interrupt()
        assert len(requests) == 1, requests
        end = s.icount()
        ram = ramhash(s)
        goto_each(s, (end // 2, end))
        assert ramhash(s) == ram
        assert len(requests) == 1, requests
        assert s.rax.read_stderr().count(token) == 1
    finally:
        httpd.shutdown()
        httpd.server_close()
