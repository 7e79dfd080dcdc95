#!/usr/bin/python3
"""rax on real KVM on Intel VT-x: kvm_intel in an L1 Linux inside Bochs.

Run it (from the build folder):
    make check-kvm-intel
or by hand, once `make guest guest-l1 rax-static` has run:
    srcdir=.. /usr/bin/python3 ../tests/intel/run.py [--rax ./rax-static]
        [--cmd 'rax --version'] [--gdb] [--interact] [--model M]
        [--ticks N] [--megs MIB] [--append 'kvm_intel.ept=0']
        [--guest-elf F.elf ... --guest-out DIR]
Environment: RAX_STATIC (the static rax), RAX_NESTED_GUEST_DIR and
RAX_NESTED_L1_DIR (as for tests/nested), BOCHS (the Bochs binary).

The outer machine is Bochs 2.7 with a VT-x model (default
corei7_sandy_bridge_2600k: VMX with EPT and unrestricted guest), booted
headless from an ISO image made here: ISOLINUX (Debian's isolinux and
syslinux-common), the L1 kernel (examples/build-guest.sh --l1, which
builds kvm_intel in) and the initramfs of tests/nested/run.py
(make_initrd: the cached base, rax-static, the default guest, /l1-cmd).
L1's ttyS0 is Bochs's COM1 and L1's ttyS1 its COM2, each a TCP
connection to this script (Bochs's "socket-client" mode); with --gdb the
script relays COM2 to a TCP port of its own that gdb attaches to (one gdb
at a time, re-attach allowed).

Budgets are Bochs ticks, not seconds (tests/bm/bochs.sh): the clock
follows the instructions executed (clock: sync=none, ips=60000000), and
the Bochs debugger's time breakpoint ("sba") ends a run that uses up its
budget; the run then reports which step it did not reach.  Wall-clock
waits below only guard against Bochs itself hanging.

The default check is tests/nested's: /dev/kvm exists in L1 and is
kvm_intel's (its module parameters are printed: ept, unrestricted_guest,
enable_apicv...), `rax --version` runs, `rax --backend kvm` prints
RAX-GUEST-READY, `echo $((6*7))` answers 42, and `reboot -f` in the guest
ends rax with status 0.  L1 then reboots by triple fault (reboot=t),
which ends Bochs (cpu: reset_on_triple_fault=0).  With --guest-elf, L1
runs the tests/guest programs as tests/nested/run.py does (tests/guest/
nested.py --intel compares the outputs).  Exit status: 0 pass, 1 fail,
77 skip (guest, L1, rax-static, Bochs, ISOLINUX or genisoimage missing).
The console goes to intel-console.log in the current folder, Bochs's log
to intel-bochs.log.  tests/py/test_gdb_linux.py imports boot() and Relay
for its kvm-intel sessions.
"""
import argparse
import importlib.util
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pexpect
import pexpect.fdpexpect

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = "corei7_sandy_bridge_2600k"
# Bochs ticks per virtual second (bochsrc "ips"): the guest's TSC runs at
# this rate, and a budget of N ticks is N / IPS seconds of virtual time.
IPS = 60000000
# The default check: L1's boot, the guest's boot on KVM and the shell
# commands took 1.37e9 ticks, 1.72e9 since the L1 and guest kernels have
# virtio and networking (a run repeats to within 1.5 %: the console's
# timing moves it); about 3 times that.
DEFAULT_TICKS = 5 * 10**9
# Interactive and gdb sessions idle at stops, and an idle (halted) L1
# runs Bochs's clock ahead quickly: a budget of hours of virtual time.
SESSION_TICKS = 10**12
# Wall-clock guard against a hung Bochs (not a budget: the ticks are).
WALL_GUARD = 3600
ISOLINUX = "/usr/lib/ISOLINUX/isolinux.bin"
LDLINUX = "/usr/lib/syslinux/modules/bios/ldlinux.c32"
# reboot=t: L1 resets by triple fault, which ends Bochs (the BIOS would
# boot the CD again after a keyboard-controller reset).  clearcpuid:
# Bochs advertises APERF/MPERF (CPUID.6:ECX[0]) without the MSRs, so each
# scheduler tick's rdmsr would fail and add a line to Bochs's log.
L1_APPEND = ("console=ttyS0 nokaslr panic=-1 reboot=t tsc=reliable "
             "earlyprintk=serial clearcpuid=aperfmperf")


def load_nested():
    """tests/nested/run.py: the cache lookup, the L1 initramfs and
    /l1-cmd, the tests/guest programs' collector."""
    path = os.path.join(HERE, "..", "nested", "run.py")
    spec = importlib.util.spec_from_file_location("nested_run", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


NESTED = load_nested()
Fail = NESTED.Fail  # what both harnesses raise when a step fails


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(SKIP)


def find_tools():
    """Bochs and the ISO tools, or the reason they are missing."""
    bochs = os.environ.get("BOCHS") or shutil.which("bochs")
    if not bochs:
        return None, "bochs is not installed (apt-get install bochs " \
            "bochsbios vgabios bochs-term)"
    for f in (ISOLINUX, LDLINUX):
        if not os.path.exists(f):
            return None, f"{f} missing (apt-get install isolinux " \
                "syslinux-common)"
    if not shutil.which("genisoimage"):
        return None, "genisoimage is not installed"
    if not shutil.which("script"):
        return None, "script(1) is not installed (util-linux)"
    return bochs, None


def bochs_version(bochs):
    """(major, minor) from `bochs --help`, or (0, 0)."""
    try:
        out = subprocess.run([bochs, "--help"], capture_output=True,
                             text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return (0, 0)
    m = re.search(r"Bochs x86 Emulator (\d+)\.(\d+)", out.stdout + out.stderr)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def make_iso(tmp, l1, initrd, append):
    """An El Torito (no emulation) CD image: ISOLINUX, bzImage, initrd."""
    root = os.path.join(tmp, "iso")
    boot = os.path.join(root, "isolinux")
    os.makedirs(boot)
    shutil.copy(ISOLINUX, boot)
    shutil.copy(LDLINUX, boot)
    shutil.copy(os.path.join(l1, "bzImage"), os.path.join(boot, "bzImage"))
    shutil.copy(initrd, os.path.join(boot, "initrd"))
    with open(os.path.join(boot, "isolinux.cfg"), "w") as f:
        f.write("DEFAULT l1\nPROMPT 0\nTIMEOUT 0\nLABEL l1\n"
                "  KERNEL bzImage\n  INITRD initrd\n"
                f"  APPEND {append}\n")
    iso = os.path.join(tmp, "l1.iso")
    subprocess.run(["genisoimage", "-quiet", "-o", iso,
                    "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat",
                    "-no-emul-boot", "-boot-load-size", "4",
                    "-boot-info-table", "-l", "-R", root], check=True)
    return iso


BOCHSRC = """\
# Written by tests/intel/run.py.
megs: {megs}
cpu: model={model}, reset_on_triple_fault=0, ips={ips}
clock: sync=none, time0=946684800
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
display_library: term
boot: cdrom
ata0-master: type=cdrom, path={iso}, status=inserted
com1: enabled=1, mode=socket-client, dev=127.0.0.1:{com1}
com2: enabled=1, mode=socket-client, dev=127.0.0.1:{com2}
log: {log}
panic: action=fatal
error: action=report
info: action=report
debug: action=ignore
"""


def listener():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s


class Relay:
    """Forwards between Bochs's COM2 connection and one gdb at a time on a
    TCP port of its own; bytes from COM2 while no gdb is attached are
    dropped (rax sends nothing then)."""

    def __init__(self, com2):
        self.com2 = com2
        self.srv = listener()
        self.port = self.srv.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        gdb = None
        while self.running:
            socks = [self.com2, self.srv] + ([gdb] if gdb else [])
            try:
                ready, _, _ = select.select(socks, [], [], 0.2)
            except (OSError, ValueError):
                return
            for s in ready:
                if s is self.srv:
                    conn, _ = self.srv.accept()
                    if gdb:
                        conn.close()  # one gdb at a time
                    else:
                        gdb = conn
                    continue
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                if s is self.com2:
                    if not data:
                        self.running = False
                        break
                    if gdb:
                        try:
                            gdb.sendall(data)
                        except OSError:
                            gdb.close()
                            gdb = None
                elif not data:
                    gdb.close()
                    gdb = None
                else:
                    self.com2.sendall(data)
        if gdb:
            gdb.close()

    def close(self):
        self.running = False
        self.thread.join(5)
        self.srv.close()


class Bochs:
    """Bochs booting L1 from an ISO, COM1 as a pexpect child (.console),
    COM2 as a socket (.com2), both accepted here."""

    def __init__(self, bochs, tmp, iso, model, ticks, megs, logdir):
        self.bochs, self.tmp, self.ticks_budget = bochs, tmp, ticks
        self.log = os.path.join(logdir, "intel-bochs.log")
        s1, s2 = listener(), listener()
        with open(os.path.join(tmp, "bochsrc"), "w") as f:
            f.write(BOCHSRC.format(megs=megs, model=model, ips=IPS, iso=iso,
                                   com1=s1.getsockname()[1],
                                   com2=s2.getsockname()[1],
                                   log=self.log))
        with open(os.path.join(tmp, "dbg.rc"), "w") as f:
            f.write(f"sba {ticks}\nc\nquit\n")
        self.term = os.path.join(tmp, "term.out")
        # script(1) gives Bochs's term display a tty.
        with open(self.term, "wb") as out:
            self.proc = subprocess.Popen(
                ["script", "-qec",
                 f"{bochs} -q -f bochsrc -rc dbg.rc", "/dev/null"],
                cwd=tmp, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT)
        self.com1 = self.com2 = None
        try:
            self.com1 = self.accept(s1, "COM1")
            self.com2 = self.accept(s2, "COM2")
        except Fail:
            s2.close()
            self.stop()
            raise
        self.console = pexpect.fdpexpect.fdspawn(
            self.com1.fileno(), encoding="utf-8", codec_errors="replace",
            timeout=WALL_GUARD)

    def accept(self, srv, name):
        srv.settimeout(1)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                conn, _ = srv.accept()
                srv.close()
                return conn
            except socket.timeout:
                if self.proc.poll() is not None:
                    break
        srv.close()
        raise Fail(f"Bochs did not connect its {name}:\n" + self.term_out())

    def term_out(self):
        try:
            with open(self.term, errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def send(self, text):
        self.console.send(text)

    def ticks(self):
        """The tick of Bochs's last log line (each starts with it)."""
        try:
            with open(self.log, errors="replace") as f:
                lines = f.readlines()
        except OSError:
            return None
        for line in reversed(lines):
            m = re.match(r"^0*(\d+)[a-z]\[", line)
            if m:
                return int(m.group(1))
        return None

    def at_budget(self):
        return "Caught time breakpoint" in self.term_out()

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Ends Bochs if it still runs, by id: script(1) puts Bochs in a
        session of its own (it would get SIGHUP when script dies, but
        may not act on it at once), so Bochs first, then script."""
        if self.proc.poll() is None:
            path = f"/proc/{self.proc.pid}/task/{self.proc.pid}/children"
            try:
                with open(path) as f:
                    kids = [int(p) for p in f.read().split()]
            except OSError:
                kids = []
            for pid in kids + [self.proc.pid]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait(10)
        for s in (self.com1, self.com2):
            try:
                if s:
                    s.close()
            except OSError:
                pass


class Skip(Exception):
    pass


def prerequisites(rax=None):
    """(nested harness module, Bochs, guest dir, L1 dir, static rax), or
    Skip with what is missing."""
    nr = NESTED
    bochs_bin, why = find_tools()
    if not bochs_bin:
        raise Skip(why)
    guest, l1 = nr.cache_dir(False), nr.cache_dir(True)
    if not guest:
        raise Skip("the default guest is not built: run 'make guest'")
    if not l1:
        raise Skip("the L1 host kernel is not built: run 'make guest-l1'")
    rax = rax or os.environ.get("RAX_STATIC") or "./rax-static"
    if not os.access(rax, os.X_OK):
        raise Skip(f"{rax} is not built: run 'make rax-static'")
    return nr, bochs_bin, guest, l1, rax


def boot(tmp, cmd, rax=None, model=MODEL, ticks=DEFAULT_TICKS, megs=1024,
         append="", logdir=None, guest_elf=None):
    """Bochs booting L1 whose /l1-cmd is `cmd` (with guest_elf, a list
    of tests/guest programs, tests/nested's loop that runs each on KVM
    instead); files go to tmp, Bochs's log to logdir (default tmp)."""
    nr, bochs_bin, guest, l1, rax = prerequisites(rax)
    nopt = nr.Options(cmd=cmd, guest_elf=guest_elf)
    initrd = nr.make_initrd(tmp, guest, l1, rax, nopt)
    iso = make_iso(tmp, l1, initrd, (L1_APPEND + " " + append).strip())
    return Bochs(bochs_bin, tmp, iso, model, ticks, megs, logdir or tmp)


def expect(b, what, why):
    """Wait for a pattern on COM1; when Bochs ends first (its tick budget,
    a triple fault, a panic) raise Fail with `why` and the reason."""
    i = b.console.expect([what, pexpect.EOF, pexpect.TIMEOUT])
    if i == 0:
        return b.console.match
    if i == 1:
        b.wait(10)
        end = (f"Bochs stopped at its budget of {b.ticks_budget} ticks"
               if b.at_budget() else
               f"Bochs ended at tick {b.ticks()}")
        raise Fail(f"{why}: no '{what}' ({end})")
    raise Fail(f"{why}: no '{what}' within {WALL_GUARD} s of wall time "
               "(Bochs hung?)")


def drain(b, wait):
    """Reads COM1 into the log until Bochs ends (L1 reboots by triple
    fault after RAX-L1-EXIT), for at most `wait` seconds."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            b.console.read_nonblocking(1 << 16, timeout=1)
        except pexpect.TIMEOUT:
            if b.proc.poll() is not None:
                return
        except (pexpect.EOF, OSError, ValueError):
            return


def interact(b):
    """The terminal becomes L1's console until Ctrl-] or Bochs ends."""
    import termios
    import tty
    fd = sys.stdin.fileno()
    print("intel: the console is yours; Ctrl-] ends the run")
    old = termios.tcgetattr(fd) if os.isatty(fd) else None
    if old:
        tty.setraw(fd)
    try:
        while True:
            ready, _, _ = select.select([fd, b.com1], [], [])
            if b.com1 in ready:
                data = b.com1.recv(65536)
                if not data:
                    return
                os.write(sys.stdout.fileno(), data)
            if fd in ready:
                data = os.read(fd, 1024)
                if not data or b"\x1d" in data:
                    return
                b.com1.sendall(data)
    finally:
        if old:
            termios.tcsetattr(fd, termios.TCSADRAIN, old)


# Prints kvm_intel's view of the VT-x it found (its module parameters
# say which features it uses: EPT, unrestricted guest, APICv, VPID...).
KVM_INTEL_PARAMS = (
    "p=/sys/module/kvm_intel/parameters\n"
    "[ -d $p ] || { echo RAX-L1-VMX missing; exit 124; }\n"
    "echo RAX-L1-VMX $(for f in ept unrestricted_guest enable_apicv vpid "
    "flexpriority enable_shadow_vmcs pml preemption_timer; do "
    "echo $f=$(cat $p/$f 2>/dev/null); done)\n")


def l1_cmd(opt):
    if opt.cmd:
        return opt.cmd
    return (KVM_INTEL_PARAMS + "rax --version || exit 125\n"
            "rax --backend kvm\ns=$?\n" + NESTED.DRAIN + "exit $s\n")


def check(b, t0):
    def at():
        return f"{time.monotonic() - t0:.0f} s, tick {b.ticks()}"

    expect(b, "RAX-L1-INIT", "L1 did not reach its /init")
    print(f"intel: L1 booted to /init ({at()})")
    i = b.console.expect(["RAX-L1-KVM yes", "RAX-L1-KVM missing"])
    if i:
        raise Fail("/dev/kvm is missing in L1 (kvm_intel did not load; "
                   "see intel-console.log)")
    m = expect(b, r"RAX-L1-VMX ([^\r\n]*)\r*\n", "kvm_intel's parameters")
    if m.group(1) == "missing":
        raise Fail("kvm_intel is not loaded in L1 (/dev/kvm is another "
                   "vendor's?)")
    print(f"intel: kvm_intel: {m.group(1)}")
    expect(b, r"rax \d+\.\d+", "static rax did not run in L1")
    i = b.console.expect(["RAX-GUEST-READY", r"RAX-L1-EXIT (\d+)",
                          pexpect.EOF])
    if i == 1:
        said = [ln for ln in b.console.before.splitlines() if "rax" in ln]
        raise Fail(f"rax --backend kvm exited with status "
                   f"{b.console.match[1]} before the guest printed "
                   f"RAX-GUEST-READY; rax said: "
                   f"{said[-1].strip() if said else '(nothing)'}")
    if i == 2:
        raise Fail("no RAX-GUEST-READY (Bochs ended: "
                   f"{'budget' if b.at_budget() else 'tick %s' % b.ticks()})")
    print(f"intel: guest printed RAX-GUEST-READY ({at()})")
    expect(b, "~ # ", "no shell prompt in the guest")
    b.send("echo $((6*7))\r")
    expect(b, r"\n42\r*\n", "the guest shell did not answer 42")
    expect(b, "~ # ", "no shell prompt after echo")
    b.send("reboot -f\r")
    m = expect(b, r"RAX-L1-EXIT (\d+)", "rax did not exit")
    if int(m.group(1)):
        raise Fail(f"rax exited with status {m.group(1)} after reboot -f "
                   "(expected 0, guest requested reset)")
    print(f"intel: rax exited 0 ({at()})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rax", help="static rax (default $RAX_STATIC or "
                    "./rax-static)")
    ap.add_argument("--cmd", help="shell command for L1 instead of the "
                    "default scenario; reports its exit status")
    ap.add_argument("--gdb", action="store_true",
                    help="run rax with --gdb /dev/ttyS1 --gdb-wait (or "
                    "--cmd) and relay L1's ttyS1 to a TCP port for gdb")
    ap.add_argument("--interact", action="store_true",
                    help="hand the L1 console to the terminal")
    ap.add_argument("--model", default=MODEL,
                    help=f"Bochs CPU model (default {MODEL})")
    ap.add_argument("--ticks", type=int,
                    help=f"Bochs tick budget (default {DEFAULT_TICKS}, "
                    f"{SESSION_TICKS} with --gdb or --interact)")
    ap.add_argument("--megs", type=int, default=1024,
                    help="L1 RAM in MiB (default 1024)")
    ap.add_argument("--append", default="",
                    help="more L1 kernel parameters")
    ap.add_argument("--guest-elf", action="append", default=[],
                    help="a tests/guest program to run on KVM in L1 "
                    "(repeat it; as in tests/nested/run.py)")
    ap.add_argument("--guest-out", default="intel-guest",
                    help="folder for the programs' NAME.out and "
                    "NAME.status")
    opt = ap.parse_args()
    if opt.ticks is None:
        opt.ticks = SESSION_TICKS if opt.gdb or opt.interact else \
            DEFAULT_TICKS
    signal.signal(signal.SIGTERM, lambda sig, frame: sys.exit(1))
    cmd = l1_cmd(opt)
    if opt.gdb and not opt.cmd:
        cmd = ("rax --version || exit 125\nexec rax --backend kvm "
               "--gdb /dev/ttyS1 --gdb-wait")
    t0 = time.monotonic()
    tmpobj = tempfile.TemporaryDirectory(prefix="rax-intel-")
    try:
        b = boot(tmpobj.name, cmd, opt.rax, opt.model, opt.ticks, opt.megs,
                 opt.append, os.getcwd(), opt.guest_elf)
    except Skip as why:
        tmpobj.cleanup()
        skip(str(why))
    b.console.logfile_read = open("intel-console.log", "w")
    relay = None
    rebooting = False  # L1 printed RAX-L1-EXIT: its reboot ends Bochs
    try:
        if opt.gdb:
            relay = Relay(b.com2)
            print(f"intel: gdb -ex 'target remote 127.0.0.1:{relay.port}'",
                  flush=True)
        if opt.interact or (opt.gdb and os.isatty(0)):
            interact(b)
            return 0
        if opt.gdb:
            # Not on a terminal: the console goes to intel-console.log
            # until L1 ends (RAX-L1-EXIT, then its reboot ends Bochs).
            expect(b, r"RAX-L1-EXIT (\d+)", "rax did not exit")
            rebooting = True
            return 0
        if opt.guest_elf:
            # tests/nested/run.py's collector; its waits are only guards
            # here (the budget is ticks).
            opt.timeout = WALL_GUARD
            NESTED.guest_programs(b.console, opt)
            rebooting = True
            print(f"intel: guest programs done in "
                  f"{time.monotonic() - t0:.0f} s, tick {b.ticks()}")
            return 0
        if opt.cmd:
            expect(b, "RAX-L1-INIT", "L1 did not boot")
            m = expect(b, r"RAX-L1-EXIT (\d+)", "the command did not end")
            rebooting = True
            print(f"intel: command exited with status {m.group(1)} "
                  f"({time.monotonic() - t0:.0f} s, tick {b.ticks()})")
            return 0 if m.group(1) == "0" else 1
        check(b, t0)
        rebooting = True
        drain(b, 120)
        print(f"intel: PASS in {time.monotonic() - t0:.0f} s, "
              f"{b.ticks()} Bochs ticks")
        return 0
    except Fail as err:
        print(f"intel: FAIL: {err}")
        print("intel: last console output:\n" + str(b.console.before)[-2000:])
        return 1
    finally:
        if rebooting:
            drain(b, 120)
        if relay:
            relay.close()
        b.stop()
        b.console.logfile_read.close()
        tmpobj.cleanup()


if __name__ == "__main__":
    sys.exit(main())
