# Shared helpers for the gdb end-to-end suites.
#
# Run (from the source tree, after building in ./build):
#   make -C build check-gdb
# or by hand:
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py
#
# Every process a test starts is killed by its PID at teardown; every
# wait has a timeout.
import os
import signal
import socket
import subprocess
import time

import pexpect
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.environ.get("RAX_BUILD", os.path.join(HERE, "..", "..", "build"))
GDB = os.environ.get("GDB", "gdb")


def pytest_sessionfinish(session, exitstatus):
    """make check (RAX_AUTOMAKE=1, tests/py/run-pytest.sh): a suite
    whose tests all skipped is a SKIP (77) to Automake, one where only
    some skipped is a failure, and one that ran nothing an error (99):
    a PASS means everything the suite names ran."""
    if os.environ.get("RAX_AUTOMAKE") != "1" or exitstatus not in (0, 5):
        return
    rep = session.config.pluginmanager.get_plugin("terminalreporter")
    stats = rep.stats if rep else {}
    ran = sum(len(stats.get(k, [])) for k in ("passed", "xfailed",
                                              "xpassed"))
    skipped = len(stats.get("skipped", []))
    if skipped and not ran:
        first = stats["skipped"][0].longrepr
        reason = first[2] if isinstance(first, tuple) else str(first)
        session.exitstatus, why = 77, "SKIP: all %d tests: %s" % (
            skipped, reason.replace("Skipped: ", "", 1))
    elif skipped:
        session.exitstatus, why = 1, ("FAIL: %d tests skipped, %d ran: a "
                                      "partial run is not a pass" %
                                      (skipped, ran))
    elif not ran:
        session.exitstatus, why = 99, "ERROR: no test ran"
    else:
        return
    if rep:
        rep.write("\n")
        rep.write_line(why)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "tcg_xfail(reason): a strict xfail on the kvm-nested "
        "engine only (test_gdb_linux.py: what QEMU's TCG cannot deliver; "
        "kvm-intel, in Bochs, delivers it)")
    config.addinivalue_line(
        "markers", "bochs_xfail(reason): a strict xfail on the kvm-intel "
        "engine only, when Bochs is older than 2.8 (test_gdb_linux.py)")


# (test id, Bochs ticks its outer machine used): test_gdb_linux.py's
# kvm-intel sessions add one each at teardown, the summary prints them.
BOCHS_TICKS = []


def pytest_terminal_summary(terminalreporter):
    if BOCHS_TICKS:
        terminalreporter.section("Bochs ticks per kvm-intel session "
                                 "(at its last log line)")
        for test, ticks in BOCHS_TICKS:
            terminalreporter.write_line("%14s  %s" % (ticks, test))


def free_port():
    """A TCP port nobody listens on right now (bind to 0, then close)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(addr):
    """Is addr (("host", port) or a unix socket path) listening?  Looks in
    /proc instead of connecting: a connection would be a gdb attaching."""
    if isinstance(addr, str):
        return os.path.exists(addr)
    want = ":%04X" % addr[1]
    with open("/proc/net/tcp") as f:
        return any(line.split()[1].endswith(want) and line.split()[3] == "0A"
                   for line in f.readlines()[1:])


def wait_listening(addr, proc, timeout=20.0):
    """Polls until addr listens, or fails when proc exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError("target exited with %s before listening:\n%s"
                                 % (proc.returncode, proc.read_stderr()))
        if listening(addr):
            return
        time.sleep(0.05)
    raise AssertionError("nothing listens on %r after %ss" % (addr, timeout))


class Target:
    """A process we started (rax or the fake target), stderr to a file."""

    def __init__(self, argv, tmp_path, env=None, stdin=subprocess.DEVNULL):
        """stdin=subprocess.PIPE: type() writes to the target's stdin (rax:
        the guest's console input)."""
        self.errpath = os.path.join(str(tmp_path), "target.stderr")
        self.err = open(self.errpath, "wb")
        self.p = subprocess.Popen(argv, stdin=stdin,
                                  stdout=self.err, stderr=self.err,
                                  env=env)
        self.returncode = None

    def type(self, text):
        self.p.stdin.write(text.encode())
        self.p.stdin.flush()

    def poll(self):
        self.returncode = self.p.poll()
        return self.returncode

    def wait(self, timeout):
        self.returncode = self.p.wait(timeout=timeout)
        return self.returncode

    def read_stderr(self):
        self.err.flush()
        with open(self.errpath, "rb") as f:
            return f.read().decode(errors="replace")

    def kill(self):
        if self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGKILL)
            self.p.wait(timeout=10)
        if self.p.stdin:
            self.p.stdin.close()
        self.err.close()


class Gdb:
    """An interactive gdb under pexpect (so Ctrl-C can interrupt)."""

    PROMPT = r"\(gdb\) "

    def __init__(self, args=(), timeout=30):
        self.child = pexpect.spawn(GDB, ["-q", "-nx", "-iex", "set pagination off",
                                         "-iex", "set confirm off",
                                         "-iex", "set width 0"] + list(args),
                                   encoding="utf-8", timeout=timeout,
                                   env=dict(os.environ, TERM="dumb"),
                                   codec_errors="replace")
        self.child.expect(self.PROMPT)

    def cmd(self, line, timeout=None):
        """Runs one command; returns its output (without the prompt)."""
        self.child.sendline(line)
        self.child.expect(self.PROMPT, timeout=timeout or self.child.timeout)
        out = self.child.before
        # Drop the echoed command line.
        return out.split("\n", 1)[1] if "\n" in out else ""

    def send(self, line):
        """Sends a command that runs the target; no wait."""
        self.child.sendline(line)

    def interrupt(self, timeout=10):
        self.child.sendcontrol("c")
        self.child.expect(self.PROMPT, timeout=timeout)
        return self.child.before

    def wait_prompt(self, timeout=None):
        self.child.expect(self.PROMPT, timeout=timeout or self.child.timeout)
        return self.child.before

    def reg(self, name):
        out = self.cmd("p/x $%s" % name)
        return int(out.split("=")[1].strip(), 16)

    def close(self):
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def procs():
    """Collects what a test starts (Targets, Gdbs, pexpect children);
    kills them all (by PID) at teardown."""
    started = []
    yield started
    for p in reversed(started):
        try:
            if isinstance(p, Gdb):
                p.close()
            elif isinstance(p, pexpect.spawn):
                if p.isalive():
                    p.kill(signal.SIGKILL)
            else:
                p.kill()
        except Exception:  # teardown must go on
            pass


def default_guest_dir(require=()):
    """The default guest's directory ($RAX_GUEST_DIR, else
    examples/build-guest.sh --print-dir); skips the test when the guest
    is not built, or when its kernel config lacks one of the lines in
    require (e.g. "CONFIG_ACPI=y")."""
    d = os.environ.get("RAX_GUEST_DIR") or subprocess.run(
        ["bash", os.path.join(HERE, "..", "..", "examples", "build-guest.sh"),
         "--print-dir"], check=True, capture_output=True,
        text=True).stdout.strip()
    if not os.path.exists(os.path.join(d, ".complete")) or not all(
            os.path.exists(os.path.join(d, f)) for f in
            ("bzImage", "vmlinux", "initramfs.cpio.gz")):
        pytest.skip("the default guest is not built: run 'make guest'")
    if require:
        with open(os.path.join(d, "config")) as f:
            config = f.read().split("\n")
        for line in require:
            if line not in config:
                pytest.skip("the default guest was built without %s" % line)
    return d


@pytest.fixture
def guest():
    """The default guest's directory (bzImage, vmlinux, initramfs)."""
    return default_guest_dir()
