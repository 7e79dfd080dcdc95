# The gdb server's connection lifecycle under abuse, against rax booting
# the default guest to its shell on the interpreter: quick re-attaches,
# abrupt disconnects, garbage, an oversize packet, bad checksums, random
# packets and a second client; afterwards a clean gdb must attach, the
# guest must answer at its shell, and rax's RSS must have grown by less
# than 16 MiB.  The tests run in file order on one rax (module fixture).
# Only packets any target answers are used ('?', 'g', qSupported, 'D'),
# so the test holds for more vCPUs and gdb threads too.  127.0.0.1 only.
#
# Run (after `make` and `make guest` in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v -s tests/py/test_gdb_stress.py
# or `make check` (tests/py/gdb-stress.sh).  rax is killed by its PID at
# the end; every wait has a timeout.
import os
import random
import re
import socket
import struct

import pexpect
import pytest

from conftest import BUILD, Gdb, free_port

RAX = os.path.join(BUILD, "rax")
PROMPT = "~ # "
BOOT_TIMEOUT = float(os.environ.get("RAX_BOOT_TIMEOUT", "600"))
RSS_GROWTH_MAX = 16 << 20
rng = random.Random(20261207)


class Raw:
    """A raw RSP client: frames packets, acks replies, skips the acks
    and `O` console packets the server sends."""

    def __init__(self, port, timeout=30):
        self.s = socket.create_connection(("127.0.0.1", port),
                                          timeout=timeout)
        # As gdb does: an ack and the next packet are two small writes.
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    @staticmethod
    def frame(payload):
        return b"$%s#%02x" % (payload, sum(payload) & 0xff)

    def send(self, payload):
        self.s.sendall(self.frame(payload))

    def recv(self):
        """The next reply's payload (run-length encoding left as is);
        EOFError when the server closed the connection."""
        while True:
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i) if i >= 0 else -1
            if j >= 0 and len(self.buf) >= j + 3:
                payload, self.buf = self.buf[i + 1:j], self.buf[j + 3:]
                self.s.sendall(b"+")
                if payload[:1] == b"O" and payload != b"OK":
                    continue  # monitor output
                return payload
            data = self.s.recv(1 << 16)
            if not data:
                raise EOFError("the server closed the connection")
            self.buf += data

    def ask(self, payload):
        self.send(payload)
        return self.recv()

    def close(self, reset=False):
        if reset:  # RST instead of FIN
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                              struct.pack("ii", 1, 0))
        self.s.close()


class Rax:
    """rax --gdb on a free port, its console under pexpect."""

    def __init__(self):
        if not os.access(RAX, os.X_OK):
            pytest.skip("%s is not built" % RAX)
        self.port = free_port()
        # --history off: the RSS check below looks for leaks in the
        # gdb server; the history's snapshots grow, within their budget.
        self.child = pexpect.spawn(RAX, ["--backend", "emulator", "--gdb",
                                         "127.0.0.1:%d" % self.port,
                                         "--history", "off"],
                                   encoding="utf-8", codec_errors="replace",
                                   timeout=BOOT_TIMEOUT)
        i = self.child.expect([r"not built", "RAX-GUEST-READY",
                               pexpect.EOF])
        if i == 0:
            self.child.expect(pexpect.EOF)
            pytest.skip("the default guest is not built: run 'make guest'")
        assert i == 1, self.child.before[-2000:]
        self.child.expect_exact(PROMPT, timeout=120)
        self.rss0 = self.rss()

    def rss(self):
        with open("/proc/%d/status" % self.child.pid) as f:
            return int(re.search(r"VmRSS:\s*(\d+) kB", f.read()).group(1)) \
                * 1024

    def drain(self):
        """Reads the console (a full pty would stall the guest)."""
        try:
            while True:
                self.child.read_nonblocking(1 << 16, timeout=0)
        except (pexpect.TIMEOUT, pexpect.EOF):
            pass

    def alive(self):
        return self.child.isalive()

    def kill(self):
        if self.child.isalive():
            self.child.kill(9)
        self.child.close(force=True)


@pytest.fixture(scope="module")
def rax():
    r = Rax()
    yield r
    r.kill()


def attach_detach(port):
    """One gdb-like session: qSupported, ?, g, D.  Returns whether the
    server answered every packet (a refused connection does not)."""
    try:
        c = Raw(port)
    except OSError:
        return False
    try:
        if b"PacketSize=" not in c.ask(b"qSupported:multiprocess+;"
                                       b"swbreak+;hwbreak+"):
            return False
        if c.ask(b"?")[:1] not in (b"S", b"T"):
            return False
        regs = c.ask(b"g")
        if not regs or regs[:1] == b"E":
            return False
        return c.ask(b"D") == b"OK"
    except (OSError, EOFError):
        return False
    finally:
        c.close()


def random_packet():
    """A packet whose payload is random, but never one that resumes,
    writes, kills or changes the protocol ('c', 'M', 'k', 'Q', 'v'...)."""
    kind = rng.randrange(6)
    if kind == 0:
        return b"m%x,%x" % (rng.getrandbits(rng.choice((12, 32, 64))),
                            rng.choice((0, 1, 8, 4096, 0x10000,
                                        0x7fffffff)))
    if kind == 1:
        return b"p%x" % rng.randrange(0x200)
    if kind == 2:
        cmd = rng.choice((b"help", b"info version", b"info registers",
                          b"info mem", b"rdmsr 0xc0000080",
                          bytes(rng.randrange(32, 127) for _ in range(9))))
        return b"qRcmd," + cmd.hex().encode()
    if kind == 3:
        return b"qXfer:features:read:target.xml:%x,%x" % (
            rng.randrange(0x10000), rng.randrange(1, 0x10000))
    body = bytes(rng.choice(b"0123456789abcdefxyz:;,.=-_ ")
                 for _ in range(rng.randrange(64)))
    return rng.choice(b"?gmpqHTz").to_bytes(1, "little") + body


def test_100_attach_detach_cycles_back_to_back_are_all_served(rax):
    served = sum(attach_detach(rax.port) for _ in range(100))
    rax.drain()
    print("attach/detach cycles served: %d of 100" % served)
    assert served == 100
    assert rax.alive()


def test_200_abrupt_disconnects_mid_packet(rax):
    for i in range(200):
        c = Raw(rax.port)
        f = Raw.frame(random_packet())
        c.s.sendall(f[:rng.randrange(1, len(f) - 1)])
        c.close(reset=bool(i & 1))
    rax.drain()
    assert attach_detach(rax.port)


def test_garbage_bytes_between_packets(rax):
    for i in range(20):
        c = Raw(rax.port)
        junk = bytes(b for b in rng.randbytes(4096) if b != ord("$"))
        c.s.sendall(junk)
        if i & 1:  # the server resynchronises at the next '$'
            stop = c.ask(b"?")
            while stop[:1] not in (b"S", b"T"):  # a '-' resent the last
                stop = c.recv()
            assert c.ask(b"D") == b"OK"
        c.close(reset=bool(i & 2))
    rax.drain()
    assert attach_detach(rax.port)


def test_a_600_kb_packet_without_its_end(rax):
    body = b"a" * (600 << 10)
    c = Raw(rax.port)
    c.s.sendall(b"$" + body)
    c.s.sendall(b"#%02x" % (sum(body) & 0xff))
    assert c.recv() == b"E07"  # E2BIG, then the connection goes on
    assert c.ask(b"?")[:1] in (b"S", b"T")
    c.s.sendall(b"$" + body)  # and once more, dropped before its end
    c.close()
    rax.drain()
    assert attach_detach(rax.port)


def test_bad_checksums_are_refused_with_a_nak(rax):
    c = Raw(rax.port)
    for _ in range(50):
        c.s.sendall(b"$?#00")
    naks = b""
    while naks.count(b"-") < 50:
        data = c.s.recv(4096)
        assert data, "closed after %d NAKs" % naks.count(b"-")
        naks += data
    assert b"$" not in naks  # no packet was served
    assert c.ask(b"?")[:1] in (b"S", b"T")
    assert c.ask(b"D") == b"OK"
    c.close()


def test_random_well_framed_packets_all_get_a_reply(rax):
    c = Raw(rax.port)
    for _ in range(300):
        c.ask(random_packet())
    assert c.ask(b"D") == b"OK"
    c.close()
    rax.drain()
    assert attach_detach(rax.port)


def test_a_second_client_is_refused_while_one_is_attached(rax):
    first = Raw(rax.port)
    assert first.ask(b"?")[:1] in (b"S", b"T")
    second = Raw(rax.port, timeout=20)
    second.send(b"?")
    try:
        second.recv()
        refused = False
    except (EOFError, ConnectionResetError):
        refused = True
    second.close()
    assert refused
    assert first.ask(b"g")
    assert first.ask(b"D") == b"OK"
    first.close()
    rax.drain()


def test_then_a_clean_gdb_attaches_and_detaches(rax):
    g = Gdb()
    try:
        out = g.cmd("target remote 127.0.0.1:%d" % rax.port, timeout=60)
        assert "Remote debugging using" in out, out
        out = g.cmd("info registers rip")
        assert re.search(r"rip\s+0x[0-9a-f]+", out), out
        out = g.cmd("detach")
        assert "Detaching" in out or "detached" in out, out
    finally:
        g.close()
    rax.drain()


def test_then_the_guest_answers_a_shell_command(rax):
    rax.drain()
    rax.child.sendline("echo $((6*7))")
    rax.child.expect(r"\n42\r?\n", timeout=120)
    rax.child.expect_exact(PROMPT, timeout=120)


def test_and_rss_grew_by_less_than_16_mib(rax):
    rss = rax.rss()
    print("rax RSS: %.1f MiB after boot, %.1f MiB after the stress "
          "(+%.1f MiB)" % (rax.rss0 / 2**20, rss / 2**20,
                           (rss - rax.rss0) / 2**20))
    assert rss - rax.rss0 < RSS_GROWTH_MAX
