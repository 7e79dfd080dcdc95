# rax's process lifecycle (README "Exit status"), on the interpreter at
# the default guest's shell:
# - SIGTERM, SIGINT and SIGHUP end rax by that same signal (a shell sees
#   128 + N), saying why, with the terminal back in the mode it had, on
#   a terminal and on a piped console;
# - gdb killed with SIGKILL during `continue` leaves the guest running
#   and the server ready for the next gdb;
# - rax killed while gdb is attached: gdb reports the remote end closed
#   (SIGKILL), or the program terminated by the signal (SIGTERM).
#
# Run (after `make` and `make guest` in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_lifecycle.py
# or `make check` (tests/py/lifecycle.sh).  Every process a test starts
# is killed by its PID at teardown; every wait has a timeout.
import os
import re
import signal
import subprocess
import termios
import threading
import time

import pexpect
import pytest

from conftest import BUILD, Gdb, free_port

RAX = os.path.join(BUILD, "rax")
PROMPT = "~ # "
BOOT_TIMEOUT = float(os.environ.get("RAX_BOOT_TIMEOUT", "600"))
SIGNALS = {"SIGTERM": signal.SIGTERM, "SIGINT": signal.SIGINT,
           "SIGHUP": signal.SIGHUP}


def boot(procs, *args):
    """rax (default guest, interpreter) on a pty, at its shell prompt."""
    if not os.access(RAX, os.X_OK):
        pytest.skip("%s is not built" % RAX)
    child = pexpect.spawn(RAX, ["--backend", "emulator", *args],
                          encoding="utf-8", codec_errors="replace",
                          timeout=BOOT_TIMEOUT)
    procs.append(child)
    if child.expect(["not built", "RAX-GUEST-READY"]) == 0:
        pytest.skip("the default guest is not built: run 'make guest'")
    child.expect_exact(PROMPT, timeout=120)
    return child


def answers(child):
    """The guest's shell computes 6*7."""
    child.sendline("echo $((6*7))")
    child.expect(r"\n42\r?\n", timeout=120)
    child.expect_exact(PROMPT, timeout=120)


@pytest.fixture
def procs():
    started = []
    yield started
    for p in reversed(started):
        try:
            if isinstance(p, Gdb):
                p.close()
            elif isinstance(p, subprocess.Popen):
                if p.poll() is None:
                    p.kill()
                    p.wait(timeout=30)
            elif p.isalive():
                p.kill(signal.SIGKILL)
        except Exception:  # teardown must go on
            pass


@pytest.mark.parametrize("name", sorted(SIGNALS))
def test_a_signal_ends_rax_by_it_and_restores_the_terminal(procs, name):
    child = boot(procs)
    lflag = termios.tcgetattr(child.child_fd)[3]
    assert not lflag & (termios.ICANON | termios.ECHO)  # raw while running
    os.kill(child.pid, SIGNALS[name])
    child.expect(pexpect.EOF, timeout=60)
    attrs = termios.tcgetattr(child.child_fd)  # the pty outlives rax
    child.close()
    assert child.signalstatus == SIGNALS[name], (child.exitstatus,
                                                 child.before[-2000:])
    assert "rax: terminated by %s" % name in child.before
    assert attrs[3] & termios.ICANON and attrs[3] & termios.ECHO
    assert attrs[1] & termios.OPOST


@pytest.mark.parametrize("name", ["SIGINT", "SIGTERM"])
def test_a_signal_ends_rax_on_a_piped_console(procs, name):
    if not os.access(RAX, os.X_OK):
        pytest.skip("%s is not built" % RAX)
    p = subprocess.Popen([RAX, "--backend", "emulator"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    procs.append(p)
    seen, ready = [], threading.Event()

    def reader():
        for line in iter(p.stdout.readline, b""):
            seen.append(line)
            if b"RAX-GUEST-READY" in line or b"not built" in line:
                ready.set()
        ready.set()

    threading.Thread(target=reader, daemon=True).start()
    assert ready.wait(BOOT_TIMEOUT)
    if any(b"not built" in l for l in seen):
        pytest.skip("the default guest is not built: run 'make guest'")
    p.send_signal(SIGNALS[name])
    assert p.wait(timeout=60) == -SIGNALS[name]
    p.stdout.close()


def attach(procs, port):
    g = Gdb()
    procs.append(g)
    out = g.cmd("target remote 127.0.0.1:%d" % port, timeout=60)
    assert "Remote debugging using" in out, out
    return g


def test_gdb_killed_during_continue_leaves_the_guest_running(procs):
    port = free_port()
    child = boot(procs, "--gdb", "127.0.0.1:%d" % port)
    g = attach(procs, port)
    g.send("continue")
    g.child.expect("Continuing", timeout=30)
    os.kill(g.child.pid, signal.SIGKILL)
    g.child.expect(pexpect.EOF, timeout=30)
    answers(child)  # the guest runs on
    g2 = attach(procs, port)  # and the server takes the next gdb
    out = g2.cmd("info registers rip")
    assert re.search(r"rip\s+0x[0-9a-f]+", out), out
    g2.cmd("detach")
    answers(child)


@pytest.mark.parametrize("when", ["stopped", "during continue"])
def test_rax_killed_makes_gdb_report_the_remote_end_closed(procs, when):
    port = free_port()
    child = boot(procs, "--gdb", "127.0.0.1:%d" % port)
    g = attach(procs, port)
    if when == "during continue":
        g.send("continue")
        g.child.expect("Continuing", timeout=30)
    os.kill(child.pid, signal.SIGKILL)
    child.expect(pexpect.EOF, timeout=30)
    if when == "stopped":
        g.send("monitor info version")  # registers are cached
    # gdb says "Remote connection closed" when the socket ends with a
    # FIN, and "Remote communication error.  Target disconnected." when
    # it ends with a reset (the killed rax had unread bytes from gdb).
    g.child.expect(["Remote connection closed", "Target disconnected"],
                   timeout=60)
    g.child.expect(Gdb.PROMPT, timeout=30)


def test_sigterm_during_continue_is_reported_to_gdb(procs):
    port = free_port()
    child = boot(procs, "--gdb", "127.0.0.1:%d" % port)
    g = attach(procs, port)
    g.send("continue")
    g.child.expect("Continuing", timeout=30)
    os.kill(child.pid, signal.SIGTERM)
    g.child.expect("Program terminated with signal SIGTERM", timeout=60)
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.signalstatus == signal.SIGTERM


def test_sigterm_before_rax_reads_continue_is_reported_to_gdb(procs):
    """gdb's `continue` still unread when SIGTERM comes (rax stopped with
    SIGSTOP meanwhile): rax serves it first and answers X0f."""
    port = free_port()
    child = boot(procs, "--gdb", "127.0.0.1:%d" % port)
    g = attach(procs, port)
    os.kill(child.pid, signal.SIGSTOP)
    g.send("continue")
    g.child.expect("Continuing", timeout=30)
    time.sleep(0.5)  # the vCont packet reaches rax's socket
    os.kill(child.pid, signal.SIGTERM)
    os.kill(child.pid, signal.SIGCONT)
    g.child.expect("Program terminated with signal SIGTERM", timeout=60)
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.signalstatus == signal.SIGTERM
