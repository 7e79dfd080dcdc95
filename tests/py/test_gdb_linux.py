# Issue 4's milestones: real gdb against rax booting the default guest,
# on each engine: kvm and emulator on this host, and kvm-nested, where
# rax runs on real KVM inside an L1 Linux under QEMU TCG (the harness of
# tests/nested/run.py) and gdb reaches it over L1's ttyS1, i.e. through
# rax's serial-line transport (--gdb /dev/ttyS1).
#
# Run (after building rax in ./build and the default guest; kvm-nested
# also needs `make guest-l1 rax-static`):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_gdb_linux.py
# Pick the guest with RAX_GUEST_DIR (default: the newest complete
# ~/.cache/rax/guest-*), and one engine with -k kvm / -k emulator /
# -k nested.
#
# A test is skipped only when a prerequisite is missing: rax or the guest
# is not built, or rax reports the engine unusable on this host ("not
# implemented", a failed KVM self-test, built without KVM); the skip
# message quotes rax.  Everything else that stops a milestone fails.
import glob
import os
import re
import threading
import time

import pytest

from conftest import BUILD, HERE, Gdb, Target, free_port, wait_listening

RAX = os.path.join(BUILD, "rax")
ENGINES = ["kvm", "emulator"]
# What rax says when an engine cannot run here at all.
UNUSABLE = re.compile(r"not implemented|self-test failed|built without KVM|"
                      r"no usable engine|/dev/kvm", re.I)
# Generous: the interpreter is slow, and the machine is shared.
BOOT_TIMEOUT = int(os.environ.get("RAX_GDB_TIMEOUT", "300"))


def guest_dir():
    d = os.environ.get("RAX_GUEST_DIR")
    if d:
        return d
    done = [os.path.dirname(p) for p in
            glob.glob(os.path.expanduser("~/.cache/rax/guest-*/.complete"))]
    return max(done, key=os.path.getmtime) if done else None


def need_guest():
    d = guest_dir()
    if not d or not all(os.path.exists(os.path.join(d, f)) for f in
                        ("bzImage", "vmlinux", "initramfs.cpio.gz")):
        pytest.skip("the default guest is not built (no complete "
                    "~/.cache/rax/guest-*; run examples/build-guest.sh)")
    return d


class Session:
    """rax with --gdb-wait on a TCP port, and gdb attached with vmlinux."""

    def __init__(self, procs, tmp_path, engine):
        if not os.access(RAX, os.X_OK):
            pytest.skip("%s is not built" % RAX)
        self.procs = procs
        self.dir = need_guest()
        port = free_port()
        self.addr = "127.0.0.1:%d" % port
        env = dict(os.environ, RAX_GUEST_DIR=self.dir)
        # --decompress host: the kernel proper is in place before the
        # first instruction, so software breakpoints set at the entry stop
        # (break start_kernel) are not overwritten by the decompressor.
        self.rax = Target([RAX, "--backend", engine, "--log", "info,boot",
                           "--decompress", "host",
                           "--gdb", self.addr, "--gdb-wait"],
                          tmp_path, env=env)
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
        g = Gdb(["-iex", "set auto-load safe-path /"], timeout=BOOT_TIMEOUT)
        self.procs.append(g)
        g.cmd("file %s" % os.path.join(self.dir, "vmlinux"))
        out = g.cmd("target remote %s" % self.addr, timeout=60)
        assert "Remote debugging using" in out, out
        return g

    def console(self):
        """rax's console and log so far."""
        return self.rax.read_stderr()

    def alive(self):
        return self.rax.poll() is None

    def wait_exit(self, timeout):
        return self.rax.wait(timeout)

    def run_to(self, func):
        """tbreak FUNC; continue; asserts the stop is in FUNC."""
        self.gdb.cmd("tbreak %s" % func)
        out = self.gdb.cmd("continue", timeout=BOOT_TIMEOUT)
        assert "Temporary breakpoint" in out and func in out, \
            "%s not reached:\n%s\n--- rax:\n%s" % (func, out,
                                                  self.console()[-3000:])
        return out


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

    def __init__(self, procs, tmp_path):
        import shutil
        import types

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
        qemu = shutil.which("qemu-system-x86_64")
        if not qemu:
            pytest.skip("qemu-system-x86_64 is not installed")
        self.procs, self.dir = procs, guest
        opt = types.SimpleNamespace(cmd=self.L1_CMD, gdb=False)
        initrd = nr.make_initrd(str(tmp_path), guest, l1, static, opt)
        self.addr = os.path.join(str(tmp_path), "ttyS1.sock")
        argv = self.qemu_argv(nr, qemu, l1, initrd)
        self.logpath = os.path.join(str(tmp_path), "console.log")
        self.log = open(self.logpath, "w")
        self.qemu = pexpect.spawn(argv[0], argv[1:], encoding="utf-8",
                                  codec_errors="replace",
                                  timeout=BOOT_TIMEOUT, dimensions=(50, 200))
        self.qemu.logfile_read = self.log
        procs.append(QemuChild(self.qemu))
        i = self.qemu.expect([r"rax: info: boot: kernel \S+ entry",
                              r"RAX-L1-EXIT (\d+)", pexpect.TIMEOUT,
                              pexpect.EOF], timeout=BOOT_TIMEOUT)
        if i == 1:
            lines = [l for l in self.console().splitlines()
                     if UNUSABLE.search(l)]
            if lines:
                pytest.skip("engine kvm unusable in L1: %s" % lines[0].strip())
        assert i == 0, "rax did not start in L1:\n" + self.console()[-3000:]
        # Drain the console from now on: a full pty would stall QEMU's
        # serial output, then L1, then rax's console writes.
        self.draining = True
        self.drain = threading.Thread(target=self.drain_console, daemon=True)
        self.drain.start()
        procs.append(self)
        self.gdb = self.attach()

    def qemu_argv(self, nr, qemu, l1, initrd):
        """The harness's QEMU command line; its optional knobs (-cpu, more
        kernel parameters) at the defaults of its command line."""
        import inspect
        known = {"qemu": qemu, "l1": l1, "initrd": initrd, "sock": self.addr,
                 "cpu": "qemu64,+svm,+npt", "append": ""}
        params = inspect.signature(nr.qemu_argv).parameters
        missing = [p for p in params if p not in known]
        if missing:
            pytest.fail("tests/nested/run.py: qemu_argv() wants %s; update "
                        "NestedSession" % ", ".join(missing))
        return nr.qemu_argv(**{p: known[p] for p in params})

    def drain_console(self):
        import pexpect
        while self.draining:
            try:
                self.qemu.read_nonblocking(1 << 16, timeout=0.2)
            except pexpect.TIMEOUT:
                pass
            except (pexpect.EOF, OSError, ValueError):
                return

    def kill(self):
        """procs teardown: stop draining (QemuChild kills QEMU)."""
        self.draining = False
        self.drain.join(5)
        self.log.close()

    def console(self):
        self.log.flush()
        with open(self.logpath, errors="replace") as f:
            return f.read()

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


@pytest.fixture(params=ENGINES + ["kvm-nested"])
def session(request, procs, tmp_path):
    if request.param == "kvm-nested":
        return NestedSession(procs, tmp_path)
    return Session(procs, tmp_path, request.param)


def test_gdb_wait_stops_at_the_loaders_entry(session):
    g = session.gdb
    rip = g.reg("rip")
    m = re.search(r"entry (0x[0-9a-f]+)", session.console())
    assert m, session.console()
    assert rip == int(m.group(1), 16)
    # Memory at the entry reads (physical = virtual on the boot tables).
    out = g.cmd("x/2xg $pc")
    assert "Cannot access" not in out and "0x" in out, out


def test_start_kernel_is_hit_and_bt_shows_it(session):
    session.run_to("start_kernel")
    assert "start_kernel" in session.gdb.cmd("bt")


def test_boot_milestones_come_in_order(session):
    for f in ("start_kernel", "rest_init", "kernel_init", "run_init_process"):
        session.run_to(f)


def test_linux_banner_matches_the_console(session):
    session.run_to("rest_init")
    out = session.gdb.cmd("x/s linux_banner")
    banner = out.split(":", 1)[1].strip().strip('"')
    banner = banner.replace("\\n", "")
    deadline = time.monotonic() + 10
    while banner not in session.console() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert banner.startswith("Linux version")
    assert banner in session.console()


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
    out = g.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "rest_init" in out, out
    g.cmd("delete")
    g.cmd("tbreak kernel_init")
    out = g.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "kernel_init" in out, out
    # finish from a function that returns: stop in one, then finish.
    g.cmd("tbreak kernel_init_freeable")
    g.cmd("continue", timeout=BOOT_TIMEOUT)
    out = g.cmd("finish", timeout=BOOT_TIMEOUT)
    assert "Run till exit" in out and "kernel_init" in out, out


def test_a_watchpoint_on_jiffies_triggers(session):
    g = session.gdb
    session.run_to("rest_init")
    out = g.cmd("watch jiffies")
    assert "atchpoint" in out, out
    out = g.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "jiffies" in out and "New value" in out, out


def test_read_and_access_watchpoints_trigger(session):
    g = session.gdb
    session.run_to("start_kernel")
    out = g.cmd("rwatch jiffies")
    if "Expression cannot be implemented" in out or "not supported" in out:
        pytest.fail("rwatch refused: %s" % out)
    out = g.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "read watchpoint" in out and "Value = " in out, out
    g.cmd("delete")
    out = g.cmd("awatch loops_per_jiffy")
    out = g.cmd("continue", timeout=BOOT_TIMEOUT)
    assert "access (read/write) watchpoint" in out, out


def test_ctrl_c_stops_the_idle_guest_at_its_shell(session):
    g = session.gdb
    g.send("continue")
    g.child.expect("Continuing", timeout=10)
    deadline = time.monotonic() + BOOT_TIMEOUT
    while "RAX-GUEST-READY" not in session.console():
        assert time.monotonic() < deadline, session.console()[-2000:]
        time.sleep(0.5)
    time.sleep(2)  # let it settle into the idle loop
    out = g.interrupt(timeout=30)
    assert "SIGINT" in out, out
    assert "in " in g.cmd("bt 1")
    g.cmd("kill")
    assert session.wait_exit(60) == 0


def test_registers_agree_with_monitor_info_registers(session):
    g = session.gdb
    session.run_to("start_kernel")
    mon = g.cmd("monitor info registers")
    assert "CR3=%016x" % g.reg("cr3") in mon, mon
    assert "EFER=%016x" % g.reg("efer") in mon, mon
    fs = g.reg("fs_base")
    assert re.search(r"FS *=\w+ %016x" % fs, mon), mon
    out = g.cmd("info registers cr3 efer fs_base")
    assert "cr3" in out and "efer" in out and "fs_base" in out


def test_interrupt_detach_reattach_and_kill(session):
    g = session.gdb
    session.run_to("start_kernel")
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
    session.run_to("run_init_process")
    g.cmd("source %s" % script)
    out = g.cmd("lx-dmesg", timeout=60)
    assert "Linux version" in out, out[-2000:]
    out = g.cmd("lx-ps", timeout=60)
    assert "swapper" in out or "init" in out, out
