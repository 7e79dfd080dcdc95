#!/usr/bin/python3
"""Linux's x86 selftests in a guest: the interpreter, QEMU TCG, nested KVM.

The programs are tools/testing/selftests/x86 of Debian's linux-source-6.1,
built static by tests/selftests/build-x86.sh (cached in $RAX_CACHE).  They
run inside Debian's own kernel, linux-image-amd64 (the one
bench/boot-time.py downloads and caches), because the tests need what the
default guest's tinyconfig leaves out: IA32 emulation, modify_ldt, iopl
and ioperm, vsyscall emulation.  The initramfs is busybox-static, the
programs in /selftests and an /init that runs each one under a timeout,
prints its exit status and resets the machine.

--check (make check, tests/selftests/x86.sh) compares each result with
tests/selftests/x86-known.txt: a test passes (exit status 0) or is listed
there with its reason; a listed test that passes is an error too, so the
list stays true (--known names another list: x86-known-nested.txt for
--engines nested, make check-selftests-x86-nested).  --table runs every
engine given to --engines in the same run and prints the results side by
side (bench/selftests-x86.sh).  A program during which the guest stops
answering or its VMM exits is "guest stopped"; the guest then boots again
with the programs left.

Run (from the source tree, after `make -C build`):
    /usr/bin/python3 tests/selftests/x86.py --build build --check
    /usr/bin/python3 tests/selftests/x86.py --engines emulator,qemu --table
    /usr/bin/python3 tests/selftests/x86.py --engines nested --cpus 1 \
        --known tests/selftests/x86-known-nested.txt --check
Exit status: 0 all as expected, 1 a test failed that is not listed (or a
listed one passed, or the guest did not finish), 77 (SKIP) when the
programs or the kernel cannot be had, with the reason.
"""
import argparse
import gzip
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time

import pexpect

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.normpath(os.path.join(HERE, "..", ".."))
KNOWN = os.path.join(HERE, "x86-known.txt")
START, DONE = "RAX-SELFTESTS-START", "RAX-SELFTESTS-DONE"
# A test's lines: its output between BEGIN and END, END with the status.
# Whole lines (\r\r\n through the nested console): pexpect matches as
# soon as it can, on part of a name.
BEGIN_RE = re.compile(r"RAX-SELFTEST-BEGIN (\S+)\r*\n")
END_RE = re.compile(r"RAX-SELFTEST-END (\S+) rc=(\d+)\r*\n")
CMDLINE = "console=ttyS0 nokaslr reboot=k panic=-1 quiet"
# Seconds one program may run inside the guest (busybox timeout, then
# SIGKILL: status 137); the host waits that long and GRACE more for a
# test's end (a guest whose kernel is wedged prints nothing again), and
# BOOT_TIMEOUT for the kernel to reach /init.
TEST_TIMEOUT = 300
GRACE = 120
BOOT_TIMEOUT = 600
# Exit statuses: kselftest's KSFT_SKIP, and busybox timeout's SIGKILL.
KSFT_SKIP = 4
KILLED = 128 + 9
# Ours: the program was running when the guest stopped answering or its
# VMM exited.
STOPPED = -1

INIT = """#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
export HOME=/root PATH=/bin:/sbin:/usr/bin:/usr/sbin
cd /root
echo %(start)s
for t in $(cat /selftests/tests); do
	echo "RAX-SELFTEST-BEGIN $t"
	timeout -s KILL %(timeout)d /selftests/$t </dev/null 2>&1
	echo "RAX-SELFTEST-END $t rc=$?"
done
echo %(done)s
reboot -f
"""


def boot_time():
    """bench/boot-time.py as a module: its Debian kernel download and
    cache (debian_kernel) and its cpio writer, shared, not copied."""
    spec = importlib.util.spec_from_file_location(
        "boot_time", os.path.join(SRC, "bench", "boot-time.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(77)


def programs(only):
    """(folder, [test names]) from build-x86.sh; SKIP when it cannot."""
    r = subprocess.run(["bash", os.path.join(HERE, "build-x86.sh")],
                       capture_output=True, text=True)
    if r.returncode == 77:
        skip(r.stderr.strip().splitlines()[-1])
    if r.returncode:
        sys.exit(f"selftests: build-x86.sh failed:\n{r.stderr}")
    d = r.stdout.strip().splitlines()[-1]
    with open(os.path.join(d, "tests")) as f:
        names = f.read().split()
    if only:
        want = only.split(",")
        unknown = [t for t in want if t not in names]
        if unknown:
            sys.exit(f"selftests: no such program: {', '.join(unknown)} "
                     f"(built: {' '.join(names)})")
        names = want
    return d, names


def initramfs(bt, folder, names, path, timeout):
    """busybox, the programs in /selftests and /init (gzipped cpio)."""
    if not os.access("/bin/busybox", os.X_OK):
        skip("/bin/busybox missing (apt-get install busybox-static)")
    applets = subprocess.run(["/bin/busybox", "--list-full"], check=True,
                             capture_output=True, text=True).stdout.split()
    dirs = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys",
            "dev", "root", "tmp", "selftests")
    entries = [(d, 0o40755, b"") for d in dirs]
    with open("/bin/busybox", "rb") as f:
        entries.append(("bin/busybox", 0o100755, f.read()))
    entries += [(a, 0o120777, b"/bin/busybox") for a in applets
                if a != "bin/busybox"]
    init = INIT % {"start": START, "done": DONE, "timeout": timeout}
    entries.append(("init", 0o100755, init.encode()))
    entries.append(("selftests/tests", 0o100644,
                    ("\n".join(names) + "\n").encode()))
    for t in names:
        with open(os.path.join(folder, t), "rb") as f:
            entries.append((f"selftests/{t}", 0o100755, f.read()))
    with open(path, "wb") as f:
        f.write(gzip.compress(bt.cpio_newc(entries), 6, mtime=0))


def command(engine, opt, kernel, initrd):
    if engine == "emulator":
        return [os.path.join(opt.build, "rax"), "--backend", "emulator",
                "--kernel", kernel, "--initrd", initrd, "--mem", "1G",
                "--cpus", str(opt.cpus), "--rtc-base", "2026-01-01T00:00:00",
                "--cmdline", opt.cmdline] + \
               (["--cpu", opt.cpu] if opt.cpu else [])
    if engine == "qemu":
        qemu = shutil.which("qemu-system-x86_64")
        if not qemu:
            return None
        # -cpu max: TCG's fullest model (x86-64-v2 and more, no AVX).
        return [qemu, "-accel", "tcg", "-cpu", "max", "-m", "1024",
                "-smp", str(opt.cpus), "-nographic", "-no-reboot",
                "-kernel", kernel, "-initrd", initrd, "-append",
                opt.cmdline]
    if engine == "nested":
        # rax-static --backend kvm in L1 of tests/nested/run.py (real KVM,
        # kvm_amd, inside QEMU TCG): one vCPU (the KVM engine runs one),
        # L1's console copied to run.py's stdout (--echo), L1's own
        # kernel messages off it (loglevel=1) as far as they can be.
        rax = os.path.join(opt.build, "rax-static")
        if not os.access(rax, os.X_OK):
            return None
        cmd = (f"rax --backend kvm --kernel /files/{os.path.basename(kernel)}"
               f" --initrd /files/{os.path.basename(initrd)} --mem 768M"
               f" --cmdline '{opt.cmdline}'")
        return [sys.executable, os.path.join(SRC, "tests", "nested",
                                             "run.py"),
                "--rax", rax, "--mem", "1536", "--echo",
                "--append", "loglevel=1",
                "--timeout", str(opt.test_timeout * 200),
                "--file", kernel, "--file", initrd, "--cmd", cmd]
    sys.exit(f"selftests: unknown engine {engine!r} (emulator, qemu, "
             "nested)")


def boot_once(engine, argv, log, test_timeout, results):
    """Boots argv once, adding {test: (status, [SKIP] lines)} to
    results; returns True when the guest reached DONE, else the program
    that was running when the guest stopped answering (None if none
    was), recorded with status STOPPED."""
    t0 = time.monotonic()
    current = None
    c = pexpect.spawn(argv[0], argv[1:], encoding="utf-8",
                      codec_errors="replace",
                      timeout=BOOT_TIMEOUT * (3 if engine == "nested" else 1))
    c.logfile_read = log
    try:
        c.expect_exact(START)
        while True:
            i = c.expect([BEGIN_RE, END_RE, re.escape(DONE)],
                         timeout=test_timeout + GRACE)
            if i == 0:
                current = c.match.group(1)
                continue
            if i == 2:
                c.expect(pexpect.EOF, timeout=120)
                return True
            # A test that exits 0 may still have skipped parts of itself
            # ("[SKIP]\tvm86 not supported"): counted, shown.
            skips = len(re.findall(r"^\[SKIP\]", c.before, re.M))
            results[c.match.group(1)] = (int(c.match.group(2)), skips)
            current = None
            print(f"  {engine}: {c.match.group(1)} rc={c.match.group(2)} "
                  f"({time.monotonic() - t0:.0f} s)", flush=True)
    except (pexpect.EOF, pexpect.TIMEOUT) as e:
        print(f"  {engine}: {type(e).__name__} after "
              f"{time.monotonic() - t0:.0f} s in {current or 'no test'}",
              flush=True)
        if current:
            results[current] = (STOPPED, 0)
        return current
    finally:
        if c.isalive():
            c.kill(9)
        c.close()


def run(engine, opt, kernel, bt, folder, names):
    """Runs the programs on engine: one boot, and after a program that
    took the guest down (a kernel oops that wedged it, a hang) another
    boot with the programs it did not reach.  Returns (results, seconds,
    complete) or None when the engine is not installed; the consoles
    go to opt.logs."""
    t0 = time.monotonic()
    results = {}
    left = names
    path = os.path.join(opt.logs, f"selftests-x86-{engine}-console.log")
    with open(path, "w") as log:
        while left:
            initrd = os.path.join(opt.logs, "selftests-x86-initramfs.cpio.gz")
            initramfs(bt, folder, left, initrd, opt.test_timeout)
            argv = command(engine, opt, kernel, initrd)
            if argv is None:
                return None
            done = boot_once(engine, argv, log, opt.test_timeout, results)
            if done is not True and done not in left:
                break   # no program to blame: stop here
            rest = [t for t in left if t not in results]
            if rest == left:
                break   # no progress
            left = rest
            if left and done is True:
                # A message of the kernel (the guest's or L1's) printed
                # inside an END line hides that program's status.
                print(f"  {engine}: no status for {' '.join(left)}: "
                      "booting again for them", flush=True)
            elif left:
                print(f"  {engine}: booting again for the {len(left)} "
                      f"programs left", flush=True)
    complete = all(t in results for t in names)
    if not complete:
        print(f"  {engine}: console: {path}")
    return results, time.monotonic() - t0, complete


def verdict(result, skips=False):
    """pass, skip, timeout, guest stopped, FAIL(status) or not run; with
    skips, a pass that printed [SKIP] lines says how many ("pass, 2
    skip")."""
    if result is None:
        return "not run"
    rc, n = result
    if rc == 0:
        return f"pass, {n} skip" if skips and n else "pass"
    if rc == KSFT_SKIP:
        return "skip"
    if rc == KILLED:
        return "timeout"
    if rc == STOPPED:
        return "guest stopped"
    return f"FAIL({rc})"


def known(path):
    """{test: reason} from the known-failures file."""
    out = {}
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.match(r"(\S+):\s+(\S.*)", line)
            if not m:
                sys.exit(f"{path}:{n}: expected 'test: reason'")
            out[m.group(1)] = m.group(2)
    return out


def check(names, results, complete, listed):
    """Prints every unexpected result; returns how many there were."""
    bad = 0
    for t in names:
        v = verdict(results.get(t))
        if v == "pass" and t in listed:
            print(f"UNEXPECTED PASS {t}: listed in x86-known.txt "
                  f"({listed[t]}); remove it")
            bad += 1
        elif v != "pass" and t not in listed:
            print(f"FAIL {t}: {v}")
            bad += 1
        elif v != "pass":
            print(f"known {t}: {v}: {listed[t]}")
        elif results[t][1]:
            print(f"pass {t}: with {results[t][1]} [SKIP] line(s) (console)")
    if not complete:
        print("FAIL: not every program ran (console)")
        bad += 1
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(SRC, "build"))
    ap.add_argument("--engines", default="emulator",
                    help="comma-separated: emulator (rax's interpreter), "
                    "qemu (QEMU TCG), nested (rax on real KVM in QEMU "
                    "TCG, tests/nested/run.py)")
    ap.add_argument("--tests", default="",
                    help="comma-separated programs (default: all built)")
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--cpu", default="", help="rax --cpu MODEL")
    ap.add_argument("--cmdline", default=CMDLINE)
    ap.add_argument("--test-timeout", type=int, default=TEST_TIMEOUT,
                    help="seconds a program may run in the guest "
                    f"(default {TEST_TIMEOUT})")
    ap.add_argument("--known", default=KNOWN)
    ap.add_argument("--check", action="store_true",
                    help="fail on a result x86-known.txt does not expect "
                    "(the first engine's results)")
    ap.add_argument("--table", action="store_true")
    ap.add_argument("--logs", default=".",
                    help="folder for the consoles and the initramfs")
    opt = ap.parse_args()
    engines = opt.engines.split(",")
    folder, names = programs(opt.tests)
    bt = boot_time()
    kernel, what = bt.debian_kernel("linux-image-amd64")
    if not kernel:
        skip(what)
    os.makedirs(opt.logs, exist_ok=True)
    print(f"selftests: {len(names)} programs from {folder}\n"
          f"kernel: {what} ({kernel}), {opt.cpus} CPUs", flush=True)
    runs = {}
    for e in engines:
        r = run(e, opt, kernel, bt, folder, names)
        if r is None:
            why = (f"{e}: {opt.build}/rax-static is not built" if e ==
                   "nested" else f"{e}: qemu-system-x86_64 is not installed")
            if e == engines[0]:
                skip(why)
            print(why)
            continue
        runs[e] = r
        print(f"{e}: {len(runs[e][0])} of {len(names)} programs in "
              f"{runs[e][1]:.0f} s", flush=True)
    if opt.table:
        print(f"\n{'test':28}" + "".join(f"{e:>16}" for e in runs))
        for t in names:
            print(f"{t:28}" + "".join(
                f"{verdict(r[0].get(t), True):>16}" for r in runs.values()))
        print(f"{'passed':28}" + "".join(
            f"{sum(verdict(r[0].get(t)) == 'pass' for t in names):>12}"
            f" of {len(names)}" for r in runs.values()))
        print(f"{'seconds':28}" + "".join(f"{r[1]:>16.0f}"
                                          for r in runs.values()))
    if opt.check:
        results, _, complete = runs[engines[0]]
        bad = check(names, results, complete, known(opt.known))
        print(f"selftests: {bad} unexpected result(s)")
        sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
