# The gdb server end to end with real gdb, on the fake engine (no real
# CPU needed): tests/unit/test_rsp_target runs rsp_open/rsp_run exactly
# as main.c does, over the fake engine of tests/unit/test_rsp_fake.c.
#
# Run (after `make check` built the target program):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v tests/py/test_gdb_fake.py
#
# The program (see test_rsp_target.c), entry 0x100000, rdi = 0x200000:
#   100000 inc rax; 100003 nop; 100004 stosb; 100005 nop;
#   100006 inc rax; 100009 jmp $
import os
import re
import socket
import time

import pytest

from conftest import BUILD, Gdb, Target, free_port, wait_listening

TARGET = os.path.join(BUILD, "tests", "unit", "test_rsp_target")
PROGRAM = bytes([0x48, 0xff, 0xc0, 0x90, 0xaa, 0x90, 0x48, 0xff, 0xc0,
                 0xeb, 0xfe])

pytestmark = pytest.mark.skipif(not os.access(TARGET, os.X_OK),
                                reason="%s is not built (run make check)"
                                % TARGET)


def start(procs, tmp_path, transport="tcp", extra=(), wait=True):
    """Starts the fake target (with --wait); returns (target, gdb address)."""
    if transport == "tcp":
        port = free_port()
        addr, gdb_addr, probe = ("127.0.0.1:%d" % port,
                                 "127.0.0.1:%d" % port, ("127.0.0.1", port))
    else:
        path = os.path.join(str(tmp_path), "gdb.sock")
        addr, gdb_addr, probe = "unix:" + path, path, path
    t = Target([TARGET, addr] + (["--wait"] if wait else []) + list(extra),
               tmp_path)
    procs.append(t)
    wait_listening(probe, t)
    return t, gdb_addr


def attach(procs, gdb_addr):
    g = Gdb()
    procs.append(g)
    out = g.cmd("target remote %s" % gdb_addr)
    assert "Remote debugging using" in out, out
    return g


@pytest.mark.parametrize("transport", ["tcp", "unix"])
def test_gdb_attaches_and_stops_at_the_entry(procs, tmp_path, transport):
    t, a = start(procs, tmp_path, transport)
    g = attach(procs, a)
    assert g.reg("rip") == 0x100000
    assert g.reg("rax") == 0x41
    assert g.reg("rdi") == 0x200000
    out = g.cmd("x/11xb 0x100000")
    got = bytes(int(w, 16) for line in out.splitlines()
                for w in line.split(":")[1].split())
    assert got == PROGRAM
    assert "inc    %rax" in g.cmd("x/i $pc")
    g.cmd("kill")
    assert t.wait(10) == 0


def test_stepi_and_nexti_advance_one_instruction(procs, tmp_path):
    t, a = start(procs, tmp_path)
    g = attach(procs, a)
    g.cmd("stepi")
    assert g.reg("rip") == 0x100003 and g.reg("rax") == 0x42
    g.cmd("nexti")
    assert g.reg("rip") == 0x100004
    assert "stos" in g.cmd("x/i $pc")


def test_breakpoints_software_and_hardware_hit(procs, tmp_path):
    t, a = start(procs, tmp_path)
    g = attach(procs, a)
    g.cmd("break *0x100006")
    out = g.cmd("continue")
    assert "Breakpoint 1, 0x0000000000100006" in out, out
    assert g.reg("rip") == 0x100006
    g.cmd("delete")
    g.cmd("set $rip = 0x100000")
    assert "Hardware assisted breakpoint 2" in g.cmd("hbreak *0x100005")
    assert "hw breakpoint" in g.cmd("info breakpoints")
    out = g.cmd("continue")
    assert "Breakpoint 2, 0x0000000000100005" in out, out
    assert g.reg("rip") == 0x100005
    g.cmd("delete")
    g.cmd("set $rip = 0x100000")
    g.cmd("tbreak *0x100003")
    out = g.cmd("continue")
    assert "Temporary breakpoint 3, 0x0000000000100003" in out, out
    assert "No breakpoints" in g.cmd("info breakpoints")


def test_a_write_watchpoint_reports_the_address(procs, tmp_path):
    t, a = start(procs, tmp_path)
    g = attach(procs, a)
    out = g.cmd("watch *(char *)0x200000")
    assert "Hardware watchpoint 1" in out, out
    out = g.cmd("continue")
    assert "Hardware watchpoint 1: *(char *)0x200000" in out, out
    assert "New value = 66 'B'" in out, out
    assert g.reg("rip") == 0x100005


def test_ctrl_c_interrupts_a_running_guest(procs, tmp_path):
    t, a = start(procs, tmp_path)
    g = attach(procs, a)
    g.send("continue")
    g.child.expect("Continuing", timeout=10)
    time.sleep(0.5)
    out = g.interrupt()
    assert "SIGINT" in out, out
    assert g.reg("rip") == 0x100009


def test_detach_lets_the_guest_run_and_a_new_gdb_attaches(procs, tmp_path):
    t, a = start(procs, tmp_path)
    g = attach(procs, a)
    assert "Detaching" in g.cmd("detach") or True
    g.close()
    time.sleep(0.5)
    assert t.poll() is None, t.read_stderr()
    g2 = attach(procs, a)
    assert g2.reg("rip") == 0x100009  # ran on to the loop while detached
    assert g2.reg("rax") == 0x43
    g2.cmd("kill")
    assert t.wait(10) == 0


def test_a_gdb_that_hangs_up_while_held_leaves_room_for_the_next(
        procs, tmp_path):
    # The server reads gdb's socket itself while the guest is stopped, so
    # it is the one that sees the EOF; the connection must still end and
    # the next gdb be served, with the guest still held (--wait).
    t, a = start(procs, tmp_path)
    for _ in range(2):
        r = Raw(int(a.rsplit(":", 1)[1]))
        r.packet("?")
        assert r.reply().startswith("T05thread:01;")
        r.close()
        time.sleep(0.3)
        assert t.poll() is None, t.read_stderr()
    g = attach(procs, a)
    assert g.reg("rip") == 0x100000  # still held at the entry
    g.cmd("kill")
    assert t.wait(10) == 0
    assert "refused" not in t.read_stderr()


def test_a_second_gdb_is_refused_while_one_is_attached(procs, tmp_path):
    t, a = start(procs, tmp_path)
    g = attach(procs, a)
    g2 = Gdb()
    procs.append(g2)
    out = g2.cmd("target remote %s" % a)
    assert re.search("connection closed|Connection reset|disconnected", out,
                     re.I), out
    assert "refused a second connection" in t.read_stderr()
    assert g.reg("rip") == 0x100000  # the first one still works
    g.cmd("kill")
    assert t.wait(10) == 0


def test_registers_agree_with_the_monitor(procs, tmp_path):
    t, a = start(procs, tmp_path)
    g = attach(procs, a)
    mon = g.cmd("monitor info registers")
    assert "RIP=0000000000100000" in mon, mon
    assert "DR7=" in mon
    efer = g.reg("efer")
    assert "EFER=%016x" % efer in mon
    assert "CR3=%016x" % g.reg("cr3") in mon
    out = g.cmd("info registers cr3 efer fs_base")
    assert "cr3" in out and "efer" in out and "fs_base" in out, out
    assert "rax 0.1.0 (engine: fake)" in g.cmd("monitor info version")
    assert "phys on|off" in g.cmd("monitor help")
    assert "guest-physical" in g.cmd("monitor phys on")


def test_an_exit_request_ends_the_session_with_W(procs, tmp_path):
    t, a = start(procs, tmp_path, extra=["--exit-after-ms", "1500"])
    g = attach(procs, a)
    out = g.cmd("continue", timeout=20)
    assert "exited normally" in out, out
    assert t.wait(10) == 0


def test_gdb_attaching_to_a_running_guest_stops_it(procs, tmp_path):
    t, a = start(procs, tmp_path, wait=False)
    time.sleep(0.5)
    g = attach(procs, a)
    assert g.reg("rip") == 0x100009
    g.send("continue")
    g.child.expect("Continuing", timeout=10)
    time.sleep(0.3)
    assert "SIGINT" in g.interrupt()
    g.cmd("kill")
    assert t.wait(10) == 0


def test_without_gdb_the_guest_runs_and_exits(procs, tmp_path):
    t, a = start(procs, tmp_path, wait=False, extra=["--exit-after-ms", "300"])
    assert t.wait(10) == 0


def test_a_crash_without_gdb_ends_with_status_3(procs, tmp_path):
    t = Target([TARGET, "127.0.0.1:%d" % free_port(), "--crash"], tmp_path)
    procs.append(t)
    assert t.wait(10) == 3
    err = t.read_stderr()
    assert "triple fault" in err and "EFER=" in err, err


def test_a_crash_is_a_sigsegv_stop_and_detach_exits_3(procs, tmp_path):
    t, a = start(procs, tmp_path, extra=["--crash"])
    g = attach(procs, a)
    out = g.cmd("continue")
    assert "SIGSEGV" in out, out
    assert g.reg("rip") == 0x100009
    assert "engine: triple fault" in g.cmd("monitor info registers")
    g.cmd("detach")
    assert t.wait(10) == 3


def test_gdb_over_a_serial_line(procs, tmp_path):
    """--gdb /dev/pts/N: gdb talks to a second pty; a relay thread copies
    bytes between the two masters, like a null-modem cable."""
    import pty
    import select
    import threading

    m1, s1 = pty.openpty()
    m2, s2 = pty.openpty()
    stop = []

    def relay():
        while not stop:
            r, _, _ = select.select([m1, m2], [], [], 0.1)
            for fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    return
                os.write(m2 if fd == m1 else m1, data)

    th = threading.Thread(target=relay, daemon=True)
    th.start()
    try:
        t = Target([TARGET, os.ttyname(s1), "--wait"], tmp_path)
        procs.append(t)
        time.sleep(0.5)
        assert t.poll() is None, t.read_stderr()
        g = attach(procs, os.ttyname(s2))
        assert g.reg("rip") == 0x100000
        g.cmd("stepi")
        assert g.reg("rip") == 0x100003
        g.cmd("kill")
        assert t.wait(10) == 0
    finally:
        stop.append(1)
        th.join(5)
        for fd in (m1, s1, m2, s2):
            os.close(fd)


# ---- raw protocol, no gdb ------------------------------------------------

def csum(payload):
    return "%02x" % (sum(payload.encode()) & 0xff)


def unrle(payload):
    """Expands run-length encoding: X*n is X and n - 29 more copies."""
    return re.sub(r"(.)\*(.)", lambda m: m.group(1) * (ord(m.group(2)) - 28),
                  payload, flags=re.S)


class Raw:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data if isinstance(data, bytes) else data.encode())

    def packet(self, payload):
        self.send("$%s#%s" % (payload, csum(payload)))

    def read_until(self, pred):
        while not pred(self.buf):
            chunk = self.s.recv(65536)
            assert chunk, "connection closed; got %r" % self.buf
            self.buf += chunk

    def reply(self):
        """The next $...#cc packet's payload (acks before it dropped)."""
        self.read_until(lambda b: b"#" in b[b.find(b"$"):]
                        and len(b) >= b.find(b"#", b.find(b"$")) + 3
                        and b.find(b"$") >= 0)
        start = self.buf.find(b"$")
        end = self.buf.find(b"#", start)
        payload = self.buf[start + 1:end]
        assert self.buf[end + 1:end + 3].decode() == \
            "%02x" % (sum(payload) & 0xff)
        self.buf = self.buf[end + 3:]
        return unrle(payload.decode())

    def close(self):
        self.s.close()


def test_the_server_naks_bad_checksums_and_rejects_oversize(procs, tmp_path):
    port = free_port()
    t = Target([TARGET, "127.0.0.1:%d" % port, "--wait"], tmp_path)
    procs.append(t)
    wait_listening(("127.0.0.1", port), t)
    r = Raw(port)
    try:
        r.send("garbage$g#00")
        r.read_until(lambda b: b"-" in b)
        assert r.buf == b"-"
        r.buf = b""
        r.packet("?")
        # rbp, rsp, rip (06, 07, 10) expedited after the reason.
        assert re.fullmatch(r"T05thread:01;06:0{16};07:[0-9a-f]{16};"
                            r"10:0000100000000000;", r.reply())
        r.packet("qUnknownThing")
        assert r.reply() == ""
        big = "m" * 0x40010
        r.packet(big)
        assert r.reply() == "E07"
        r.packet("m100000,b")
        assert r.reply() == PROGRAM.hex()
        r.packet("mffffffffff000000,4")
        assert r.reply() == "E14"
        # Range stepping: step while rip stays in [100000,100006).
        r.packet("vCont;r100000,100006")
        assert r.reply().startswith("T05thread:01;06:")
        r.packet("p10")
        assert r.reply() == "0600100000000000"
        # A NAK makes the server send its last packet again.
        r.send("-")
        assert r.reply() == "0600100000000000"
        r.packet("QStartNoAckMode")
        assert r.reply() == "OK"
        r.send("+")
        r.buf = b""
        r.packet("qC")
        assert r.reply() == "QC1"
        assert b"+" not in r.buf
        r.packet("k")
    finally:
        r.close()
    assert t.wait(10) == 0


def tcp_listen_addresses(port):
    """Local addresses (hex, as /proc/net/tcp shows them) listening on
    port."""
    want = ":%04X" % port
    with open("/proc/net/tcp") as f:
        return [line.split()[1].split(":")[0] for line in f.readlines()[1:]
                if line.split()[1].endswith(want) and line.split()[3] == "0A"]


def test_an_empty_host_means_loopback_and_a_wildcard_warns(procs, tmp_path):
    port = free_port()
    t = Target([TARGET, ":%d" % port, "--wait"], tmp_path)
    procs.append(t)
    wait_listening(("127.0.0.1", port), t)
    assert tcp_listen_addresses(port) == ["0100007F"]  # 127.0.0.1
    assert "every interface" not in t.read_stderr()
    t.kill()
    port = free_port()
    (tmp_path / "w").mkdir()
    t = Target([TARGET, "*:%d" % port, "--wait"], tmp_path / "w")
    procs.append(t)
    wait_listening(("0.0.0.0", port), t)
    assert tcp_listen_addresses(port) == ["00000000"]
    assert "every interface" in t.read_stderr()
