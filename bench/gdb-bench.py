#!/usr/bin/python3
"""gdb against rax's gdb server and QEMU's gdbstub on the same guest, in
one run: stepi per second, MiB/s of `dump binary memory` over 64 MiB, and
the delay from Ctrl-C to the stop (a benchmark: it reports, it asserts
nothing).

Each target boots the default guest (bzImage + initramfs, the cmdline of
bench/boot-time.py, 512 MiB) stopped before its first instruction, with
a real gdb (under pexpect, vmlinux loaded) attached; then, the targets
taking turns rep by rep so that the machine's load hits them alike:
  1. `hbreak start_kernel`, continue; REPS x STEPS `stepi` from there,
     timed in gdb's Python (time.perf_counter);
  2. continue to the shell marker on the console; then 3 x REPS times:
     continue, 0.3 s later SIGINT to gdb through its terminal (gdb sends
     0x03), timed until gdb has printed the SIGINT stop ("stop": the
     server's stop reply plus gdb's own work after it);
  3. REPS x `dump binary memory` of 64 MiB of the direct map
     (0xffff888000000000: the guest's first 64 MiB of RAM);
  4. gdb detaches and a raw socket client sends 0x03 while the guest
     runs, 3 x REPS times, timed until the stop reply ("raw": the
     server alone).
gdb's and the server's CPU time are reported too, to show which side the
time goes to.  Medians of the reps.

Run (from the source tree, after `make -C build` and `make -C build guest`):
    /usr/bin/python3 bench/gdb-bench.py [--build build] [--reps 3]
        [--steps 2000] [--no-qemu] [--kvm] [--gdb-ex CMD]...
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import pexpect


def _boot_time():
    """bench/boot-time.py, for its guest lookup, marker and cmdline."""
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "boot-time.py")
    spec = importlib.util.spec_from_file_location("boot_time", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


BOOT_TIME = _boot_time()
MARKER = BOOT_TIME.MARKER
CMDLINE = BOOT_TIME.CMDLINE
guest_dir = BOOT_TIME.guest_dir
PROMPT = r"\(gdbbench\) "
DIRECT_MAP = 0xffff888000000000
DUMP_LEN = 64 << 20

# Loaded into gdb with `source`: commands that time themselves in gdb.
HELPER = r'''
import os, time, gdb

def _cpu():
    t = os.times()
    return t.user + t.system

class BenchStepi(gdb.Command):
    def __init__(self):
        super().__init__("bench-stepi", gdb.COMMAND_USER)
    def invoke(self, arg, from_tty):
        n = int(arg)
        c0, t0 = _cpu(), time.perf_counter()
        for _ in range(n):
            gdb.execute("stepi", to_string=True)
        t = time.perf_counter() - t0
        print("BENCH stepi %d %.6f %.6f" % (n, t, _cpu() - c0))

class BenchDump(gdb.Command):
    def __init__(self):
        super().__init__("bench-dump", gdb.COMMAND_USER)
    def invoke(self, arg, from_tty):
        path, start, length = arg.split()
        start, length = int(start, 0), int(length, 0)
        c0, t0 = _cpu(), time.perf_counter()
        gdb.execute("dump binary memory %s %#x %#x"
                    % (path, start, start + length), to_string=True)
        t = time.perf_counter() - t0
        print("BENCH dump %d %.6f %.6f" % (length, t, _cpu() - c0))

BenchStepi()
BenchDump()
'''


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process, from /proc (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Unusable(Exception):
    """The target exited before its gdb server listened (rax --backend
    kvm says why when KVM fails its self-test here)."""


def wait_listening(port, vm, timeout=60):
    want = ":%04X" % port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not vm.isalive():
            vm.expect(pexpect.EOF)
            raise Unusable("".join(vm.before.strip().splitlines()[-1:]))
        with open("/proc/net/tcp") as f:
            if any(l.split()[1].endswith(want) and l.split()[3] == "0A"
                   for l in f.readlines()[1:]):
                return
        time.sleep(0.05)
    raise Unusable("nothing listens on port %d" % port)


class RawRsp:
    """A minimal RSP client (acks every packet: QEMU 7.2 has no no-ack
    mode)."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send_packet(self, payload):
        p = payload.encode()
        self.sock.sendall(b"$%s#%02x" % (p, sum(p) & 0xff))

    def packet(self):
        """The next packet's payload (not un-escaped); acks it."""
        while True:
            start = self.buf.find(b"$")
            end = self.buf.find(b"#", start)
            if start >= 0 and end > start and len(self.buf) >= end + 3:
                p, self.buf = self.buf[start + 1:end], self.buf[end + 3:]
                self.sock.sendall(b"+")
                return p
            d = self.sock.recv(65536)
            if not d:
                raise EOFError("the target closed the connection")
            self.buf += d

    def request(self, payload):
        self.send_packet(payload)
        return self.packet()

    def close(self):
        self.sock.close()


class Gdb:
    def __init__(self, vmlinux, helper):
        self.c = pexpect.spawn("gdb", ["-q", "-nx", "-iex",
                                       "set prompt (gdbbench) ", vmlinux],
                               encoding="utf-8", codec_errors="replace",
                               timeout=600, env=dict(os.environ, TERM="dumb"))
        self.c.expect(PROMPT)
        for line in ("set pagination off", "set confirm off", "set width 0",
                     "source " + helper):
            self.cmd(line)

    def cmd(self, line, timeout=600):
        self.c.sendline(line)
        self.c.expect(PROMPT, timeout=timeout)
        return self.c.before

    def bench(self, line):
        out = self.cmd(line)
        for l in out.splitlines():
            if l.startswith("BENCH "):
                return [float(x) for x in l.split()[2:]]
        sys.exit("bench: %s failed:\n%s" % (line, out))

    def close(self):
        self.c.kill(9)
        self.c.close()


class Session:
    """One target: its VM (console under pexpect) and a gdb attached."""

    def __init__(self, name, argv, port, g, opt, helper):
        self.name, self.opt, self.g = name, opt, g
        self.vm = pexpect.spawn(argv[0], argv[1:], encoding="utf-8",
                                codec_errors="replace", timeout=600)
        self.gdb = None
        self.port = port
        self.r = {"stepi": [], "stepi_cpu": [], "raw": [], "stop": [],
                  "dump": []}
        try:
            wait_listening(port, self.vm)
        except Unusable:
            self.close()
            raise
        self.gdb = Gdb(g + "/vmlinux", helper)
        for line in opt.gdb_ex:
            self.gdb.cmd(line)
        out = self.gdb.cmd("target remote 127.0.0.1:%d" % port, timeout=60)
        if "Remote debugging using" not in out:
            sys.exit("bench: %s: gdb did not attach:\n%s" % (name, out))

    def to_start_kernel(self):
        self.gdb.cmd("hbreak start_kernel")
        out = self.gdb.cmd("continue")
        if "start_kernel" not in out:
            sys.exit("bench: %s: no stop at start_kernel:\n%s"
                     % (self.name, out))
        self.gdb.cmd("delete")

    def stepi(self):
        s = self.gdb.bench("bench-stepi %d" % self.opt.steps)
        self.r["stepi"].append(self.opt.steps / s[1])
        self.r["stepi_cpu"].append(s[2] / s[1])

    def to_shell(self):
        """Runs to the shell marker and stops there (Ctrl-C)."""
        self.gdb.c.sendline("continue")
        self.vm.expect_exact(MARKER)
        self.ctrl_c(None)

    def ctrl_c(self, key):
        """Continue, 0.3 s later SIGINT to gdb: time until gdb has printed
        the SIGINT stop (key "stop"; None: not recorded)."""
        c = self.gdb.c
        c.sendline("continue")
        c.expect("Continuing")
        time.sleep(0.3)
        t0 = time.perf_counter()
        c.sendintr()
        c.expect("SIGINT", timeout=30)
        t = time.perf_counter() - t0
        c.expect(PROMPT)
        if key:
            self.r[key].append(t * 1e3)

    def raw_ctrl_c(self, reps):
        """gdb detaches; a raw client connects, and `reps` times continues
        (vCont;c), sends 0x03 0.3 s later and times until the stop
        reply arrives: the server alone, no gdb."""
        self.gdb.cmd("detach")
        self.gdb.close()
        self.gdb = None
        r = RawRsp(self.port)
        try:
            r.request("?")
            for _ in range(reps):
                r.send_packet("vCont;c")
                time.sleep(0.3)
                t0 = time.perf_counter()
                r.sock.sendall(b"\x03")
                while r.packet()[:1] not in (b"T", b"S"):
                    pass
                self.r["raw"].append((time.perf_counter() - t0) * 1e3)
        finally:
            r.close()

    def dump(self, tmp):
        path = os.path.join(tmp, "mem.bin")
        c0 = cpu_seconds(self.vm.pid)
        d = self.gdb.bench("bench-dump %s %#x %#x"
                           % (path, DIRECT_MAP, DUMP_LEN))
        srv = cpu_seconds(self.vm.pid) - c0
        size = os.path.getsize(path)
        if size != DUMP_LEN:
            sys.exit("bench: %s: dumped %d bytes" % (self.name, size))
        with open(path, "rb") as f:
            data = f.read()
        self.r["zero"] = data.count(0) / len(data)
        self.r["dump"].append((DUMP_LEN / 2**20 / d[1], d[2] / d[1],
                               srv / d[1]))
        os.unlink(path)

    def summary(self):
        med = statistics.median
        r = self.r
        return {"name": self.name, "stepi": med(r["stepi"]),
                "stepi_gdb_cpu": med(r["stepi_cpu"]),
                "dump": med(d[0] for d in r["dump"]),
                "dump_gdb_cpu": med(d[1] for d in r["dump"]),
                "dump_srv_cpu": med(d[2] for d in r["dump"]),
                "zero": r["zero"], "raw_ms": med(r["raw"]),
                "stop_ms": med(r["stop"])}

    def close(self):
        if self.gdb:
            self.gdb.close()
        self.vm.kill(9)
        self.vm.close()


def measure_all(sessions, opt):
    """Every measurement rep by rep, alternating the targets, so a change
    in the machine's load hits them alike."""
    for s in sessions:
        s.to_start_kernel()
    for _ in range(opt.reps):
        for s in sessions:
            s.stepi()
    for s in sessions:
        s.to_shell()
    for _ in range(3 * opt.reps):
        for s in sessions:
            s.ctrl_c("stop")
    with tempfile.TemporaryDirectory(prefix="gdb-bench.") as tmp:
        for _ in range(opt.reps):
            for s in sessions:
                s.dump(tmp)
    for s in sessions:
        s.raw_ctrl_c(3 * opt.reps)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(src, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print every sample, not only the medians")
    ap.add_argument("--gdb-ex", action="append", default=[],
                    help="a gdb command to run before attaching (A/B runs)")
    ap.add_argument("--kvm", action="store_true",
                    help="also rax --backend kvm (skipped, with rax's "
                    "reason, when its KVM self-test fails)")
    opt = ap.parse_args()
    g = guest_dir(src)
    rax = os.path.join(opt.build, "rax")
    qemu = None if opt.no_qemu else shutil.which("qemu-system-x86_64")
    kernel = ["--kernel", g + "/bzImage", "--initrd", g + "/initramfs.cpio.gz"]
    targets = [("rax --backend emulator", "emulator")]
    if opt.kvm:
        targets.append(("rax --backend kvm", "kvm"))
    specs = []
    for name, engine in targets:
        port = free_port()
        specs.append((name, [rax, "--backend", engine] + kernel + [
            "--cmdline", CMDLINE, "--mem", "512M",
            "--gdb", "127.0.0.1:%d" % port, "--gdb-wait"], port))
    if qemu:
        port = free_port()
        specs.append(("qemu-system-x86_64 -accel tcg",
                      [qemu, "-accel", "tcg", "-m", "512", "-nographic",
                       "-no-reboot", "-kernel", g + "/bzImage",
                       "-initrd", g + "/initramfs.cpio.gz", "-append",
                       CMDLINE, "-gdb", "tcp:127.0.0.1:%d" % port, "-S"],
                      port))
    sessions = []
    with tempfile.NamedTemporaryFile("w", suffix=".py") as helper:
        helper.write(HELPER)
        helper.flush()
        try:
            for name, argv, port in specs:
                try:
                    sessions.append(Session(name, argv, port, g, opt,
                                            helper.name))
                except Unusable as e:
                    if "kvm" not in argv:
                        raise
                    print("bench: %s skipped: %s" % (name, e.args[0]))
            measure_all(sessions, opt)
        finally:
            for s in sessions:
                s.close()
    rows = [s.summary() for s in sessions]
    if opt.verbose:
        for s in sessions:
            print("samples %s: %r" % (s.name, s.r))
    load = os.getloadavg()[0]
    print("bench: gdb %s; default guest %s; median of %d; %d cores, "
          "load %.1f" % (subprocess.run(["gdb", "--version"],
                                        capture_output=True, text=True)
                         .stdout.split("\n")[0].split()[-1], g, opt.reps,
                         os.cpu_count(), load))
    print("stepi: %d steps from start_kernel; dump: 64 MiB at %#x; Ctrl-C "
          "stop: SIGINT to gdb until gdb prints the stop; raw: 0x03 from a "
          "socket client until the stop reply" % (opt.steps, DIRECT_MAP))
    print("(cpu: CPU seconds per wall second during the run; zero: share of "
          "zero bytes dumped; targets measured in turn, rep by rep)")
    print("%-30s %8s %6s %9s %6s %6s %5s %8s %8s" %
          ("target", "stepi/s", "gdbcpu", "dumpMiB/s", "gdbcpu", "srvcpu",
           "zero", "stop ms", "raw ms"))
    for r in rows:
        print("%-30s %8.0f %6.2f %9.1f %6.2f %6.2f %5.2f %8.2f %8.2f" %
              (r["name"], r["stepi"], r["stepi_gdb_cpu"], r["dump"],
               r["dump_gdb_cpu"], r["dump_srv_cpu"], r["zero"],
               r["stop_ms"], r["raw_ms"]))
    if qemu:
        q = rows[-1]
        for r in rows[:-1]:
            print("ratio %s / qemu: stepi %.2fx, dump %.2fx, Ctrl-C stop "
                  "%.2fx, raw %.2fx" %
                  (r["name"], r["stepi"] / q["stepi"], r["dump"] / q["dump"],
                   r["stop_ms"] / q["stop_ms"], r["raw_ms"] / q["raw_ms"]))


if __name__ == "__main__":
    main()
