#!/usr/bin/python3
"""Debian's own kernel (linux-image-amd64, the package bench/boot-time.py
downloads and caches) boots with --cpus 4 on each engine: the interpreter
here, and real KVM nested in QEMU TCG (tests/nested/run.py --cmd).  The
guest's /init (busybox, from bench/boot-time.py's initramfs with this
test's /init laid over it) prints how many CPUs the kernel brought online
and powers off, so rax must exit 0 through ACPI S5 (issue 12: "a Debian
distribution kernel must boot with --cpus 4 on both engines").

Run (from the build folder): make check TESTS=tests/nested/debian-smp.sh
Exit status: 0 pass, 1 fail, 77 skip (no Debian kernel: apt-get cannot
download it; an engine that cannot run is skipped by name, and the whole
test skips only when neither can).
"""
import gzip
import importlib.util
import os
import subprocess
import sys
import tempfile

SRC = os.path.abspath(os.environ.get("srcdir", "."))
BUILD = os.path.abspath(".")
CPUS = 4
INIT = f"""#!/bin/sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
echo "RAX-NPROC $(/bin/busybox nproc) $(/bin/busybox cat /sys/devices/system/cpu/online)"
v=/sys/devices/system/cpu/vulnerabilities
echo "RAX-VULN meltdown: $(/bin/busybox cat $v/meltdown); mds: $(/bin/busybox cat $v/mds)"
/bin/busybox poweroff -f
"""
CMDLINE = "console=ttyS0 nokaslr quiet"
WANT = f"RAX-NPROC {CPUS} 0-{CPUS - 1}"
# The interpreter's CPU model says it is immune (IA32_ARCH_CAPABILITIES,
# src/cpu/sys.c): without that Linux turns on page-table isolation and
# buffer clearing, 8 % more instructions to this kernel's prompt.  (On
# KVM the host's CPU answers: not checked.)
WANT_EMULATOR = "RAX-VULN meltdown: Not affected; mds: Not affected"


def boot_time():
    spec = importlib.util.spec_from_file_location(
        "boot_time", os.path.join(SRC, "bench", "boot-time.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check(engine, status, out):
    lines = [x.strip() for x in out.replace("\r", "").splitlines()]
    got = [x for x in lines if x.startswith("RAX-NPROC")]
    ok = status == 0 and WANT in lines and \
        any("guest powered off (ACPI S5)" in x for x in lines)
    if engine == "emulator" and WANT_EMULATOR not in lines:
        print(f"{engine}: expected '{WANT_EMULATOR}', got "
              f"{[x for x in lines if x.startswith('RAX-VULN')]}")
        ok = False
    print(f"{engine}: rax status {status}, {got[0] if got else 'no RAX-NPROC line'}"
          f": {'PASS' if ok else 'FAIL'}", flush=True)
    if not ok:
        print("\n".join(lines[-40:]))
    return ok


def main():
    bt = boot_time()
    kernel, what = bt.debian_kernel("linux-image-amd64")
    if not kernel:
        print(f"SKIP: {what}")
        return 77
    base = bt.busybox_initramfs()
    tmp = tempfile.mkdtemp(prefix="rax-debian-smp-")
    initrd = os.path.join(tmp, "initrd.gz")
    with open(base, "rb") as f, open(initrd, "wb") as o:
        o.write(f.read())  # concatenated archives: the later /init wins
        o.write(gzip.compress(bt.cpio_newc([("init", 0o100755,
                                              INIT.encode())]), mtime=0))
    print(f"kernel: {what}, --cpus {CPUS}", flush=True)
    ran = passed = 0

    # The interpreter, here.
    r = subprocess.run([os.path.join(BUILD, "rax"), "--backend", "emulator",
                        "--cpus", str(CPUS), "--mem", "512M", "--kernel",
                        kernel, "--initrd", initrd, "--cmdline", CMDLINE],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, errors="replace", timeout=900)
    ran += 1
    passed += check("emulator", r.returncode, r.stdout + r.stderr)

    # Real KVM in QEMU TCG: run.py copies the files into L1's /files.
    cmd = (f"/rax --backend kvm --cpus {CPUS} --mem 512M --kernel "
           f"/files/{os.path.basename(kernel)} --initrd /files/initrd.gz "
           f"--cmdline '{CMDLINE}'; echo RAX-STATUS $?")
    env = dict(os.environ, srcdir=SRC,
               RAX_STATIC=os.path.join(BUILD, "rax-static"))
    r = subprocess.run([sys.executable, os.path.join(SRC, "tests", "nested",
                                                     "run.py"),
                        "--file", kernel, "--file", initrd, "--cmd", cmd],
                       cwd=tmp, env=env, capture_output=True, text=True,
                       errors="replace", timeout=1500)
    if r.returncode == 77:
        print("kvm-nested: SKIP: " + r.stdout.strip().splitlines()[-1]
              if r.stdout.strip() else "kvm-nested: SKIP")
    else:
        log = os.path.join(tmp, "nested-console.log")
        out = open(log, errors="replace").read() if os.path.exists(log) \
            else r.stdout
        st = [x.split()[1] for x in out.replace("\r", "").splitlines()
              if x.startswith("RAX-STATUS ")]
        ran += 1
        passed += check("kvm-nested", int(st[0]) if st else -1, out)
    subprocess.run(["rm", "-rf", tmp])
    return 0 if passed == ran else 1


if __name__ == "__main__":
    sys.exit(main())
