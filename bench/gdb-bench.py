#!/usr/bin/python3
"""gdb against rax's gdb server and QEMU's gdbstub on the same guest, in
one run: stepi per second, MiB/s of `dump binary memory` over 64 MiB, and
the delay from Ctrl-C to gdb reporting the stop (a benchmark: it reports,
it asserts nothing).

Each target boots the default guest (bzImage + initramfs, the cmdline of
bench/boot-time.py, 512 MiB) stopped before its first instruction; gdb
(the real one, under pexpect, with vmlinux) then
  1. `hbreak start_kernel`, continue, and times REPS x `stepi` STEPS times
     from there (gdb's Python, time.perf_counter);
  2. continues to the shell marker on the console, sends Ctrl-C to gdb
     (SIGINT through its terminal: gdb sends 0x03) and times until gdb
     prints the SIGINT stop, REPS times (0.3 s of running between);
  3. times `dump binary memory` of 64 MiB of the direct map
     (0xffff888000000000, the guest's first 64 MiB of RAM), REPS times.
It also reports gdb's and the server's CPU seconds during the dumps, to
show which side the time goes to.  Medians of REPS.

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

MARKER = "RAX-GUEST-READY"
CMDLINE = "console=ttyS0 nokaslr reboot=k"
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


def guest_dir(src):
    d = subprocess.run(["bash", os.path.join(src, "examples", "build-guest.sh"),
                        "--print-dir"], check=True, capture_output=True,
                       text=True).stdout.strip()
    if not os.path.exists(os.path.join(d, ".complete")):
        sys.exit("bench: the default guest is not built (make guest)")
    return d


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process, from /proc (clock ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_listening(port, vm, timeout=60):
    want = ":%04X" % port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not vm.isalive():
            sys.exit("bench: the target exited before listening:\n"
                     + str(vm.before))
        with open("/proc/net/tcp") as f:
            if any(l.split()[1].endswith(want) and l.split()[3] == "0A"
                   for l in f.readlines()[1:]):
                return
        time.sleep(0.05)
    sys.exit("bench: nothing listens on port %d" % port)


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


def measure(name, argv, port, g, opt, helper):
    """One target: returns a dict of medians."""
    vm = pexpect.spawn(argv[0], argv[1:], encoding="utf-8",
                       codec_errors="replace", timeout=600)
    gdb = None
    res = {"name": name}
    try:
        wait_listening(port, vm)
        gdb = Gdb(g + "/vmlinux", helper)
        for line in opt.gdb_ex:
            gdb.cmd(line)
        out = gdb.cmd("target remote 127.0.0.1:%d" % port, timeout=60)
        if "Remote debugging using" not in out:
            sys.exit("bench: %s: gdb did not attach:\n%s" % (name, out))
        gdb.cmd("hbreak start_kernel")
        out = gdb.cmd("continue")
        if "start_kernel" not in out:
            sys.exit("bench: %s: no stop at start_kernel:\n%s" % (name, out))
        gdb.cmd("delete")
        steps = [gdb.bench("bench-stepi %d" % opt.steps)
                 for _ in range(opt.reps)]
        res["stepi"] = statistics.median(opt.steps / s[1] for s in steps)
        res["stepi_gdb_cpu"] = statistics.median(s[2] / s[1] for s in steps)

        gdb.c.sendline("continue")
        vm.expect_exact(MARKER)
        lat = []
        for i in range(opt.reps + 2):
            time.sleep(0.3)
            t0 = time.perf_counter()
            gdb.c.sendintr()
            gdb.c.expect("SIGINT", timeout=30)
            lat.append(time.perf_counter() - t0)
            gdb.c.expect(PROMPT)
            if i < opt.reps + 1:
                gdb.c.sendline("continue")
                gdb.c.expect("Continuing")
        res["ctrlc_ms"] = statistics.median(lat) * 1e3

        dumps = []
        with tempfile.TemporaryDirectory(prefix="gdb-bench.") as tmp:
            for _ in range(opt.reps):
                c0 = cpu_seconds(vm.pid)
                d = gdb.bench("bench-dump %s/mem.bin %#x %#x"
                              % (tmp, DIRECT_MAP, DUMP_LEN))
                size = os.path.getsize(tmp + "/mem.bin")
                if size != DUMP_LEN:
                    sys.exit("bench: %s: dumped %d bytes" % (name, size))
                dumps.append((d[1], d[2], cpu_seconds(vm.pid) - c0))
            with open(tmp + "/mem.bin", "rb") as f:
                data = f.read()
            res["zero"] = data.count(0) / len(data)
        res["dump"] = statistics.median(DUMP_LEN / 2**20 / d[0]
                                        for d in dumps)
        res["dump_gdb_cpu"] = statistics.median(d[1] / d[0] for d in dumps)
        res["dump_srv_cpu"] = statistics.median(d[2] / d[0] for d in dumps)
    finally:
        if gdb:
            gdb.close()
        vm.kill(9)
        vm.close()
    return res


def rax_kvm_usable(rax):
    """Does rax's KVM engine pass its self-test here?"""
    r = subprocess.run([rax, "--backend", "kvm", "--version"],
                       capture_output=True, text=True)
    if r.returncode:
        return False
    # --version exits before any engine starts: ask for a real boot of
    # nothing instead, which fails on a bad kernel (status 2) only after
    # the engine was chosen.
    r = subprocess.run([rax, "--backend", "kvm", "--kernel", "/dev/null"],
                       capture_output=True, text=True, timeout=60)
    return r.returncode == 2


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(src, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--gdb-ex", action="append", default=[],
                    help="a gdb command to run before attaching (A/B runs)")
    ap.add_argument("--kvm", action="store_true",
                    help="also rax --backend kvm (when its self-test passes)")
    opt = ap.parse_args()
    g = guest_dir(src)
    rax = os.path.join(opt.build, "rax")
    qemu = None if opt.no_qemu else shutil.which("qemu-system-x86_64")
    kernel = ["--kernel", g + "/bzImage", "--initrd", g + "/initramfs.cpio.gz"]
    targets = [("rax --backend emulator", "emulator")]
    if opt.kvm and rax_kvm_usable(rax):
        targets.append(("rax --backend kvm", "kvm"))
    rows = []
    with tempfile.NamedTemporaryFile("w", suffix=".py") as helper:
        helper.write(HELPER)
        helper.flush()
        for name, engine in targets:
            port = free_port()
            argv = [rax, "--backend", engine] + kernel + [
                "--cmdline", CMDLINE, "--mem", "512M",
                "--gdb", "127.0.0.1:%d" % port, "--gdb-wait"]
            rows.append(measure(name, argv, port, g, opt, helper.name))
        if qemu:
            port = free_port()
            argv = [qemu, "-accel", "tcg", "-m", "512", "-nographic",
                    "-no-reboot", "-kernel", g + "/bzImage",
                    "-initrd", g + "/initramfs.cpio.gz", "-append", CMDLINE,
                    "-gdb", "tcp:127.0.0.1:%d" % port, "-S"]
            rows.append(measure("qemu-system-x86_64 -accel tcg", argv, port,
                                g, opt, helper.name))
    load = os.getloadavg()[0]
    print("bench: gdb %s; default guest %s; median of %d; %d cores, "
          "load %.1f" % (subprocess.run(["gdb", "--version"],
                                        capture_output=True, text=True)
                         .stdout.split("\n")[0].split()[-1], g, opt.reps,
                         os.cpu_count(), load))
    print("stepi: %d steps from start_kernel; dump: 64 MiB at %#x; Ctrl-C: "
          "SIGINT to gdb until it prints the stop" % (opt.steps, DIRECT_MAP))
    print("(cpu: CPU seconds per wall second during the run; zero: share of "
          "zero bytes dumped)")
    print("%-32s %9s %6s %9s %6s %6s %5s %9s" %
          ("target", "stepi/s", "gdbcpu", "dump MiB/s", "gdbcpu", "srvcpu",
           "zero", "Ctrl-C ms"))
    for r in rows:
        print("%-32s %9.0f %6.2f %10.1f %6.2f %6.2f %5.2f %9.1f" %
              (r["name"], r["stepi"], r["stepi_gdb_cpu"], r["dump"],
               r["dump_gdb_cpu"], r["dump_srv_cpu"], r["zero"],
               r["ctrlc_ms"]))
    if qemu:
        q = rows[-1]
        for r in rows[:-1]:
            print("ratio %s / qemu: stepi %.2fx, dump %.2fx, Ctrl-C %.2fx" %
                  (r["name"], r["stepi"] / q["stepi"], r["dump"] / q["dump"],
                   r["ctrlc_ms"] / q["ctrlc_ms"]))


if __name__ == "__main__":
    main()
