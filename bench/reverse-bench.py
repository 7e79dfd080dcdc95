#!/usr/bin/python3
"""Time travel on rax's interpreter (issue 14's bench; it reports, it
asserts nothing):
  1. boot to the shell marker with the history on (the default with
     --gdb) and off (--history off), gdb attached and continuing at once;
     wall seconds and rax's CPU seconds, medians of REPS, and the ratios
     (target: at most 1.15);
  2. reverse-stepi latency at 20 points of a boot: `monitor goto N` at
     20 instruction counts spread over the boot to the shell, then one
     timed `reverse-stepi` at each; median and worst of rax's answer to
     the bs packet (gdb's remote log timestamps; target: median at most
     50 ms), and of gdb's whole command beside a forward stepi's (gdb's
     own part: printing the frame and the source line);
  3. reverse-continue back across about 1 s of guest time: a breakpoint
     hit once at clock T (tbreak at a boot function), continue to the
     shell, `break` the same function again, and time `reverse-continue`
     against the forward run it undoes (target: at most 2x);
  4. history memory per guest second (`monitor history` at the shell).

Run (from the source tree, after `make -C build` and `make guest`):
    /usr/bin/python3 bench/reverse-bench.py [--build build] [--reps 3]
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import pexpect

MARK = "RAX-GUEST-READY"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def guest_dir():
    import glob
    d = os.environ.get("RAX_GUEST_DIR")
    if d:
        return d
    done = [os.path.dirname(p) for p in glob.glob(
        os.path.expanduser("~/.cache/rax/guest-*/.complete"))]
    return max(done, key=os.path.getmtime) if done else None


class Run:
    def __init__(self, rax, gdir, history, tmp):
        port = free_port()
        self.out = os.path.join(tmp, "console-%d" % port)
        argv = [rax, "--backend", "emulator", "--gdb", "127.0.0.1:%d" % port,
                "--gdb-wait", "--rtc-base", "2026-01-01T00:00:00",
                "--decompress", "host"]
        if not history:
            argv += ["--history", "off"]
        self.f = open(self.out, "wb")
        self.p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=self.f,
                                  stderr=self.f,
                                  env=dict(os.environ, RAX_GUEST_DIR=gdir))
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.g = pexpect.spawn("gdb", ["-q", "-nx", "-iex", "set pagination off",
                                      "-iex", "set confirm off",
                                      os.path.join(gdir, "vmlinux")],
                               encoding="utf-8", timeout=600)
        self.g.expect(r"\(gdb\) ")
        self.cmd("target remote 127.0.0.1:%d" % port)

    def cmd(self, c, timeout=600):
        self.g.sendline(c)
        self.g.expect(r"\(gdb\) ", timeout=timeout)
        return self.g.before

    def console(self):
        self.f.flush()
        with open(self.out, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_mark(self, timeout=600):
        t0 = time.monotonic()
        while MARK not in self.console():
            if time.monotonic() - t0 > timeout:
                raise RuntimeError("no shell marker")
            time.sleep(0.02)
        return time.monotonic() - t0

    def cpu_seconds(self):
        """User and system CPU time of rax so far (less sensitive to the
        machine's load than wall time)."""
        with open("/proc/%d/stat" % self.p.pid) as f:
            st = f.read().rsplit(")", 1)[1].split()
        return (int(st[11]) + int(st[12])) / os.sysconf("SC_CLK_TCK")

    def close(self):
        self.g.terminate(force=True)
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        self.f.close()


def bs_time(out):
    """Seconds from gdb sending bs to rax's stop reply, from gdb's
    `set debug remote 1` and `set debug timestamp on` lines."""
    sent = None
    for line in out.splitlines():
        m = re.search(r"(\d+\.\d+)\s+\[remote\] (Sending packet: \$bs#|"
                     r"Packet received: [TS])", line)
        if not m:
            continue
        if m.group(2).startswith("Sending"):
            sent = float(m.group(1))
        elif sent is not None:
            return float(m.group(1)) - sent
    raise RuntimeError("no bs exchange in gdb's remote log:\n" + out)


def icount(r):
    return int(re.search(r"(\d+) instructions, clock (\d+)",
                         r.cmd("monitor icount")).group(1))


def clock(r):
    return int(re.search(r"clock (\d+)", r.cmd("monitor icount")).group(1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--reps", type=int, default=3)
    a = ap.parse_args()
    rax = os.path.abspath(os.path.join(a.build, "rax"))
    gdir = guest_dir()
    if not gdir:
        sys.exit("the default guest is not built (make guest)")
    tmp = tempfile.mkdtemp(prefix="rax-rev-")
    print("load average before: %.1f" % os.getloadavg()[0])

    # 1. boot time, history on and off, taking turns
    times = {True: [], False: []}
    cpu = {True: [], False: []}
    for _ in range(a.reps):
        for h in (True, False):
            r = Run(rax, gdir, h, tmp)
            r.g.sendline("continue")
            times[h].append(r.wait_mark())
            cpu[h].append(r.cpu_seconds())
            r.close()
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print("boot to the shell, gdb attached: history on %.2f s, off %.2f s "
          "(medians of %d): %.3fx" % (on, off, a.reps, on / off))
    on, off = statistics.median(cpu[True]), statistics.median(cpu[False])
    print("  rax's CPU time: history on %.2f s, off %.2f s: %.3fx" %
          (on, off, on / off))

    # 2.-4. one run with the history
    r = Run(rax, gdir, True, tmp)
    r.cmd("tbreak kernel_init")
    r.cmd("continue")
    t_bp = time.monotonic()
    c_bp = clock(r)
    r.g.sendline("continue")
    r.wait_mark()
    t_fwd = time.monotonic() - t_bp
    r.g.sendcontrol("c")
    r.g.expect(r"\(gdb\) ")
    end = icount(r)
    c_end = clock(r)
    hist = r.cmd("monitor history")
    mib = float(re.search(r"([\d.]+) MiB of", hist).group(1))
    print("history at the shell: %s" % hist.splitlines()[1].strip())
    print("history memory: %.1f MiB for %.2f s of guest time: %.1f MiB per "
          "guest second" % (mib, c_end / 1e9, mib / (c_end / 1e9)))
    lat, srv, fwd = [], [], []
    r.cmd("set debug timestamp on")
    for k in range(1, 21):
        r.cmd("monitor goto %d" % (end * k // 21))
        r.cmd("flushregs")
        r.cmd("set debug remote 1")
        t0 = time.perf_counter()
        out = r.cmd("reverse-stepi")
        lat.append(time.perf_counter() - t0)
        r.cmd("set debug remote 0")
        srv.append(bs_time(out))
        t0 = time.perf_counter()
        r.cmd("stepi")
        fwd.append(time.perf_counter() - t0)
    print("reverse-stepi at 20 points of the boot: rax answers bs in median "
          "%.1f ms, worst %.1f ms; gdb's whole command median %.1f ms, "
          "worst %.1f ms (a forward stepi there: median %.1f ms)" %
          (statistics.median(srv) * 1e3, max(srv) * 1e3,
           statistics.median(lat) * 1e3, max(lat) * 1e3,
           statistics.median(fwd) * 1e3))
    r.cmd("monitor goto %d" % end)
    r.cmd("flushregs")
    r.cmd("break kernel_init")
    t0 = time.monotonic()
    out = r.cmd("reverse-continue")
    t_rev = time.monotonic() - t0
    print("reverse-continue from the shell back to kernel_init (%.2f s of "
          "guest time): %.2f s; the forward run took %.2f s: %.2fx %s" %
          ((c_end - c_bp) / 1e9, t_rev, t_fwd, t_rev / t_fwd,
           "" if "kernel_init" in out else "(did not stop there!)"))
    r.close()
    print("load average after: %.1f" % os.getloadavg()[0])


if __name__ == "__main__":
    main()
