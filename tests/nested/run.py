#!/usr/bin/python3
"""rax on real KVM boots the default guest to a shell, nested in QEMU TCG.

Run it (from the build folder):
    make check-nested
or by hand, once `make guest guest-l1 rax-static` has run:
    srcdir=.. /usr/bin/python3 ../tests/nested/run.py [--rax ./rax-static]
        [--cmd 'rax --version'] [--gdb] [--interact] [--timeout S]
        [--cpu qemu64,+svm,+npt] [--guest-elf F.elf ... --guest-out DIR]
        [--guest-watchdog S]
        [--file F ...] [--mem MIB] [--disk] [--net] [--rax-net ./rax]
        [--cpus N] [--l1-cpus N] [--echo]
Environment: RAX_STATIC (the static rax), RAX_GT_WATCHDOG (the default
of --guest-watchdog), RAX_NESTED_GUEST_DIR and
RAX_NESTED_L1_DIR (use these folders instead of the cache's).

This machine's /dev/kvm cannot boot Linux (see ENVIRONMENT.md), so the test
boots an L1 Linux (examples/build-guest.sh --l1: kvm_amd built in) under
`qemu-system-x86_64 -accel tcg -cpu qemu64,+svm,+npt`.  Its initramfs is the
cached base (busybox, /init) followed by a second archive made here: /rax
(statically linked), the default guest in /guest, and /l1-cmd, which L1's
/init runs with the console (L1's ttyS0, our stdio) as controlling tty,
then prints "RAX-L1-EXIT <status>" and reboots (QEMU has -no-reboot).
L1's ttyS1 is a unix socket in the temporary folder, for `rax --gdb
/dev/ttyS1` (--gdb prints the socket path and keeps L1 alive).

Both check that rax took the queues' notifications through ioeventfds
and raised MSI-X vector 1 through an irqfd (rax --log info,dev).

With --disk, the guest boots from a root file system on virtio-blk
instead (tests/py/rootfs.py: ext4 made by mke2fs -d): QEMU gives L1 the
image as its /dev/vda (-drive if=virtio), and rax --backend kvm in L1
gives that block device to the guest as its /dev/vda.  The guest writes
a file, syncs, remounts / read-only and reboots; L1 syncs; after QEMU
exits the host checks the image with e2fsck -fn and reads the file back
with debugfs.

With --net (alone or with --disk), L1 is the host of the user-mode
network: it runs busybox httpd on its 127.0.0.1:8080, and rax with --net
user,hostfwd=tcp:127.0.0.1:8081-:80.  rax-static has no libslirp
(Debian ships no static library), so L1 gets the dynamically linked rax
(--rax-net, default ./rax) with the shared libraries ldd names.  The
guest runs udhcpc (10.0.2.15), fetches L1's page from 10.0.2.2:8080 and
starts httpd on port 80; a loop in L1 fetches that page through the
forward and prints it ("RAX-L1-FWD ...").

The default check: /dev/kvm exists in L1, `rax --version` runs, `rax
--backend kvm` prints RAX-GUEST-READY, `echo $((6*7))` answers 42, and
`reboot -f` in the guest ends rax with status 0.  Exit status: 0 pass,
1 fail, 77 skip (guest, L1 or rax-static not built, or no QEMU).
The whole console goes to nested-console.log in the current folder
(nested-disk-console.log with --disk, nested-net-console.log with --net,
nested-smp-console.log with --cpus).

With --guest-elf (tests/guest programs), L1 instead runs each ELF (or
flat .bin) with `rax --backend kvm --kernel F --mem 64M` plus the options
of F's NAME.opts beside it when there is one, its output to a file, and
prints "RAX-GT-START name" before and the output after, between
"RAX-GT-BEGIN name" and "RAX-GT-END name status"; the harness writes
DIR/name.out (carriage returns dropped) and DIR/name.status, and exits 0
when every program ran (tests/guest/nested.sh compares the outputs with
the .expect files).  A program still running after --guest-watchdog
seconds (default 120) is reported by L1 (rax's threads and their system
calls, the output so far) and ended with SIGTERM; the harness prints
that report and the program fails by its status.

With --cpus N, rax runs the default guest with --cpus N (a thread per
vCPU in L1, the APs started by KVM's in-kernel LAPIC) and the check
adds `nproc` in the guest, which must print N, and ends with
`poweroff -f` (ACPI \\_S5) instead of `reboot -f`.  --l1-cpus N gives L1
N CPUs (QEMU -smp N; default 1).

--file F (repeatable) copies F into L1's /files, for a --cmd to use
(tests/kut/run.py puts kvm-unit-tests images and its script there);
--mem sets L1's RAM (default 1024 MiB).
"""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pexpect

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "py"))
sys.dont_write_bytecode = True  # keep the source tree clean
import rootfs  # noqa: E402

DISK_CMDLINE = "console=ttyS0 nokaslr reboot=k root=/dev/vda rw init=/init"


class Fail(Exception):
    pass


def srcdir():
    return os.environ.get("srcdir") or os.path.join(HERE, "..", "..")


def cache_dir(l1):
    """The cache folder build-guest.sh uses ($RAX_NESTED_L1_DIR or
    $RAX_NESTED_GUEST_DIR override it), or None when not built."""
    d = os.environ.get("RAX_NESTED_L1_DIR" if l1 else "RAX_NESTED_GUEST_DIR")
    if d:
        return d if os.path.exists(os.path.join(d, "bzImage")) else None
    script = os.path.join(srcdir(), "examples", "build-guest.sh")
    args = ["bash", script, "--print-dir"] + (["--l1"] if l1 else [])
    d = subprocess.run(args, check=True, capture_output=True,
                       text=True).stdout.strip()
    return d if os.path.exists(os.path.join(d, ".complete")) else None


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(SKIP)


def find_inputs(opt):
    guest, l1 = cache_dir(False), cache_dir(True)
    if not guest:
        skip("the default guest is not built: run 'make guest'")
    if not l1:
        skip("the L1 host kernel is not built: run 'make guest-l1'")
    rax = opt.rax or os.environ.get("RAX_STATIC") or "./rax-static"
    if not os.access(rax, os.X_OK):
        skip(f"{rax} is not built: run 'make rax-static'")
    # RAX_NESTED_QEMU: another QEMU for L0 (a newer TCG, see
    # DEVELOPERS.md "The KVM engine on this machine").
    qemu = os.environ.get("RAX_NESTED_QEMU") or \
        shutil.which("qemu-system-x86_64")
    if not qemu or not os.access(qemu, os.X_OK):
        skip("qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
    return guest, l1, rax, qemu


# Waits until the console has sent what is queued (busybox stty sets the
# mode with TCSADRAIN), for a timed UART (Bochs's, tests/intel): when
# /l1-cmd, the session leader, exits, the kernel hangs up the console and
# drops output still queued, and a kernel message (KVM's, while the next
# program runs) would land in the middle of it.
DRAIN = "stty $(stty -g)\n"


# A guest program still running after this many seconds of L1's time
# (they take well under one: 12 in about 3 s) is reported and ended
# (guest_watchdog()); $RAX_GT_WATCHDOG overrides it.
GT_WATCHDOG = 120

# The guest programs' watchdog in L1: gt_watch NAME PID SECONDS, in the
# background, reports rax's threads (state and system call: "16 ...
# 0xae80" is ioctl KVM_RUN), the program's COM1 output and rax's
# stderr so far, then ends rax with SIGTERM (rax stops the vCPUs and
# exits 143, saying so), and with SIGKILL if that does not end it.  It
# checks once a second, so it ends soon after rax does.
GT_WATCH_FN = r"""gt_alive() {
  [ -e /proc/$1 ] && [ "$(cut -d' ' -f3 /proc/$1/stat 2>/dev/null)" != Z ]
}
gt_threads() {
  for t in /proc/$1/task/*; do
    echo "RAX-GT-HUNG $2:   thread ${t##*/} $(cat $t/comm 2>/dev/null)" \
      "state $(cut -d' ' -f3 $t/stat 2>/dev/null)" \
      "syscall $(cat $t/syscall 2>/dev/null)"
  done
}
gt_watch() {
  i=0
  while [ $i -lt $3 ]; do sleep 1; gt_alive $2 || exit 0; i=$((i+1)); done
  echo "RAX-GT-HUNG $1: rax (pid $2) still running after $3 s"
  gt_threads $2 $1
  echo "RAX-GT-HUNG $1: its COM1 output so far (last 20 lines):"
  tail -n 20 /tmp/$1.out | sed "s/^/RAX-GT-HUNG $1: | /"
  echo "RAX-GT-HUNG $1: its stderr so far:"
  tail -n 20 /tmp/$1.err | sed "s/^/RAX-GT-HUNG $1: | /"
  echo "RAX-GT-HUNG $1: sending SIGTERM"
  kill -TERM $2
  i=0
  while [ $i -lt 10 ]; do sleep 1; gt_alive $2 || exit 0; i=$((i+1)); done
  echo "RAX-GT-HUNG $1: still running 10 s after SIGTERM; SIGKILL"
  gt_threads $2 $1
  kill -KILL $2
}
"""


def guest_watchdog(opt):
    """Seconds before L1's watchdog ends a guest program's rax (opt may
    be another harness's, without --guest-watchdog: tests/intel)."""
    return int(getattr(opt, "guest_watchdog", None) or
               os.environ.get("RAX_GT_WATCHDOG") or GT_WATCHDOG)


def l1_cmd(opt):
    """The script L1's /init runs; its exit status is rax's."""
    head = ("#!/bin/sh\n"
            "export PATH=/:$PATH RAX_GUEST_DIR=/guest\n")
    if opt.guest_elf:
        # RAX-GT-START names the program before it runs, so that a
        # hang says whose it is; its output follows once rax has ended.
        return head + GT_WATCH_FN + (
            "for f in /gt/*.elf /gt/*.bin; do\n"
            "  [ -f $f ] || continue; n=${f##*/}; n=${n%.*}\n"
            "  echo \"RAX-GT-START $n\"\n"
            "  rax --backend kvm --kernel $f --mem 64M "
            "$(cat /gt/$n.opts 2>/dev/null) "
            "</dev/null >/tmp/$n.out 2>/tmp/$n.err &\n"
            "  p=$!\n"
            f"  gt_watch $n $p {guest_watchdog(opt)} &\n"
            "  w=$!\n"
            "  wait $p; s=$?\n"
            "  kill $w 2>/dev/null; wait $w 2>/dev/null\n"
            "  echo \"RAX-GT-BEGIN $n\"; cat /tmp/$n.out\n"
            "  echo \"RAX-GT-END $n $s\"; cat /tmp/$n.err\n"
            "  " + DRAIN + "done\n")
    if opt.cmd:
        return head + opt.cmd + "\n"
    if opt.disk or opt.net:
        return head + virtio_cmd(opt)
    gdb = " --gdb /dev/ttyS1" if opt.gdb else ""
    cpus = f" --cpus {opt.cpus}" if opt.cpus else ""
    return (head + "rax --version || exit 125\n"
            f"exec rax --backend kvm{gdb}{cpus}\n")


def virtio_cmd(opt):
    """L1's script for --disk and --net."""
    rax = "/rax-net" if opt.net else "rax"
    cmd = rax + " --version || exit 125\n"
    args = " --backend kvm --log info,dev"
    if opt.disk:
        args += (" --kernel /guest/bzImage --disk /dev/vda "
                 f"--cmdline '{DISK_CMDLINE}'")
    if opt.net:
        cmd += ("ifconfig lo 127.0.0.1 up\n"
                f"mkdir -p /www && echo {opt.l1_token} > /www/hello.txt\n"
                "httpd -p 127.0.0.1:8080 -h /www\n"
                "(for i in $(seq 900); do\n"
                "  wget -q -O /tmp/fwd http://127.0.0.1:8081/index.html "
                "2>/dev/null && break; sleep 1\n"
                "done; echo \"RAX-L1-FWD $(cat /tmp/fwd)\") &\n")
        args += " --net user,hostfwd=tcp:127.0.0.1:8081-:80"
    # L1's page cache holds what rax wrote to /dev/vda: sync it to
    # QEMU's disk before L1 reboots.
    return cmd + rax + args + "\ns=$?\nsync\nexit $s\n"


def copy_dynamic(exe, root, name):
    """exe as root/name, with the shared libraries ldd lists at their
    own paths under root."""
    shutil.copy(exe, os.path.join(root, name))
    out = subprocess.run(["ldd", exe], check=True, capture_output=True,
                         text=True).stdout
    for lib in re.findall(r"(/\S+) \(0x", out):
        dst = os.path.join(root, lib.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copy(lib, dst)  # follows symlinks: the file itself


class Tee:
    """A pexpect log that writes to a file and to a stream (--echo);
    closing it closes the file."""

    def __init__(self, f, stream):
        self.f, self.stream, self.name = f, stream, f.name

    def write(self, data):
        self.f.write(data)
        self.stream.write(data)

    def flush(self):
        self.f.flush()
        self.stream.flush()

    def close(self):
        self.f.close()


class Options(argparse.Namespace):
    """Options for make_initrd() and l1_cmd() from other harnesses
    (tests/intel, the gdb suite's nested sessions): the ones given, and
    None for every other, so that a new option here does not break them."""

    def __getattr__(self, name):
        return None


def make_initrd(tmp, guest, l1, rax, opt):
    """Base archive (gzip), zero padding to 4 bytes, then an uncompressed
    newc archive: the kernel unpacks concatenated archives in order
    (Documentation/driver-api/early-userspace/buffer-format.rst)."""
    root = os.path.join(tmp, "root")
    os.makedirs(os.path.join(root, "guest"))
    shutil.copy(rax, os.path.join(root, "rax"))
    if opt.net:
        copy_dynamic(opt.rax_net, root, "rax-net")
    if opt.guest_elf:
        os.makedirs(os.path.join(root, "gt"))
        for f in opt.guest_elf:
            shutil.copy(f, os.path.join(root, "gt"))
            # NAME.opts beside NAME.elf or NAME.bin: more rax options.
            opts = os.path.splitext(f)[0] + ".opts"
            if os.path.exists(opts):
                shutil.copy(opts, os.path.join(root, "gt"))
    if opt.file:
        os.makedirs(os.path.join(root, "files"))
        for f in opt.file:
            shutil.copy(f, os.path.join(root, "files"))
    for f in ("bzImage", "initramfs.cpio.gz"):
        shutil.copy(os.path.join(guest, f), os.path.join(root, "guest", f))
    # The symbols stay on the host side; rax only needs the loadable image.
    subprocess.run(["objcopy", "--strip-debug", os.path.join(guest, "vmlinux"),
                    os.path.join(root, "guest", "vmlinux")], check=True)
    with open(os.path.join(root, "l1-cmd"), "w") as f:
        f.write(l1_cmd(opt))
    os.chmod(os.path.join(root, "l1-cmd"), 0o755)
    names = subprocess.run(["find", ".", "-mindepth", "1"], cwd=root,
                           check=True, capture_output=True).stdout
    overlay = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc",
                              "-R", "0:0"], cwd=root, input=names,
                             check=True, capture_output=True).stdout
    initrd = os.path.join(tmp, "l1-initrd")
    with open(os.path.join(l1, "initramfs-base.cpio.gz"), "rb") as f:
        base = f.read()
    with open(initrd, "wb") as f:
        f.write(base + b"\0" * (-len(base) % 4) + overlay)
    return initrd


def host_tsc_khz():
    """TCG's guest TSC runs at the host's rate (no icount)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("cpu MHz"):
                    return int(float(line.split(":")[1]) * 1000)
    except (OSError, ValueError):
        pass
    return 2000000


def qemu_argv(qemu, l1, initrd, sock, cpu, append, mem=1024,
              disk=None, smp=None):
    """L1 cannot calibrate its TSC against the PIT under a loaded TCG host
    ("tsc: Unable to calibrate against PIT"); with tsc_khz 0, KVM's vCPU
    loops on its clock-update request and never enters the guest (KVM_RUN
    hangs with RIP unchanged).  So L1 is told the TSC rate."""
    tsc = f"tsc_early_khz={host_tsc_khz()} tsc=reliable"
    drive = ["-drive", f"file={disk},if=virtio,format=raw"] if disk else []
    smp = ["-smp", str(smp)] if smp else []
    return [qemu, "-accel", "tcg", "-cpu", cpu, "-m", str(mem), *smp,
            "-nographic", "-no-reboot",
            "-serial", "mon:stdio",
            "-serial", f"unix:{sock},server=on,wait=off",
            "-kernel", os.path.join(l1, "bzImage"), "-initrd", initrd,
            "-append", f"console=ttyS0 nokaslr panic=-1 {tsc} {append}",
            *drive]


def expect(child, what, timeout, why):
    """Wait for a pattern; on timeout or EOF raise Fail with `why`."""
    i = child.expect([what, pexpect.TIMEOUT, pexpect.EOF], timeout=timeout)
    if i == 1:
        raise Fail(f"{why} (no '{what}' within {timeout} s)")
    if i == 2:
        raise Fail(f"{why} (QEMU exited before '{what}')")
    return child.match


def rax_exit(child, timeout):
    m = expect(child, r"RAX-L1-EXIT (\d+)", timeout,
               "rax did not exit")
    return int(m.group(1))


def check(child, opt, t0):
    """The default scenario; prints timings as it goes."""
    expect(child, "RAX-L1-INIT", opt.timeout, "L1 did not reach its /init")
    t_init = time.monotonic() - t0
    print(f"nested: L1 booted to /init in {t_init:.1f} s")
    i = child.expect(["RAX-L1-KVM yes", "RAX-L1-KVM missing"], timeout=30)
    if i:
        raise Fail("/dev/kvm is missing in L1 (kvm_amd did not load; "
                   "see nested-console.log)")
    if "Nested Paging enabled" not in child.before:
        raise Fail("kvm_amd did not report 'Nested Paging enabled'")
    expect(child, r"rax \d+\.\d+", 60, "static rax did not run in L1")
    i = child.expect(["RAX-GUEST-READY", r"RAX-L1-EXIT (\d+)",
                      pexpect.TIMEOUT, pexpect.EOF], timeout=opt.timeout)
    if i == 1:
        said = [ln for ln in child.before.splitlines() if "rax" in ln]
        raise Fail(f"rax --backend kvm exited with status {child.match[1]} "
                   f"before the guest printed RAX-GUEST-READY; rax said: "
                   f"{said[-1].strip() if said else '(nothing)'}")
    if i >= 2:
        raise Fail("no RAX-GUEST-READY from the guest within "
                   f"{opt.timeout} s")
    t_ready = time.monotonic() - t0
    print(f"nested: guest printed RAX-GUEST-READY at {t_ready:.1f} s "
          f"({t_ready - t_init:.1f} s after L1's /init)")
    expect(child, "~ # ", 60, "no shell prompt in the guest")
    child.send("echo $((6*7))\r")
    expect(child, r"\n42\r*\n", 60, "the guest shell did not answer 42")
    expect(child, "~ # ", 60, "no shell prompt after echo")
    if opt.cpus:
        m = guest_cmd(child, "nproc", r"\n(\d+)\r*\n",
                      "the guest did not answer nproc", 120)
        if int(m.group(1)) != opt.cpus:
            raise Fail(f"nproc printed {m.group(1)} with --cpus {opt.cpus}")
        print(f"nested: nproc printed {opt.cpus}")
    # SMP: the ACPI power-off (\_S5, from the shell pinned to the last
    # CPU) instead of the reset.
    end = f"taskset -c {opt.cpus - 1} poweroff -f" if opt.cpus else \
        "reboot -f"
    child.send(end + "\r")
    status = rax_exit(child, 120)
    if status:
        raise Fail(f"rax exited with status {status} after {end} "
                   "(expected 0)")
    print(f"nested: rax exited 0 at {time.monotonic() - t0:.1f} s")


def guest_cmd(child, cmd, expect_re, why, timeout=300):
    """Types cmd in the guest; waits for expect_re, then the prompt."""
    child.send(cmd + "\r")
    m = expect(child, expect_re, timeout, why)
    expect(child, "~ # ", 120, f"no prompt after: {cmd}")
    return m


def check_virtio(child, opt, t0):
    """--disk: the guest on a virtio-blk root writes a file; --net: DHCP,
    a fetch from L1 and a forward from L1 to the guest."""
    expect(child, "RAX-L1-INIT", opt.timeout, "L1 did not reach its /init")
    ready = rootfs.MARKER + r" /dev/root / ext4 (\S+) 0 0" if opt.disk \
        else "RAX-GUEST-READY"
    i = child.expect([ready, r"RAX-L1-EXIT (\d+)", pexpect.TIMEOUT,
                      pexpect.EOF], timeout=opt.timeout)
    if i == 1:
        raise Fail(f"rax exited with status {child.match[1]} before the "
                   "guest was ready")
    if i >= 2:
        raise Fail(f"the guest was not ready within {opt.timeout} s")
    if opt.disk and not child.match.group(1).startswith("rw"):
        raise Fail(f"root mounted {child.match.group(1)}, expected rw")
    print(f"nested: guest ready at {time.monotonic() - t0:.1f} s")
    expect(child, "~ # ", 120, "no shell prompt in the guest")
    if opt.disk:
        guest_cmd(child, f"echo {opt.token} > /root/hello.txt && sync && "
                  "echo w''rote", r"\nwrote\r*\n", "the guest could not "
                  "write to its root")
    if opt.net:
        guest_cmd(child, "udhcpc -i eth0 -n -q -t 5",
                  r"lease of 10\.0\.2\.15 obtained", "no DHCP lease")
        guest_cmd(child, "wget -q -O - http://10.0.2.2:8080/hello.txt",
                  "\n" + opt.l1_token, "the guest could not fetch L1's "
                  "page from 10.0.2.2")
        guest_cmd(child, f"mkdir -p /www && echo {opt.token} > "
                  "/www/index.html && httpd -p 80 -h /www && echo s''erving",
                  r"\nserving", "httpd did not start in the guest")
        expect(child, "RAX-L1-FWD " + opt.token, 300, "L1 could not fetch "
               "the guest's page through the forward")
        print(f"nested: network checks done at "
              f"{time.monotonic() - t0:.1f} s")
    if opt.disk:
        guest_cmd(child, "mount -o remount,ro / && echo r''emounted",
                  r"\nremounted", "remounting / read-only failed")
    child.send("reboot -f\r")
    status = rax_exit(child, 120)
    if status:
        raise Fail(f"rax exited with status {status} after reboot -f")


def check_eventfds(log, opt):
    """On KVM the queues' notifications went through ioeventfds and MSI-X
    vector 1 (the first queue's) through an irqfd: rax --log info,dev
    says so on the console."""
    log.flush()
    with open(log.name, errors="replace") as f:
        text = f.read()
    for dev, used in (("virtio-blk", opt.disk), ("virtio-net", opt.net)):
        for what in ("notifications through ioeventfds",
                     "MSI-X vector 1 through an irqfd"):
            if used and f"{dev}: {what}" not in text:
                raise Fail(f"rax did not report '{dev}: {what}'")


def guest_programs(child, opt):
    """Collect each tests/guest program's output into opt.guest_out.
    A program L1's watchdog had to end (l1_cmd(), gt_watch) is reported
    here with what the watchdog saw, and fails by its status."""
    expect(child, "RAX-L1-INIT", opt.timeout, "L1 did not boot")
    os.makedirs(opt.guest_out, exist_ok=True)
    last = None
    for _ in opt.guest_elf:
        m = expect(child, r"RAX-GT-START (\S+)\r*\n", opt.timeout,
                   "the next guest program did not start" +
                   (f" (after {last})" if last else ""))
        name = last = m.group(1)
        expect(child, r"RAX-GT-BEGIN (\S+)\r*\n", opt.timeout,
               f"guest program {name} did not end, nor did L1's "
               f"watchdog end it ({guest_watchdog(opt)} s)")
        hung = [ln for ln in child.before.replace("\r", "").splitlines()
                if ln.startswith("RAX-GT-HUNG ")]
        if hung:
            print(f"nested: {name}: L1's watchdog ended rax:")
            for ln in hung:
                print("  " + ln.split(": ", 1)[1])
        m = expect(child, r"RAX-GT-END (\S+) (\d+)", opt.timeout,
                   f"guest program {name}: no RAX-GT-END after its output")
        out = child.before.replace("\r", "")
        # L1's own kernel messages (the clocksource watchdog switching
        # to the TSC, KVM's warnings) go to the same console and may
        # land between a program's lines; the programs never print a
        # line that starts with a printk timestamp.
        out = "".join(ln for ln in out.splitlines(True)
                      if not re.match(r"\[\s*\d+\.\d+\] ", ln))
        with open(os.path.join(opt.guest_out, name + ".out"), "w") as f:
            f.write(out)
        with open(os.path.join(opt.guest_out, name + ".status"), "w") as f:
            f.write(m.group(2) + "\n")
        print(f"nested: {name} on KVM exited with status {m.group(2)}")
    rax_exit(child, opt.timeout)


def stop(child, wait):
    """End QEMU: after L1's reboot it exits by itself (give it `wait`
    seconds); otherwise kill it, by PID."""
    if wait:
        try:
            child.expect(pexpect.EOF, timeout=wait)
        except pexpect.TIMEOUT:
            pass
    child.close(force=True)


def net_unusable(rax):
    """Why `rax` cannot give L1 a --net (None when it can)."""
    if not os.access(rax, os.X_OK) or not shutil.which("ldd"):
        return f"{rax} (dynamically linked) or ldd is missing"
    r = subprocess.run([rax, "--kernel", "/nonexistent", "--net", "user"],
                       capture_output=True, text=True)
    if "without libslirp" in r.stderr:
        return f"{rax} was built without libslirp (libslirp-dev)"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rax", help="static rax (default $RAX_STATIC or "
                    "./rax-static)")
    ap.add_argument("--cmd", help="shell command for L1 instead of the "
                    "default scenario; reports its exit status")
    ap.add_argument("--gdb", action="store_true",
                    help="run rax with --gdb /dev/ttyS1 and print the socket")
    ap.add_argument("--interact", action="store_true",
                    help="hand the L1 console to the terminal")
    ap.add_argument("--cpu", default="qemu64,+svm,+npt",
                    help="QEMU -cpu for L1 (default qemu64,+svm,+npt)")
    ap.add_argument("--append", default="",
                    help="more L1 kernel parameters")
    ap.add_argument("--guest-elf", action="append", default=[],
                    help="a tests/guest program to run on KVM in L1 "
                    "(repeat it; needs --guest-out)")
    ap.add_argument("--guest-watchdog", type=int,
                    help="seconds of L1's time before L1 reports and "
                    "ends a --guest-elf program still running (default "
                    f"$RAX_GT_WATCHDOG or {GT_WATCHDOG})")
    ap.add_argument("--guest-out", default="nested-guest",
                    help="folder for the programs' NAME.out and "
                    "NAME.status")
    ap.add_argument("--file", action="append", default=[],
                    help="a file to copy into L1's /files (repeat it)")
    ap.add_argument("--mem", type=int, default=1024,
                    help="L1's RAM in MiB (default 1024)")
    ap.add_argument("--disk", action="store_true",
                    help="boot the guest from an ext4 root on virtio-blk "
                    "and check the image on the host afterwards")
    ap.add_argument("--net", action="store_true",
                    help="the user-mode network, L1 as its host")
    ap.add_argument("--rax-net", default=os.environ.get("RAX_DYNAMIC",
                                                        "./rax"),
                    help="the dynamically linked rax for --net "
                    "(default $RAX_DYNAMIC or ./rax)")
    ap.add_argument("--cpus", type=int, default=0,
                    help="rax --cpus N for the default guest; the "
                    "guest's nproc must print N")
    ap.add_argument("--l1-cpus", type=int, default=0,
                    help="L1's CPUs (QEMU -smp N; default 1)")
    ap.add_argument("--timeout", type=float, default=300,
                    help="seconds for each boot step (default 300)")
    ap.add_argument("--echo", action="store_true",
                    help="copy L1's console to stdout too (for a harness "
                    "that reads the guest's output as it comes)")
    opt = ap.parse_args()
    # A harness timeout (SIGTERM) still runs the finally clause below.
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(1))
    guest, l1, rax, qemu = find_inputs(opt)

    if opt.disk and rootfs.missing_tools():
        skip("missing " + ", ".join(rootfs.missing_tools()) +
             " (apt-get install e2fsprogs busybox-static)")
    if opt.net:
        why = net_unusable(opt.rax_net)
        if why:
            skip(why)
    opt.token = f"from-the-guest-{os.getpid()}-{int(time.time())}"
    opt.l1_token = f"from-l1-{os.getpid()}"
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rax-nested-") as tmp:
        initrd = make_initrd(tmp, guest, l1, rax, opt)
        sock = os.path.join(tmp, "ttyS1.sock")
        image = os.path.join(tmp, "rootfs.img") if opt.disk else None
        if image:
            rootfs.build(image)
        argv = qemu_argv(qemu, l1, initrd, sock, opt.cpu, opt.append,
                         opt.mem, image, opt.l1_cpus)
        print("nested: " + " ".join(argv))
        if opt.gdb:
            print(f"nested: L1 ttyS1 (rax --gdb) is {sock}: "
                  f"gdb -ex 'target remote {sock}' {guest}/vmlinux")
        child = pexpect.spawn(argv[0], argv[1:], encoding="utf-8",
                              codec_errors="replace", timeout=opt.timeout,
                              dimensions=(50, 200))
        parts = [x for x in ("disk", "net") if getattr(opt, x)] + \
            (["smp"] if opt.cpus else [])
        child.logfile_read = open("-".join(["nested", *parts, "console.log"]),
                                  "w")
        if opt.echo:
            child.logfile_read = Tee(child.logfile_read, sys.stdout)
        wait = 0
        try:
            if opt.interact or opt.gdb:
                child.interact()
                wait = 5
                return 0
            if opt.guest_elf:
                guest_programs(child, opt)
                print(f"nested: guest programs done in "
                      f"{time.monotonic() - t0:.1f} s")
                wait = 30
                return 0
            if opt.disk or opt.net:
                check_virtio(child, opt, t0)
                stop(child, 60)  # QEMU exits after L1's reboot
                check_eventfds(child.logfile_read, opt)
                if opt.disk:
                    status, out = rootfs.fsck(image)
                    if status:
                        raise Fail(f"e2fsck -fn found problems:\n{out}")
                    got = rootfs.cat(image, "/root/hello.txt")
                    if got != opt.token + "\n":
                        raise Fail(f"debugfs read {got!r} from "
                                   "/root/hello.txt")
                    print("nested: e2fsck clean, debugfs finds the file")
                print(f"nested: PASS in {time.monotonic() - t0:.1f} s")
                return 0
            if opt.cmd:
                expect(child, "RAX-L1-INIT", opt.timeout, "L1 did not boot")
                status = rax_exit(child, opt.timeout)
                print(f"nested: command exited with status {status}")
                wait = 30
                return 0 if status == 0 else 1
            check(child, opt, t0)
            wait = 30
            print(f"nested: PASS in {time.monotonic() - t0:.1f} s")
            return 0
        except Fail as err:
            print(f"nested: FAIL: {err}")
            tail = child.before if isinstance(child.before, str) else ""
            print("nested: last console output:\n" + tail[-2000:])
            return 1
        finally:
            stop(child, wait)
            child.logfile_read.close()


if __name__ == "__main__":
    sys.exit(main())
