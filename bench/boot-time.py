#!/usr/bin/python3
"""Seconds to the shell prompt and to the first command's answer, and MIPS,
for rax's interpreter and QEMU TCG on the same kernels and initrds, in one
run (a benchmark: it reports, it asserts nothing).

Guests: the default guest (make guest), and Debian's own kernels
linux-image-amd64 and linux-image-cloud-amd64 with a 1 MB busybox
initramfs the bench builds from /bin/busybox (busybox-static), 512 MiB,
`console=ttyS0 nokaslr`.  The Debian kernels come from the host's APT
sources: `apt-get download` of the flavour's current image package and
`dpkg -x` into $RAX_CACHE/debian-kernels (default ~/.cache/rax), never
into the source tree.  rax and `qemu-system-x86_64 -accel tcg` take turns
run by run, so a change in the machine's load hits both; the load average
is printed at the start and the end.

Run (from the source tree, after `make -C build` and `make -C build guest`,
and `make -C build pgo` for the profile-guided rax the README measures;
the bench says which it ran):
    /usr/bin/python3 bench/boot-time.py [--build build] [--runs 3]
        [--guests default,amd64,cloud] [--cpus 1,2,4]
--cpus boots each guest with each vCPU count: rax --cpus N against QEMU
-smp N (QEMU TCG runs its vCPUs on one host thread each; rax runs all of
them in turns on one).
"""
import argparse
import fcntl
import gzip
import os
import re
import shutil
import statistics
import subprocess
import sys
import time

import pexpect

MARKER = "RAX-GUEST-READY"
PROMPT = "~ # "
CMDLINE = "console=ttyS0 nokaslr reboot=k"
DEBIAN_CMDLINE = "console=ttyS0 nokaslr"
# The first command and its answer ($((6*7)) so that the echo of the
# typed line does not match).
COMMAND, ANSWER = "echo ANS$((6*7))", "ANS42"
DEBIAN = {"amd64": "linux-image-amd64", "cloud": "linux-image-cloud-amd64"}
TIMEOUT = 900


def guest_dir(src):
    d = subprocess.run(["bash", os.path.join(src, "examples", "build-guest.sh"),
                        "--print-dir"], check=True, capture_output=True,
                       text=True).stdout.strip()
    if not os.path.exists(os.path.join(d, ".complete")):
        sys.exit("bench: the default guest is not built (make guest)")
    return d


def cache_dir():
    return os.environ.get("RAX_CACHE",
                          os.path.expanduser("~/.cache/rax"))


# --- the Debian kernels and their initramfs ----------------------------------

def debian_kernel(meta):
    """bzImage of the image package the metapackage `meta` depends on,
    unpacked into the cache (downloaded once per version).  Returns
    (path, "package version") or (None, reason)."""
    dep = subprocess.run(["apt-cache", "depends", meta], capture_output=True,
                         text=True)
    m = re.search(r"Depends: (linux-image-\S+)", dep.stdout)
    if not m:
        return None, f"apt-cache knows no {meta} ({dep.stderr.strip()})"
    pkg = m.group(1)
    show = subprocess.run(["apt-cache", "show", "--no-all-versions", pkg],
                          capture_output=True, text=True).stdout
    v = re.search(r"^Version: (\S+)", show, re.M)
    version = v.group(1) if v else "unknown"
    top = os.path.join(cache_dir(), "debian-kernels")
    os.makedirs(top, exist_ok=True)
    d = os.path.join(top, f"{pkg}_{version}")
    with open(os.path.join(top, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(d, ".complete")):
            tmp = d + ".tmp"
            shutil.rmtree(tmp, ignore_errors=True)
            os.makedirs(tmp)
            r = subprocess.run(["apt-get", "download", pkg], cwd=tmp,
                               capture_output=True, text=True)
            debs = [f for f in os.listdir(tmp) if f.endswith(".deb")]
            if r.returncode or not debs:
                shutil.rmtree(tmp, ignore_errors=True)
                return None, f"apt-get download {pkg} failed: " + \
                    (r.stderr.strip().splitlines() or ["?"])[-1]
            subprocess.run(["dpkg", "-x", os.path.join(tmp, debs[0]),
                            os.path.join(tmp, "root")], check=True)
            os.remove(os.path.join(tmp, debs[0]))
            # Only boot/ is used: the modules are most of the package.
            for f in os.listdir(os.path.join(tmp, "root")):
                if f != "boot":
                    shutil.rmtree(os.path.join(tmp, "root", f))
            open(os.path.join(tmp, ".complete"), "w").close()
            shutil.rmtree(d, ignore_errors=True)
            os.rename(tmp, d)
    boot = os.path.join(d, "root", "boot")
    k = [f for f in os.listdir(boot) if f.startswith("vmlinuz-")]
    if not k:
        return None, f"no vmlinuz in {pkg}"
    return os.path.join(boot, k[0]), f"{pkg} {version}"


INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
export HOME=/root PATH=/bin:/sbin:/usr/bin:/usr/sbin PS1='~ # '
cd /root
echo RAX-GUEST-READY
while :; do
	setsid cttyhack sh
done
"""


def cpio_newc(entries):
    """The cpio "newc" archive of (name, mode, data) entries."""
    out = bytearray()
    for ino, (name, mode, data) in enumerate(entries + [("TRAILER!!!", 0,
                                                          b"")], 1):
        n = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(n), 0]
        out += b"070701" + b"".join(b"%08x" % f for f in fields) + n
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def busybox_initramfs():
    """A gzipped initramfs: /bin/busybox, its applets as symbolic links,
    and an /init that prints the marker and starts a shell on the console
    (as the default guest's).  Built into the cache once."""
    path = os.path.join(cache_dir(), "debian-kernels", "busybox.cpio.gz")
    if os.path.exists(path):
        return path
    if not os.access("/bin/busybox", os.X_OK):
        sys.exit("bench: /bin/busybox missing (apt-get install busybox-static)")
    applets = subprocess.run(["/bin/busybox", "--list-full"], check=True,
                             capture_output=True, text=True).stdout.split()
    entries = [(d, 0o40755, b"") for d in
               ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys",
                "dev", "root")]
    with open("/bin/busybox", "rb") as f:
        entries.append(("bin/busybox", 0o100755, f.read()))
    entries.append(("init", 0o100755, INIT.encode()))
    entries += [(a, 0o120777, b"/bin/busybox") for a in applets
                if a != "bin/busybox"]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(gzip.compress(cpio_newc(entries), 9, mtime=0))
    os.rename(path + ".tmp", path)
    return path


# --- one boot ------------------------------------------------------------------

def cpu_seconds(pid):
    """User + system CPU seconds pid (all its threads) has used so far
    (/proc/PID/stat fields 14 and 15), or 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def boot(argv):
    """Boots argv to its prompt and types the first command.  Returns the
    child, the start time, seconds to the prompt, seconds to the answer
    and the child's CPU seconds at the answer."""
    t0 = time.monotonic()
    c = pexpect.spawn(argv[0], argv[1:], encoding="utf-8",
                      codec_errors="replace", timeout=TIMEOUT)
    c.delaybeforesend = None  # pexpect sleeps 50 ms before a send by default
    c.expect_exact(MARKER)
    c.expect_exact(PROMPT)
    t_prompt = time.monotonic() - t0
    c.send(COMMAND + "\r")
    c.expect_exact(ANSWER)
    t_answer = time.monotonic() - t0
    cpu = cpu_seconds(c.pid)
    c.expect_exact(PROMPT)
    return c, t0, t_prompt, t_answer, cpu


def run_rax(rax, kernel, initrd, cmdline, decompress="host", cpus=1):
    c, t0, tp, ta, cpu = boot([rax, "--backend", "emulator", "--kernel", kernel,
                          "--initrd", initrd, "--mem", "512M",
                          "--cmdline", cmdline, "--decompress", decompress,
                          "--cpus", str(cpus), "--stats"])
    c.send("\x01x")  # Ctrl-A x: quit, the statistics follow
    c.expect(pexpect.EOF)
    t_end = time.monotonic() - t0
    m = re.search(r"(\d+) instructions", c.before)  # the sum of all vCPUs
    insns = int(m.group(1)) if m else 0
    # MIPS over the whole run: the count is taken when rax quits.
    return tp, ta, insns, insns / t_end / 1e6 if t_end else 0, cpu


def run_qemu(qemu, kernel, initrd, cmdline, cpus=1):
    c, _, tp, ta, cpu = boot([qemu, "-accel", "tcg", "-m", "512", "-smp",
                         str(cpus), "-nographic",
                         "-no-reboot", "-kernel", kernel, "-initrd", initrd,
                         "-append", cmdline])
    c.kill(9)
    c.close()
    return tp, ta, 0, 0, cpu


def median_row(name, runs):
    return (name, statistics.median(r[0] for r in runs),
            statistics.median(r[1] for r in runs),
            runs[0][2], statistics.median(r[3] for r in runs),
            statistics.median(r[4] for r in runs))


def load():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(src, "build"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--guests", default="default,amd64,cloud",
                    help="comma-separated: default, amd64, cloud")
    ap.add_argument("--cpus", default="1",
                    help="comma-separated vCPU counts (rax --cpus N, "
                    "QEMU -smp N)")
    opt = ap.parse_args()
    try:
        counts = [int(n) for n in opt.cpus.split(",")]
    except ValueError:
        sys.exit(f"bench: --cpus {opt.cpus!r}: expected numbers like 1,2,4")
    rax = os.path.join(opt.build, "rax")
    qemu = shutil.which("qemu-system-x86_64")
    guests = []   # (label, kernel, initrd, cmdline, rax decompress modes)
    # make pgo leaves its profile in pgo-data beside the rax it built.
    pgo = os.path.isdir(os.path.join(opt.build, "pgo-data")) and \
        os.path.exists(rax) and \
        os.path.getmtime(rax) >= os.path.getmtime(
            os.path.join(opt.build, "pgo-data"))
    notes = [f"rax: {rax} ({'built by make pgo' if pgo else 'no make pgo'})"]
    for g in opt.guests.split(","):
        if g == "default":
            d = guest_dir(src)
            guests.append(("default guest", d + "/bzImage",
                           d + "/initramfs.cpio.gz", CMDLINE,
                           ("host", "guest")))
            notes.append(f"default guest: {d}")
        elif g in DEBIAN:
            k, what = debian_kernel(DEBIAN[g])
            if not k:
                notes.append(f"{DEBIAN[g]}: skipped: {what}")
                continue
            guests.append((f"Debian {g}", k, busybox_initramfs(),
                           DEBIAN_CMDLINE, ("host",)))
            notes.append(f"Debian {g}: {what}, {k}")
        else:
            sys.exit(f"bench: unknown guest {g!r}")
    load_start = load()
    rows = []
    guests = [(label + (f", {n} CPU" + "s" * (n > 1)
                        if counts != [1] else ""), k, i, c, m, n)
              for label, k, i, c, m in guests for n in counts]
    for label, kernel, initrd, cmdline, modes, n in guests:
        runs = {m: [] for m in modes}
        qruns = []
        for _ in range(opt.runs):  # rax and QEMU take turns
            for m in modes:
                runs[m].append(run_rax(rax, kernel, initrd, cmdline, m, n))
            if qemu:
                qruns.append(run_qemu(qemu, kernel, initrd, cmdline, n))
        q = median_row("qemu-system-x86_64 -accel tcg", qruns) if qruns \
            else None
        for m in modes:
            rows.append((label, median_row(f"rax (--decompress {m})",
                                           runs[m]), q))
        if q:
            rows.append((label, q, None))
    print(f"bench: median of {opt.runs} runs, {os.cpu_count()} cores, "
          f"load average {load_start} at the start, {load()} at the end")
    for n in notes:
        print(f"  {n}")
    print("prompt, answer: seconds from start to the shell prompt and to the "
          "first command's answer; +: answer - prompt;\ninsns: retired until "
          "rax quit after the answer; MIPS: insns over that whole run; "
          "ratio: answer / QEMU's answer;\ncpu: the process's user + "
          "system seconds at the answer (all its threads; less moved by "
          "the machine's load than wall time); cpu ratio: cpu / QEMU's")
    print(f"{'guest':22} {'engine':31} {'prompt':>7} {'answer':>7} "
          f"{'+':>5} {'insns':>11} {'MIPS':>6} {'ratio':>6} {'cpu':>6} "
          f"{'ratio':>6}")
    for label, (name, tp, ta, insns, mips, cpu), q in rows:
        print(f"{label:22} {name:31} {tp:6.2f}s {ta:6.2f}s {ta - tp:5.2f} "
              f"{(f'{insns:11d}' if insns else '          -')} "
              f"{(f'{mips:6.1f}' if mips else '     -')} "
              f"{(f'{ta / q[2]:5.2f}x' if q else '     -')} "
              f"{cpu:5.2f}s "
              f"{(f'{cpu / q[5]:5.2f}x' if q and q[5] else '     -')}")


if __name__ == "__main__":
    main()
