# Issue 4's milestones: real gdb against rax booting the default guest,
# on each engine: kvm and emulator on this host; kvm-nested, where rax
# runs on real KVM (kvm_amd) inside an L1 Linux under QEMU TCG (the
# harness of tests/nested/run.py); and kvm-intel, where rax runs on
# kvm_intel inside an L1 Linux under Bochs with a VT-x model (the harness
# of tests/intel/run.py).  In both nested cases gdb reaches rax over L1's
# ttyS1, i.e. through rax's serial-line transport (--gdb /dev/ttyS1).
#
# Run (after building rax in ./build and the default guest; kvm-nested
# and kvm-intel also need `make guest-l1 rax-static`):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_gdb_linux.py
# Pick the guest with RAX_GUEST_DIR (default: the one examples/build-guest.sh
# names for the current config), and one engine with -k kvm / -k emulator /
# -k nested / -k intel.
#
# A test is skipped only when a prerequisite is missing: rax or the guest
# is not built, or rax reports the engine unusable on this host ("not
# implemented", a failed KVM self-test, built without KVM); the skip
# message quotes rax.  Everything else that stops a milestone fails.
#
# kvm-nested: QEMU 7.2's TCG delivers neither int3 breakpoints nor
# debug-register breakpoints and watchpoints to a KVM guest (NO_SWBP and
# NO_DRBP below; DEVELOPERS.md has the evidence).  There the tests that
# need them are strict xfails (they fail loudly once QEMU delivers them),
# and the others reach the running kernel by Ctrl-C at the guest's shell
# instead of a breakpoint (Session.stop_in_kernel).  kvm-intel needs
# neither: Bochs gives an int3 in a VMX guest to KVM's #BP intercept and
# arms the debug registers KVM loads; its two strict xfails are Bochs
# 2.7's single-step bug (BOCHS_PENDING_DBG below).
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import (BOCHS_TICKS, BUILD, HERE, Gdb, Target, default_guest_dir,
                      free_port, wait_listening)

RAX = os.path.join(BUILD, "rax")
ENGINES = ["kvm", "emulator"]
# What rax says when an engine cannot run here at all.
UNUSABLE = re.compile(r"not implemented|self-test failed|built without KVM|"
                      r"no usable engine|/dev/kvm", re.I)
# Generous: the interpreter is slow, and the machine is shared.
BOOT_TIMEOUT = int(os.environ.get("RAX_GDB_TIMEOUT", "300"))
# Nested KVM boots the guest in seconds: a stop that takes longer is not
# coming (keeps a failing nested run from taking an hour).
NESTED_TIMEOUT = int(os.environ.get("RAX_GDB_NESTED_TIMEOUT", "90"))
# In Bochs the guest's boot on KVM takes about 15 s of wall time; this only
# guards against a stop that never comes (Bochs's own budget is ticks).
INTEL_TIMEOUT = int(os.environ.get("RAX_GDB_INTEL_TIMEOUT", "600"))
# Console lines that say a boot-path breakpoint will never be reported:
# the guest reached its shell, or died.  (An int3 that went to the guest
# ends in early_fixup_exception(), which prints only with an early
# console: the default guest has none, so that case waits the timeout.)
PASSED_BY = re.compile(r"RAX-GUEST-READY|PANIC: early exception|"
                       r"Kernel panic")

# What QEMU's TCG cannot deliver to real KVM nested in it.  NO_SWBP holds
# for QEMU 7.2 (Debian 12) and 10.0.2 (bookworm-backports) alike; NO_DRBP
# only before QEMU 10 (seen on 7.2; on 10.0.2 the DR0-DR3 breakpoints and
# watchpoints of KVM_GUESTDBG_USE_HW_BP fire: tests/nested/qemu-backports.sh).
NO_SWBP = ("QEMU TCG (7.2 and 10.0.2) checks an int3 in an SVM guest against the INTn "
           "intercept only (raise_interrupt2() in target/i386/tcg/"
           "excp_helper.c), not the #BP exception intercept that KVM sets "
           "for KVM_GUESTDBG_USE_SW_BP: gdb's software breakpoints go to "
           "the guest")
NO_DRBP = ("QEMU 7.2 TCG's helper_vmrun() (target/i386/tcg/sysemu/"
           "svm_helper.c) loads DR7 from the VMCB by assignment, not "
           "cpu_x86_update_dr7(), so the DR0-DR3 breakpoints and "
           "watchpoints KVM loads for KVM_GUESTDBG_USE_HW_BP are never "
           "inserted into TCG (hw_breakpoint_insert() in bpt_helper.c)")


# What Bochs 2.7 (Debian 12) gets wrong for kvm_intel nested in it:
# after a VM exit in the middle of an instruction executed with RFLAGS.TF
# (an EPT violation on its first touch of a page), VMexitSaveGuestState()
# (cpu/vmx.cc) stores the single-step trap Bochs had already scheduled for
# that instruction into the guest's pending debug exceptions (DR6.BS), and
# the next VM entry raises the #DB before the instruction runs.  KVM
# reports that #DB as the completed step: RIP has not moved.  At the entry
# the guest has touched no page yet (page tables, code), so `stepi` there
# stops in place several times.  The SDM has the field cleared after such
# VM exits; Bochs does so since 2.8 (upstream commits 60cc8020e and
# fde226f31, November 2023).
BOCHS_PENDING_DBG = ("Bochs 2.7 saves the single-step trap of an instruction "
                     "interrupted by a VM exit (an EPT violation at the "
                     "first touch of a page) as a pending debug exception: "
                     "the next VM entry raises #DB before the instruction "
                     "runs, so `stepi` at the entry does not move (fixed in "
                     "Bochs 2.8, 60cc8020e)")


def bochs_xfail(reason):
    """A strict xfail on the kvm-intel engine when Bochs is older than
    2.8 (BOCHS_PENDING_DBG)."""
    return pytest.mark.bochs_xfail(reason=reason)


def tcg_xfail(reason, drbp=False):
    """Marks a test as a strict xfail on the kvm-nested engine only;
    drbp: only when L0's QEMU is older than 10 (NO_DRBP)."""
    return pytest.mark.tcg_xfail(reason=reason, drbp=drbp)


def qemu_major(qemu):
    """The major version `qemu --version` prints, or 0."""
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True,
                             text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return 0
    m = re.search(r"version (\d+)\.", out)
    return int(m.group(1)) if m else 0


class Session:
    """rax with --gdb-wait on a TCP port, and gdb attached with vmlinux."""

    breaks = True  # gdb's breakpoints are reported on this engine

    def __init__(self, procs, tmp_path, engine, extra=()):
        if not os.access(RAX, os.X_OK):
            pytest.skip("%s is not built" % RAX)
        self.engine = engine
        self.procs = procs
        self.timeout = BOOT_TIMEOUT
        self.dir = default_guest_dir()
        port = free_port()
        self.addr = "127.0.0.1:%d" % port
        env = dict(os.environ, RAX_GUEST_DIR=self.dir)
        # --decompress host: the kernel proper is in place before the
        # first instruction, so software breakpoints set at the entry stop
        # (break start_kernel) are not overwritten by the decompressor.
        self.rax = Target([RAX, "--backend", engine, "--log", "info,boot",
                           "--decompress", "host",
                           "--gdb", self.addr, "--gdb-wait", *extra],
                          tmp_path, env=env, stdin=subprocess.PIPE)
        procs.append(self.rax)
        try:
            wait_listening(("127.0.0.1", port), self.rax, timeout=60)
        except AssertionError:
            err = self.rax.read_stderr()
            lines = [l for l in err.splitlines() if UNUSABLE.search(l)]
            if lines:
                pytest.skip("engine %s unusable here: %s" % (engine, lines[0]))
            raise
        self.gdb = self.attach()

    def attach(self):
        """A new gdb with vmlinux, connected."""
        g = Gdb(["-iex", "set auto-load safe-path /"], timeout=self.timeout)
        self.procs.append(g)
        g.cmd("file %s" % os.path.join(self.dir, "vmlinux"))
        out = g.cmd("target remote %s" % self.addr, timeout=60)
        assert "Remote debugging using" in out, out
        return g

    def console(self):
        """rax's console and log so far."""
        return self.rax.read_stderr()

    def type(self, text):
        """Types text at the guest's console (rax's stdin)."""
        self.rax.type(text)

    def alive(self):
        return self.rax.poll() is None

    def wait_exit(self, timeout):
        return self.rax.wait(timeout)

    def run_to(self, func, hw=False):
        """tbreak FUNC (thbreak with hw: a debug register) on the boot
        path; continue; asserts the stop is in FUNC.  Fails at once when
        the console shows the guest got past FUNC without a stop
        (PASSED_BY)."""
        import pexpect
        g = self.gdb
        g.cmd("%s %s" % ("thbreak" if hw else "tbreak", func))
        seen = len(self.console())
        g.send("continue")
        deadline = time.monotonic() + self.timeout
        out = None
        while out is None:
            try:
                out = g.wait_prompt(timeout=1)
            except pexpect.TIMEOUT:
                ran = self.console()[seen:]
                m = PASSED_BY.search(ran)
                if m or time.monotonic() > deadline:
                    why = ("the guest printed %r" % m.group(0) if m else
                           "no stop reply within %s s" % self.timeout)
                    pytest.fail("%s not reached: %s; the guest ran on:\n%s"
                                % (func, why, ran[-2000:]))
        assert "Temporary breakpoint" in out and func in out, \
            "%s not reached:\n%s\n--- rax:\n%s" % (func, out,
                                                  self.console()[-3000:])
        return out

    def stop_at_shell(self):
        """Continues until the guest's shell is up, then Ctrl-C."""
        g = self.gdb
        g.send("continue")
        g.child.expect("Continuing", timeout=10)
        deadline = time.monotonic() + self.timeout
        while "RAX-GUEST-READY" not in self.console():
            assert time.monotonic() < deadline, self.console()[-2000:]
            time.sleep(0.5)
        time.sleep(2)  # let it settle into the idle loop
        out = g.interrupt(timeout=30)
        assert "SIGINT" in out, out
        return out

    def stop_in_kernel(self, func):
        """Stops the running kernel: at FUNC where breakpoints are
        reported, else (kvm-nested, NO_SWBP) by Ctrl-C at the shell."""
        return self.run_to(func) if self.breaks else self.stop_at_shell()


def load_nested_harness():
    import importlib.util
    path = os.path.join(HERE, "..", "nested", "run.py")
    spec = importlib.util.spec_from_file_location("nested_run", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class QemuChild:
    """The QEMU we spawned, for the procs fixture to kill by PID."""

    def __init__(self, child):
        self.child = child

    def kill(self):
        self.child.close(force=True)


class NestedSession(Session):
    """rax --backend kvm --gdb /dev/ttyS1 --gdb-wait inside L1 (QEMU TCG
    with nested SVM); gdb connects to the unix socket behind L1's ttyS1."""

    L1_CMD = ("exec /rax --backend kvm --log info,boot --decompress host "
              "--kernel /guest/bzImage --initrd /guest/initramfs.cpio.gz "
              "--gdb /dev/ttyS1 --gdb-wait")

    breaks = False  # NO_SWBP, NO_DRBP
    engine = "kvm-nested"

    def __init__(self, procs, tmp_path, extra=""):
        import shutil

        import pexpect
        nr = load_nested_harness()
        static = os.environ.get("RAX_STATIC",
                                os.path.join(BUILD, "rax-static"))
        guest, l1 = nr.cache_dir(False), nr.cache_dir(True)
        if not guest:
            pytest.skip("the default guest is not built: run 'make guest'")
        if not l1:
            pytest.skip("the L1 host kernel is not built: run 'make guest-l1'")
        if not os.access(static, os.X_OK):
            pytest.skip("%s is not built: run 'make rax-static'" % static)
        qemu = (os.environ.get("RAX_NESTED_QEMU") or
                shutil.which("qemu-system-x86_64"))
        if not qemu:
            pytest.skip("qemu-system-x86_64 is not installed")
        self.qemu_bin = qemu
        self.procs, self.dir = procs, guest
        self.timeout = NESTED_TIMEOUT
        opt = nr.Options(cmd=self.L1_CMD + (" " + extra if extra else ""))
        initrd = nr.make_initrd(str(tmp_path), guest, l1, static, opt)
        self.addr = os.path.join(str(tmp_path), "ttyS1.sock")
        argv = self.qemu_argv(nr, qemu, l1, initrd)
        l0 = pexpect.spawn(argv[0], argv[1:], encoding="utf-8",
                           codec_errors="replace",
                           timeout=BOOT_TIMEOUT, dimensions=(50, 200))
        procs.append(QemuChild(l0))
        self.start(l0, tmp_path, BOOT_TIMEOUT)

    def start(self, l0, tmp_path, timeout):
        """l0: the outer machine's console (pexpect).  Waits for rax's
        entry stop in L1, drains the console into a log from then on,
        attaches gdb."""
        import pexpect
        self.l0 = l0
        self.logpath = os.path.join(str(tmp_path), "console.log")
        self.log = open(self.logpath, "w")
        self.l0.logfile_read = self.log
        i = self.l0.expect([r"rax: info: boot: kernel \S+ entry",
                            r"RAX-L1-EXIT (\d+)", pexpect.TIMEOUT,
                            pexpect.EOF], timeout=timeout)
        if i == 1:
            lines = [l for l in self.console().splitlines()
                     if UNUSABLE.search(l)]
            if lines:
                pytest.skip("engine kvm unusable in L1: %s" % lines[0].strip())
        assert i == 0, "rax did not start in L1:\n" + self.console()[-3000:]
        # Drain the console from now on: a full pty (or socket) would
        # stall the outer machine's serial output, then L1, then rax's
        # console writes.
        self.draining = True
        self.drain = threading.Thread(target=self.drain_console, daemon=True)
        self.drain.start()
        self.procs.append(self)
        self.gdb = self.attach()

    def qemu_argv(self, nr, qemu, l1, initrd):
        """The harness's QEMU command line; its optional knobs (-cpu, more
        kernel parameters) at the defaults of its command line."""
        import inspect
        known = {"qemu": qemu, "l1": l1, "initrd": initrd, "sock": self.addr,
                 "cpu": "qemu64,+svm,+npt", "append": ""}
        params = inspect.signature(nr.qemu_argv).parameters
        missing = [p for p, v in params.items() if p not in known and
                   v.default is inspect.Parameter.empty]
        if missing:
            pytest.fail("tests/nested/run.py: qemu_argv() wants %s; update "
                        "NestedSession" % ", ".join(missing))
        return nr.qemu_argv(**{p: known[p] for p in params if p in known})

    def drain_console(self):
        import pexpect
        while self.draining:
            try:
                self.l0.read_nonblocking(1 << 16, timeout=0.2)
            except pexpect.TIMEOUT:
                pass
            except (pexpect.EOF, OSError, ValueError):
                return

    def kill(self):
        """procs teardown: stop draining (QemuChild or BochsChild ends
        the outer machine)."""
        self.draining = False
        self.drain.join(5)
        self.log.close()

    def console(self):
        self.log.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def type(self, text):
        """Types text at L1's console, which is rax's stdin (raw)."""
        self.l0.send(text)

    def alive(self):
        return "RAX-L1-EXIT" not in self.console()

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            m = re.search(r"RAX-L1-EXIT (\d+)", self.console())
            if m:
                return int(m.group(1))
            time.sleep(0.2)
        raise AssertionError("rax in L1 did not exit in %ss" % timeout)


def load_intel_harness():
    import importlib.util
    path = os.path.join(HERE, "..", "intel", "run.py")
    spec = importlib.util.spec_from_file_location("intel_run", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class BochsChild:
    """The Bochs we started (tests/intel/run.py), for the procs fixture:
    its gdb relay, then Bochs itself (by id); notes the ticks it used."""

    def __init__(self, bochs, relay, test):
        self.bochs, self.relay, self.test = bochs, relay, test

    def kill(self):
        self.relay.close()
        self.bochs.stop()
        BOCHS_TICKS.append((self.test, self.bochs.ticks()))


class BochsSession(NestedSession):
    """rax --backend kvm --gdb /dev/ttyS1 --gdb-wait inside L1 in Bochs
    with a VT-x model (kvm_intel); gdb connects to the harness's relay of
    Bochs's COM2, which is L1's ttyS1."""

    breaks = True
    engine = "kvm-intel"

    def __init__(self, procs, tmp_path, test):
        ir = load_intel_harness()
        static = os.environ.get("RAX_STATIC",
                                os.path.join(BUILD, "rax-static"))
        try:
            _, _, self.dir, _, _ = ir.prerequisites(static)
            bochs = ir.boot(str(tmp_path), self.L1_CMD, rax=static,
                            ticks=ir.SESSION_TICKS)
        except ir.Skip as why:
            pytest.skip(str(why))
        self.bochs_version = ir.bochs_version(bochs.bochs)
        relay = ir.Relay(bochs.com2)
        procs.append(BochsChild(bochs, relay, test))
        self.procs = procs
        self.timeout = INTEL_TIMEOUT
        self.addr = "127.0.0.1:%d" % relay.port
        self.start(bochs.console, tmp_path, INTEL_TIMEOUT)


@pytest.fixture(params=ENGINES + ["kvm-nested", "kvm-intel"])
def session(request, procs, tmp_path):
    if request.param == "kvm-intel":
        s = BochsSession(procs, tmp_path, request.node.name)
        mark = request.node.get_closest_marker("bochs_xfail")
        if mark and s.bochs_version < (2, 8):
            request.applymarker(pytest.mark.xfail(
                strict=True, reason=mark.kwargs["reason"]))
        return s
    if request.param != "kvm-nested":
        return Session(procs, tmp_path, request.param)
    s = NestedSession(procs, tmp_path)
    # Only now: a harness that fails to start must fail, not xfail.
    mark = request.node.get_closest_marker("tcg_xfail")
    if mark and mark.kwargs.get("drbp") and qemu_major(s.qemu_bin) >= 10:
        mark = None
    if mark:
        request.applymarker(pytest.mark.xfail(
            strict=True, reason=mark.kwargs["reason"]))
    return s


def test_gdb_wait_stops_at_the_loaders_entry(session):
    g = session.gdb
    rip = g.reg("rip")
    m = re.search(r"entry (0x[0-9a-f]+)", session.console())
    assert m, session.console()
    assert rip == int(m.group(1), 16)
    # Memory at the entry reads (physical = virtual on the boot tables).
    out = g.cmd("x/2xg $pc")
    assert "Cannot access" not in out and "0x" in out, out


def next_insn(g):
    """The address of the instruction after the one at $pc."""
    out = g.cmd("x/2i $pc")
    addrs = re.findall(r"^\s*(?:=> )?(0x[0-9a-f]+)", out, re.M)
    assert len(addrs) == 2, out
    return int(addrs[1], 16)


@bochs_xfail(BOCHS_PENDING_DBG)
def test_stepi_and_nexti_step_one_instruction_at_the_entry(session):
    # The kernel's first instructions (startup_64) set up registers and
    # the stack: no branch, no call, so each step ends at the next one.
    g = session.gdb
    for cmd in ("stepi", "nexti", "stepi"):
        want = next_insn(g)
        g.cmd(cmd)
        assert g.reg("rip") == want, "%s: %#x, not %#x" % (
            cmd, g.reg("rip"), want)


def test_a_gdb_write_replaces_an_instruction_already_decoded(session):
    # The first stepi makes the interpreter decode the entry's
    # straight-line code, the next instruction included; gdb then writes
    # `mov $0x1234, %eax` (b8 34 12 00 00) over that instruction, and the
    # next stepi must run the new bytes (write_mem forgets what was
    # decoded from them; nothing else is flushed at a stop).
    g = session.gdb
    g.cmd("stepi")
    pc = g.reg("rip")
    g.cmd("set *(unsigned int *)%#x = 0x001234b8" % pc)
    g.cmd("set *(unsigned char *)%#x = 0" % (pc + 4))
    assert "mov    $0x1234,%eax" in g.cmd("x/i $pc")
    g.cmd("stepi")
    assert g.reg("rip") == pc + 5
    assert g.reg("rax") & 0xffffffff == 0x1234


def boot_count(procs, tmp_path, with_gdb):
    """Boots the default guest on the interpreter to its marker
    (rax.exit_at_marker, a fixed --rtc-base) and returns the retired
    instructions --stats reports.  with_gdb: under gdb, which steps at
    the entry, stops at a software breakpoint (start_kernel) and a
    hardware one (rest_init), steps there, and lets the boot finish."""
    d = default_guest_dir()
    argv = [RAX, "--backend", "emulator", "--decompress", "host",
            "--kernel", os.path.join(d, "bzImage"),
            "--initrd", os.path.join(d, "initramfs.cpio.gz"),
            "--cmdline", "console=ttyS0 nokaslr reboot=k rax.exit_at_marker",
            "--rtc-base", "2026-01-01T00:00:00", "--stats"]
    port = free_port()
    if with_gdb:
        argv += ["--gdb", "127.0.0.1:%d" % port, "--gdb-wait"]
    tmp_path.mkdir()
    rax = Target(argv, tmp_path)
    procs.append(rax)
    if with_gdb:
        wait_listening(("127.0.0.1", port), rax, timeout=60)
        g = Gdb(timeout=BOOT_TIMEOUT)
        procs.append(g)
        g.cmd("file %s" % os.path.join(d, "vmlinux"))
        assert "Remote debugging" in g.cmd("target remote 127.0.0.1:%d" % port)
        for cmd in ("stepi", "stepi", "tbreak start_kernel", "continue",
                    "stepi", "nexti", "thbreak rest_init"):
            g.cmd(cmd)
        assert "rest_init" in g.cmd("continue")
        g.cmd("stepi")
        g.send("continue")
    assert rax.wait(BOOT_TIMEOUT) == 0, rax.read_stderr()[-2000:]
    m = re.search(r"(\d+) instructions retired", rax.read_stderr())
    assert m, rax.read_stderr()[-2000:]
    return int(m.group(1))


def test_gdb_stops_do_not_change_the_instruction_count(procs, tmp_path):
    # The interpreter takes every event at an exact instruction count,
    # however its decoded traces were cut: stops, steps and breakpoints
    # (which run instructions one at a time) change nothing, so the
    # boot retires the same number of instructions under gdb as without.
    if not os.access(RAX, os.X_OK):
        pytest.skip("%s is not built" % RAX)
    plain = boot_count(procs, tmp_path / "plain", False)
    assert plain > 10000000
    assert boot_count(procs, tmp_path / "gdb", True) == plain


@tcg_xfail(NO_SWBP)
def test_start_kernel_is_hit_and_bt_shows_it(session):
    session.run_to("start_kernel")
    assert "start_kernel" in session.gdb.cmd("bt")


@tcg_xfail(NO_SWBP)
def test_boot_milestones_come_in_order(session):
    for f in ("start_kernel", "rest_init", "kernel_init", "run_init_process"):
        session.run_to(f)


@tcg_xfail(NO_DRBP, drbp=True)
def test_boot_milestones_come_in_order_with_hbreak(session):
    # The same milestones through the debug registers (Z1), set at the
    # entry stop; bt at the first.
    session.run_to("start_kernel", hw=True)
    assert "start_kernel" in session.gdb.cmd("bt")
    for f in ("rest_init", "kernel_init", "run_init_process"):
        session.run_to(f, hw=True)


def test_linux_banner_matches_the_console(session):
    session.stop_in_kernel("rest_init")
    out = session.gdb.cmd("x/s linux_banner")
    banner = out.split(":", 1)[1].strip().strip('"')
    banner = banner.replace("\\n", "")
    deadline = time.monotonic() + 10
    while banner not in session.console() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert banner.startswith("Linux version")
    assert banner in session.console()


@tcg_xfail(NO_SWBP + "; and hbreak: " + NO_DRBP)
def test_stepping_commands_work_in_the_kernel(session):
    g = session.gdb
    session.run_to("start_kernel")
    pc = g.reg("rip")
    g.cmd("stepi")
    assert g.reg("rip") != pc
    pc = g.reg("rip")
    g.cmd("nexti")
    assert g.reg("rip") != pc
    g.cmd("hbreak rest_init")
    out = g.cmd("continue", timeout=session.timeout)
    assert "rest_init" in out, out
    g.cmd("delete")
    g.cmd("tbreak kernel_init")
    out = g.cmd("continue", timeout=session.timeout)
    assert "kernel_init" in out, out
    # finish from a function that returns: stop in one, then finish.
    g.cmd("tbreak kernel_init_freeable")
    g.cmd("continue", timeout=session.timeout)
    out = g.cmd("finish", timeout=session.timeout)
    assert "Run till exit" in out and "kernel_init" in out, out


@tcg_xfail(NO_DRBP, drbp=True)
def test_a_watchpoint_on_jiffies_triggers(session):
    g = session.gdb
    session.stop_in_kernel("rest_init")
    out = g.cmd("watch jiffies")
    assert "Hardware watchpoint" in out, out
    out = g.cmd("continue", timeout=session.timeout)
    assert "jiffies" in out and "New value" in out, out


@tcg_xfail(NO_DRBP, drbp=True)
def test_read_and_access_watchpoints_trigger(session):
    g = session.gdb
    session.stop_in_kernel("start_kernel")
    out = g.cmd("rwatch jiffies")
    if "Expression cannot be implemented" in out or "not supported" in out:
        pytest.fail("rwatch refused: %s" % out)
    out = g.cmd("continue", timeout=session.timeout)
    assert "read watchpoint" in out and "Value = " in out, out
    g.cmd("delete")
    out = g.cmd("awatch jiffies")
    out = g.cmd("continue", timeout=session.timeout)
    assert "access (read/write) watchpoint" in out, out


@bochs_xfail(BOCHS_PENDING_DBG)
def test_a_read_watchpoint_is_z3_or_an_access_watchpoint(session):
    # x86 debug registers have no read-only condition (SDM Vol. 3
    # §17.2.4), so the KVM engine answers Z3 as unsupported and gdb
    # emulates the read watchpoint with an access one (Z4), filtering
    # out the hits that changed the value.  The interpreter takes Z3.
    # gdb inserts watchpoints when it resumes: one stepi shows it.
    g = session.gdb
    out = g.cmd("rwatch jiffies")
    assert "read watchpoint" in out, out
    want = next_insn(g)
    g.cmd("set debug remote 1")
    out = g.cmd("stepi", timeout=60)
    g.cmd("set debug remote 0")
    if session.engine.startswith("kvm"):
        assert "Packet Z3 (read-watchpoint) is NOT supported" in out, out
        assert re.search(r"Sending packet: \$Z4,[0-9a-f]+,8#", out), out
    else:
        assert "Packet Z3 (read-watchpoint) is supported" in out, out
    assert "Could not insert" not in out, out
    assert g.reg("rip") == want
    g.cmd("delete")
    want = next_insn(g)
    g.cmd("stepi")
    assert g.reg("rip") == want


def test_ctrl_c_stops_the_idle_guest_at_its_shell(session):
    g = session.gdb
    session.stop_at_shell()
    # A frame in a known function: "#0  0x... in default_idle () at ...",
    # or without the address when the stop is at a line's first
    # instruction ("#0  arch_cpu_idle_exit () at ...").
    bt = g.cmd("bt 1")
    assert re.search(r"^#0\s+(0x[0-9a-f]+ in )?[A-Za-z_]\w* \(", bt, re.M), bt
    g.cmd("kill")
    assert session.wait_exit(60) == 0


def test_emulator_threads_are_the_vcpus(procs, tmp_path):
    """rax --cpus 4 on the interpreter: gdb sees a thread per vCPU, and
    each one's registers (its own stack and idle loop)."""
    s = Session(procs, tmp_path, "emulator", extra=("--cpus", "4"))
    g = s.gdb
    s.stop_at_shell()
    out = g.cmd("info threads")
    ids = re.findall(r"^\*?\s+(\d+)\s+Thread (\d+)", out, re.M)
    assert [t for _, t in ids] == ["1", "2", "3", "4"], out
    sps = set()
    for n, _ in ids:
        assert "Switching to thread %s" % n in g.cmd("thread %s" % n)
        bt = g.cmd("bt 1")
        assert re.search(r"^#0\s+(0x[0-9a-f]+ in )?[A-Za-z_]\w* \(", bt,
                         re.M), bt
        sps.add(g.reg("rsp"))
    assert len(sps) == 4  # four stacks
    g.cmd("kill")
    assert s.wait_exit(60) == 0


def info_cpus(g):
    """`monitor info cpus`: [(cpu, thread, activity, rip, mode)]."""
    out = g.cmd("monitor info cpus")
    rows = re.findall(r"^[ *] CPU (\d+) \(thread (\d+)\): (running|halted|"
                      r"waiting for SIPI), rip (0x[0-9a-f]+), (.+?)\r?$",
                      out, re.M)
    return [(int(c), int(t), a, int(r, 16), m) for c, t, a, r, m in rows], out


def smp_checks(s, n):
    """The guest at its shell on n vCPUs: `monitor info cpus` lists them
    in 64-bit mode; Ctrl-C while a busy loop pinned to the last CPU
    spins (the others idle) names its thread (on KVM: a running vCPU
    each time, that one within five tries); `stepi` there moves only
    that thread's RIP (scheduler-locking on: vCont;s), never into an
    interrupt handler; `thread 1` then `bt` shows that CPU's own frame;
    where breakpoints are reported, one in uname(2) run by `taskset -c
    1 uname` reports thread 2, whose `bt` shows the system call."""
    g = s.gdb
    spin = n - 1
    s.stop_at_shell()
    rows, out = info_cpus(g)
    assert [(c, t) for c, t, *_ in rows] == [(i, i + 1) for i in range(n)], out
    assert all(m == "64-bit" for *_, m in rows), out

    s.type("taskset -c %d sh -c 'while :; do :; done' &\r" % spin)
    # Each Ctrl-C names a running vCPU, never an idle one; until it names
    # the spinning CPU stopped in its user-space loop rather than in the
    # kernel (a timer tick): the step below starts there.  (On KVM a
    # vCPU busy in the kernel may be named too: with L1's one CPU their
    # threads take turns.)
    named = []
    for _ in range(5):
        g.send("continue")
        g.child.expect("Continuing", timeout=10)
        time.sleep(3)
        out = g.interrupt(timeout=30)
        m = re.search(r"Thread (\d+)\b.*received signal SIGINT", out)
        assert m, out
        rows, info = info_cpus(g)
        cpu = int(m.group(1)) - 1
        named.append(cpu)
        assert rows[cpu][2] == "running", (out, info)
        before = [r for _, _, _, r, _ in rows]
        if cpu == spin and before[spin] < 1 << 47:
            break
    # (On the interpreter too another vCPU may be named: one woken, by its
    # timer tick say, and running in its turn when the Ctrl-C lands; seen
    # once in make check, named [2, 3], CPU 2 "running".)
    assert named[-1] == spin and before[spin] < 1 << 47, (named, info)
    g.cmd("set scheduler-locking on")
    out = g.cmd("stepi")
    rows, info = info_cpus(g)
    after = [r for _, _, _, r, _ in rows]
    assert after[spin] != before[spin], (out, info)
    assert after[:spin] == before[:spin], (before, after)
    # Still the user's busy loop, not an interrupt handler (a user RIP).
    assert after[spin] < 1 << 47, hex(after[spin])
    g.cmd("set scheduler-locking off")
    assert "Switching to thread 1" in g.cmd("thread 1")
    bt = g.cmd("bt 1")
    assert re.search(r"^#0\s+(0x[0-9a-f]+ in )?[A-Za-z_]\w* \(", bt, re.M), bt
    assert g.reg("rip") == after[0]

    if s.breaks:
        out = g.cmd("break __x64_sys_newuname")
        assert "Breakpoint" in out, out
        g.send("continue")
        g.child.expect("Continuing", timeout=10)
        s.type("taskset -c 1 uname\r")
        out = g.wait_prompt(timeout=s.timeout)
        assert "__x64_sys_newuname" in out, out
        assert re.search(r"Thread 2\b.*hit Breakpoint", out), out
        assert "do_syscall_64" in g.cmd("bt")
        g.cmd("delete")
    g.cmd("kill")
    assert s.wait_exit(60) == 0


def test_emulator_on_four_vcpus_gdb_names_the_cpu_that_stops_and_steps_one(
        procs, tmp_path):
    """smp_checks() with rax --cpus 4 on the interpreter."""
    smp_checks(Session(procs, tmp_path, "emulator", extra=("--cpus", "4")), 4)


def test_kvm_nested_on_four_vcpus_gdb_names_the_cpu_that_stops_and_steps_one(
        procs, tmp_path):
    """smp_checks() with rax --backend kvm --cpus 4 in the nested harness
    (a thread per vCPU on L1's one CPU: the boot takes longer than the
    harness's usual wait, so BOOT_TIMEOUT), without the breakpoint part
    (NO_SWBP)."""
    s = NestedSession(procs, tmp_path, extra="--cpus 4")
    s.timeout = BOOT_TIMEOUT
    smp_checks(s, 4)


@tcg_xfail(NO_SWBP)
def test_a_breakpoint_in_a_system_call_stops_a_shell_command(session):
    # A software breakpoint in the running kernel, hit from user space:
    # stop at the shell, break in uname(2), type `uname` at the guest's
    # console.  The stop is in the system call, called from the syscall
    # entry; deleted, the command finishes.
    g = session.gdb
    session.stop_at_shell()
    out = g.cmd("break __x64_sys_newuname")
    assert "Breakpoint" in out, out
    g.send("continue")
    g.child.expect("Continuing", timeout=10)
    seen = len(session.console())
    session.type("uname\r")
    out = g.wait_prompt(timeout=session.timeout)
    assert "Breakpoint" in out and "__x64_sys_newuname" in out, \
        "%s\n--- console:\n%s" % (out, session.console()[-2000:])
    assert "do_syscall_64" in g.cmd("bt")
    g.cmd("delete")
    g.send("continue")
    g.child.expect("Continuing", timeout=10)
    deadline = time.monotonic() + session.timeout
    while not re.search(r"\nLinux\r*\n", session.console()[seen:]):
        assert time.monotonic() < deadline, session.console()[-2000:]
        time.sleep(0.2)


def test_registers_agree_with_monitor_info_registers(session):
    g = session.gdb
    session.stop_in_kernel("start_kernel")
    mon = g.cmd("monitor info registers")
    assert "CR3=%016x" % g.reg("cr3") in mon, mon
    assert "EFER=%016x" % g.reg("efer") in mon, mon
    fs = g.reg("fs_base")
    assert re.search(r"FS *=\w+ %016x" % fs, mon), mon
    out = g.cmd("info registers cr3 efer fs_base")
    assert "cr3" in out and "efer" in out and "fs_base" in out


def test_ymm_registers_read_and_write(session):
    """A vCPU with AVX state (the interpreter's x86-64-v3 model, the
    default where the host has it; a KVM guest whose CPUID has AVX, its
    upper halves through KVM_GET_XSAVE) describes org.gnu.gdb.i386.avx:
    $ymmN is xmmN and ymmNh, and a write from gdb reaches the vCPU and
    comes back after a stepi."""
    g = session.gdb
    session.stop_in_kernel("start_kernel")
    out = g.cmd("p $ymm0")
    if "v8_int32" not in out:
        assert "void" in out, out
        pytest.skip("this vCPU has no AVX state (a model below v3, or a "
                    "KVM guest whose CPUID lacks AVX)")
    g.cmd("set var $ymm3.v8_int32 = {1, 2, 3, 4, 5, 6, 7, -8}")
    g.cmd("stepi")
    assert "{1, 2, 3, 4, 5, 6, 7, -8}" in g.cmd("p $ymm3.v8_int32")
    assert "{1, 2, 3, 4}" in g.cmd("p $xmm3.v4_int32")
    assert "0xfffffff800000007" in g.cmd("p/x $ymm3.v4_int64[3]")


def test_interrupt_detach_reattach_and_kill(session):
    g = session.gdb
    session.stop_in_kernel("start_kernel")
    g.send("continue")
    g.child.expect("Continuing", timeout=10)
    time.sleep(2)
    out = g.interrupt(timeout=30)
    assert "SIGINT" in out, out
    g.cmd("detach")
    g.close()
    time.sleep(1)
    assert session.alive(), session.console()[-2000:]
    g2 = session.attach()
    assert g2.reg("rip") != 0
    g2.cmd("kill")
    assert session.wait_exit(60) == 0


def test_lx_dmesg_and_lx_ps_work(session):
    g = session.gdb
    script = os.path.join(session.dir, "vmlinux-gdb.py")
    if not os.path.exists(script):
        pytest.skip("%s is missing from the guest build" % script)
    session.stop_in_kernel("run_init_process")
    g.cmd("source %s" % script)
    out = g.cmd("lx-dmesg", timeout=60)
    assert "Linux version" in out, out[-2000:]
    out = g.cmd("lx-ps", timeout=60)
    assert "swapper" in out or "init" in out, out
