#!/usr/bin/python3
"""kvm-unit-tests' x86 suite on rax's engines, or on QEMU TCG.

Run (from the build folder):
    srcdir=.. /usr/bin/python3 ../tests/kut/run.py [--engine ENGINE ...]
        [-j N] [--rax ./rax] [--rax-static ./rax-static] [--qemu QEMU]
        [--nested-cpu MODEL] [--timeout-scale F] [--logs DIR]
        [--json FILE] [--check] [-v] [CASE ...]
ENGINE: emulator (rax's interpreter, the default), kvm (rax --backend kvm
on this host), nested (rax-static --backend kvm inside QEMU TCG, through
tests/nested/run.py: one L1 boot for the CPUID probe, one for the
cases), qemu (qemu-system-x86_64 -accel tcg with upstream's parameters,
as upstream's x86/run builds them).  Several --engine options run each
in turn and end with a side-by-side table (bench/kut.sh).

The images and upstream's x86/unittests.cfg come from $RAX_KUT_DIR, or
../shared/kvm-unit-tests beside the source tree or beside the main
checkout of its git repository (a worktree's main checkout).  Each case
prints one line, "PASS|FAIL|SKIP NAME (detail) [seconds]", and the run
ends with "N passed, N failed, N skipped".

A case runs as upstream runs it: `smp` becomes --cpus (cases with more
than one CPU are SKIP while rax has no --cpus), test_args (or -append in
extra_params) become --cmdline, `-m` becomes --mem (128M by default, as
QEMU's), the case's timeout (90 s by default) bounds it.  The guest's
verdict is its isa-debug-exit status: rax exits 1 for a pass, 77 when
every test skipped, 3 for a failure.  A case is SKIP, with the reason,
when it is for i386, marked nodefault, for KVM only on the interpreter,
checks host KVM settings that do not hold, or when its qemu_params ask
for what rax's engine does not give: a CPU feature its vCPU does not
advertise (read from the vCPU by the probe tests/kut/cpuid.S), a
feature hidden that it does advertise (rax cannot hide features), a
vendor it does not have, another physical-address width, Hyper-V
enlightenments, or a device or machine option rax lacks.

tests/kut/known-failures.txt lists, per engine, every case that fails
and why.  --check (make check: tests/kut/check.sh) exits 1 when a case
fails that is not listed there, or a listed one passes (a line whose
reason begins "slow:" accepts a pass or a timeout: a case that ends
near its timeout); 77 when the images are absent or the interpreter
cannot start them.  Exit status otherwise: 0.
"""
import argparse
import concurrent.futures
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.environ.get("srcdir") or os.path.join(HERE, "..",
                                                                 ".."))
DEFAULT_TIMEOUT = 90
DEFAULT_MEM_MIB = 128
NO_32BIT = "lacks 32-bit protected mode"

# QEMU -cpu feature names the suite uses: (leaf, subleaf, register, bit)
# of the CPUID bit that advertises each (SDM Vol. 2A CPUID; AMD APM
# Vol. 3 Appendix E for the 0x8000000x leaves).
FEATURES = {
    "vmx": (1, 0, "ecx", 5),
    "pcid": (1, 0, "ecx", 17),
    "x2apic": (1, 0, "ecx", 21),
    "tsc-deadline": (1, 0, "ecx", 24),
    "xsave": (1, 0, "ecx", 26),
    "invpcid": (7, 0, "ebx", 10),
    "umip": (7, 0, "ecx", 2),
    "pku": (7, 0, "ecx", 3),
    "svm": (0x80000001, 0, "ecx", 2),
    "skinit": (0x80000001, 0, "ecx", 12),
    "rdtscp": (0x80000001, 0, "edx", 27),
    "npt": (0x8000000a, 0, "edx", 0),
}
REGS = ("eax", "ebx", "ecx", "edx")
# VMX sub-features are capability MSRs, not CPUID bits: they need vmx.
VMX_SUBFEATURE = re.compile(r"^vmx-")


class Case:
    def __init__(self, name):
        self.name = name
        self.file = ""
        self.smp = 1
        self.test_args = ""
        self.qemu_params = ""
        self.extra_params = ""
        self.arch = ""
        self.groups = []
        self.timeout = DEFAULT_TIMEOUT
        self.accel = ""
        self.check = ""
        self.machine = ""


def parse_timeout(s):
    """timeout(1) syntax: a number with an optional s, m, h or d."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([smhd]?)\s*", s)
    if not m:
        raise ValueError(f"bad timeout '{s}'")
    mult = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    return float(m.group(1)) * mult


def parse_cfg(path):
    """Upstream's unittests.cfg: [name] sections of key = value lines,
    values possibly in triple quotes over several lines
    (scripts/common.bash, for_each_unittest)."""
    cases, c, multi = [], None, None
    with open(path) as f:
        lines = f.read().splitlines()
    for line in lines:
        if multi:
            key, acc = multi
            if '"""' in line:
                acc.append(line.split('"""')[0])
                setattr(c, key, " ".join(acc))
                multi = None
            else:
                acc.append(line)
            continue
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.fullmatch(r"\[(.*)\]", line)
        if m:
            c = Case(m.group(1))
            cases.append(c)
            continue
        m = re.fullmatch(r"(\w+)\s*=\s*(.*)", line)
        if not m or c is None:
            continue
        key, val = m.group(1), m.group(2)
        if key in ("qemu_params", "extra_params") and val.startswith('"""'):
            rest = val[3:]
            if '"""' in rest:
                setattr(c, key, rest.split('"""')[0])
            else:
                multi = (key, [rest])
            continue
        if key == "file":
            c.file = val
        elif key == "smp":
            c.smp = int(val)
        elif key == "test_args":
            c.test_args = val
        elif key in ("qemu_params", "extra_params"):
            setattr(c, key, val)
        elif key == "arch":
            c.arch = val
        elif key == "groups":
            c.groups = val.split()
        elif key == "timeout":
            c.timeout = parse_timeout(val)
        elif key == "accel":
            c.accel = val
        elif key == "check":
            c.check = val
        elif key == "machine":
            c.machine = val
    return cases


def shell_words(s):
    """The words a shell makes of s (upstream evals the line): quotes
    removed, `command` substitutions run."""
    if "`" in s or "$(" in s:
        s = subprocess.run(["/bin/sh", "-c", "printf '%s' " + s],
                           capture_output=True, text=True).stdout
        return s.split()
    return shlex.split(s)


class Params:
    """What a case's qemu_params and extra_params ask of the machine."""

    def __init__(self, case):
        words = shell_words(case.qemu_params) + \
            shell_words(case.extra_params)
        self.cpu_model, self.cpu_opts = "", []
        self.mem_mib = DEFAULT_MEM_MIB
        self.append = " ".join(shell_words(case.test_args))
        self.lacks = []        # what rax's machine does not have
        self.kvm_only = False
        i = 0
        while i < len(words):
            w, arg = words[i], words[i + 1] if i + 1 < len(words) else ""
            i += 1
            if w == "-cpu":
                opts = arg.split(",")
                self.cpu_model, self.cpu_opts = opts[0], opts[1:]
                i += 1
            elif w == "-m":
                self.mem_mib = parse_mem_mib(arg)
                i += 1
            elif w == "-append":
                self.append = arg
                i += 1
            elif w == "-enable-kvm":
                self.kvm_only = True
            elif w in ("-device", "-M", "-machine"):
                self.lacks.append(f"{w} {arg}")
                i += 1
            elif w == "-overcommit":
                i += 1   # host-side tuning (cpu-pm), nothing to model
            else:
                self.lacks.append(w)


def parse_mem_mib(s):
    """QEMU's -m: MiB, or with a G suffix GiB."""
    m = re.fullmatch(r"(\d+)([MmGg]?)", s)
    if not m:
        raise ValueError(f"bad -m '{s}'")
    return int(m.group(1)) * (1024 if m.group(2) in ("G", "g") else 1)


class Cpuid:
    """The probe's output: {(leaf, subleaf): (eax, ebx, ecx, edx)}."""

    def __init__(self, text):
        self.leaves = {}
        for line in text.splitlines():
            m = re.match(r"cpuid ([0-9a-f]{8}) ([0-9a-f]{8}): "
                         r"([0-9a-f]{8}) ([0-9a-f]{8}) ([0-9a-f]{8}) "
                         r"([0-9a-f]{8})", line.strip())
            if m:
                v = [int(x, 16) for x in m.groups()]
                self.leaves[(v[0], v[1])] = tuple(v[2:])
        if "cpuid end" not in text or (0, 0) not in self.leaves:
            raise ValueError("no complete CPUID listing from the probe")

    def has(self, feature):
        leaf, sub, reg, bit = FEATURES[feature]
        regs = self.leaves.get((leaf, sub))
        return bool(regs and regs[REGS.index(reg)] >> bit & 1)

    def vendor(self):
        _, b, c, d = self.leaves[(0, 0)]
        return b"".join(x.to_bytes(4, "little") for x in (b, d, c)).decode(
            "ascii", "replace")


class Engine:
    """How cases run on one engine, and what its machine offers."""
    name = ""
    rax_engine = True

    def __init__(self, opt):
        self.opt = opt
        self.cpuid = None
        self.cpuid_error = ""
        self.cpus = False
        self.checks = {}       # check path -> value on the host

    def skip_reason(self, case, p):
        """Why the case cannot run here as configured, or None."""
        if case.arch and case.arch != "x86_64":
            return f"{case.arch} only"
        if "nodefault" in case.groups:
            return "test marked as manual run only"
        if not os.path.exists(os.path.join(self.opt.kut, "x86",
                                           case.file)):
            return f"Test file '{case.file}' not found"
        return None

    def check_reason(self, case):
        for item in case.check.split():
            path, _, want = item.partition("=")
            have = self.checks.get(path)
            if have is None:
                return f"{path} not found"
            if have != want:
                return f"{path} is {have}, not {want}"
        return None


class RaxEngine(Engine):
    backend = ""

    def skip_reason(self, case, p):
        r = Engine.skip_reason(self, case, p)
        if r:
            return r
        if case.smp > 1 and not self.cpus:
            return f"smp = {case.smp}: rax has one vCPU (no --cpus yet)"
        if p.lacks:
            return "rax lacks " + ", ".join(p.lacks)
        if case.accel and case.accel != "kvm":
            return f"{case.accel} only"
        if (p.kvm_only or case.accel == "kvm") and self.backend != "kvm":
            return "KVM only"
        # `check` reads KVM's module parameters: they matter on KVM only.
        if case.check and self.backend == "kvm":
            r = self.check_reason(case)
            if r:
                return r
        return self.cpu_reason(case, p)

    def cpu_reason(self, case, p):
        if not p.cpu_model:
            return None
        if any(o.startswith("hv_") for o in p.cpu_opts):
            return "Hyper-V enlightenments (hv_*): rax has none"
        if p.cpu_model == "host" and self.backend != "kvm":
            return "asks for -cpu host, which needs KVM"
        if self.cpuid is None:
            return f"no CPUID listing of the vCPU: {self.cpuid_error}"
        for o in p.cpu_opts:
            name, _, val = o.partition("=")
            if name == "vendor" and val != self.cpuid.vendor():
                return f"asks for vendor {val}; rax's vCPU ({self.name}) " \
                    f"is {self.cpuid.vendor()}"
            if name == "phys-bits":
                return f"asks for phys-bits={val}; rax does not set the " \
                    "physical-address width"
            if o[:1] in "+-":
                r = self.feature_reason(o[0], o[1:])
                if r:
                    return r
        return None

    def feature_reason(self, sign, feat):
        if VMX_SUBFEATURE.match(feat):
            feat = "vmx"
            if sign == "-":
                return None   # the absence of a VMX sub-feature: vmx MSRs
        if feat not in FEATURES:
            return f"asks for CPU feature {sign}{feat}, unknown to this runner"
        have = self.cpuid.has(feat)
        if sign == "+" and not have:
            return f"rax's vCPU ({self.name}) does not advertise {feat}"
        if sign == "-" and have:
            return f"asks to hide {feat}; rax's vCPU ({self.name}) " \
                "advertises it and cannot hide it"
        return None

    def argv(self, case, p):
        a = ["--backend", self.backend, "--kernel",
             os.path.join(self.kernel_dir(), case.file),
             "--mem", f"{p.mem_mib}M"]
        if p.append:
            a += ["--cmdline", p.append]
        if case.smp > 1:
            a += ["--cpus", str(case.smp)]
        return a

    def kernel_dir(self):
        return os.path.join(self.opt.kut, "x86")


def build_probe(tmp):
    """tests/kut/cpuid.S as a 64-bit ELF kernel, or raise OSError."""
    src = os.path.join(SRC, "tests", "kut", "cpuid.S")
    obj, elf = os.path.join(tmp, "cpuid.o"), os.path.join(tmp, "cpuid.elf")
    cc = os.environ.get("CC") or "cc"
    for argv in ([cc, "-c", "-o", obj, src],
                 ["ld", "-static", "-nostdlib", "-Ttext=0x200000", "-e",
                  "_start", "-o", elf, obj]):
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode:
            raise OSError(f"cannot build the CPUID probe: {r.stderr.strip()}")
    return elf


def verdict(status, out, err, timed_out, timeout):
    """(result, detail) from a rax run (README "Exit status")."""
    summary = ""
    for line in out.splitlines()[-8:]:
        if line.startswith("SUMMARY: "):
            summary = line[len("SUMMARY: "):].strip()
    if timed_out:
        return "FAIL", f"timeout; duration={timeout:g}s" + \
            (f"; {summary}" if summary else "")
    if status == 1:
        return "PASS", summary
    if status == SKIP:
        return "SKIP", summary
    if status == 3 and "guest wrote 0x1 to isa-debug-exit" in err:
        return "FAIL", summary
    said = [ln for ln in err.splitlines() if ln.startswith("rax: ") and
            not ln.startswith("rax: engine:")]
    why = said[-1][5:] if said else "no message"
    return "FAIL", f"rax exited {status}: {why}" + \
        (f"; {summary}" if summary else "")


class LocalRax(RaxEngine):
    """rax on this host, one process per case."""

    def __init__(self, opt, backend):
        RaxEngine.__init__(self, opt)
        self.name = self.backend = backend
        help_text = subprocess.run([opt.rax, "--help"], capture_output=True,
                                   text=True).stdout
        self.cpus = "--cpus" in help_text

    def prepare(self, tmp, cases):
        for c in cases:
            for item in c.check.split():
                path = item.partition("=")[0]
                try:
                    with open(path) as f:
                        self.checks[path] = f.read().strip()
                except OSError:
                    pass
        try:
            elf = build_probe(tmp)
        except OSError as err:
            self.cpuid_error = str(err)
            return
        r = subprocess.run([self.opt.rax, "--backend", self.backend,
                            "--kernel", elf, "--mem", "16M"],
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        try:
            self.cpuid = Cpuid(r.stdout.replace("\r", ""))
        except ValueError as err:
            self.cpuid_error = f"{err} (rax status {r.returncode}: " \
                f"{r.stderr.strip().splitlines()[-1:]})"

    def usable(self):
        """None, or why rax cannot run guests on this engine here."""
        if self.cpuid is None and "KVM" in self.cpuid_error:
            return self.cpuid_error
        return None

    def run(self, case, p):
        timeout = case.timeout * self.opt.timeout_scale
        argv = [self.opt.rax] + self.argv(case, p)
        t0 = time.monotonic()
        try:
            r = subprocess.run(argv, capture_output=True, text=True,
                               errors="replace", timeout=timeout,
                               stdin=subprocess.DEVNULL)
            out, err, status, to = r.stdout, r.stderr, r.returncode, False
        except subprocess.TimeoutExpired as ex:
            out = ex.stdout.decode("utf-8", "replace") if ex.stdout else ""
            err, status, to = "", -1, True
        res, detail = verdict(status, out.replace("\r", ""), err, to,
                              timeout)
        return res, detail, time.monotonic() - t0, out


class NestedRax(RaxEngine):
    """rax-static --backend kvm in L1 of tests/nested/run.py: real KVM on
    QEMU TCG's emulated AMD-V.  All cases run in one L1 boot."""
    name = "nested"
    backend = "kvm"

    def __init__(self, opt):
        RaxEngine.__init__(self, opt)
        self.rax = opt.rax_static
        help_text = subprocess.run([self.rax, "--help"], capture_output=True,
                                   text=True).stdout
        self.cpus = "--cpus" in help_text
        self.results = {}

    def kernel_dir(self):
        return "/files"

    def boot(self, tmp, files, script, mem_mib, timeout):
        """Runs script in L1; returns the L1 console text."""
        path = os.path.join(tmp, "kut.sh")
        with open(path, "w") as f:
            f.write(script)
        argv = [sys.executable, os.path.join(SRC, "tests", "nested",
                                             "run.py"),
                "--rax", self.rax, "--mem", str(mem_mib),
                "--cpu", self.opt.nested_cpu,
                "--timeout", str(timeout), "--cmd", "sh /files/kut.sh",
                "--file", path]
        for f in files:
            argv += ["--file", f]
        env = dict(os.environ, srcdir=SRC)
        r = subprocess.run(argv, cwd=tmp, env=env, capture_output=True,
                           text=True)
        log = os.path.join(tmp, "nested-console.log")
        text = open(log, errors="replace", newline="").read() \
            if os.path.exists(log) else ""
        if self.opt.logs and text:
            shutil.copy(log, os.path.join(self.opt.logs,
                                          "nested-console.log"))
        if r.returncode == SKIP:
            raise OSError(r.stdout.strip().splitlines()[-1])
        if "RAX-L1-EXIT" not in text:
            raise OSError("L1 did not finish: " +
                          " ".join(r.stdout.strip().splitlines()[-2:]))
        return text.replace("\r", "")

    def prepare(self, tmp, cases):
        try:
            elf = build_probe(tmp)
        except OSError as err:
            self.cpuid_error = str(err)
            return
        paths = sorted({i.partition("=")[0] for c in cases
                        for i in c.check.split()})
        script = "rax --backend kvm --kernel /files/cpuid.elf --mem 16M " \
            "</dev/null\necho KUT-PROBE-END $?\n"
        for p in paths:
            script += f"echo \"KUT-CHECK {p}=$(cat {p} 2>/dev/null || " \
                "echo KUT-ABSENT)\"\n"
        try:
            text = self.boot(tmp, [elf], script, 1024, 600)
        except OSError as err:
            self.cpuid_error = str(err)
            return
        for m in re.finditer(r"^KUT-CHECK (\S+?)=(.*)$", text, re.M):
            if m.group(2).strip() != "KUT-ABSENT":
                self.checks[m.group(1)] = m.group(2).strip()
        try:
            self.cpuid = Cpuid(text)
        except ValueError as err:
            self.cpuid_error = str(err)

    def usable(self):
        if self.cpuid is None:
            return self.cpuid_error
        return None

    def run_all(self, tmp, todo):
        """Runs every (case, params) in one L1 boot; fills results."""
        if not todo:
            return
        lines = ["run() {", "  n=$1 t=$2; shift 2",
                 "  echo \"KUT-BEGIN $n\"",
                 "  timeout $t rax \"$@\" </dev/null >/tmp/o 2>/tmp/e",
                 "  s=$?", "  grep -v '^PASS: ' /tmp/o | head -n 200",
                 "  echo \"KUT-PASSES $(grep -c '^PASS: ' /tmp/o)\"",
                 "  tail -n 3 /tmp/o | sed 's/^/KUT-TAIL /'",
                 "  sed 's/^/KUT-ERR /' /tmp/e",
                 "  echo \"KUT-END $n $s\"", "}"]
        files, mem = set(), 1024
        for c, p in todo:
            files.add(os.path.join(self.opt.kut, "x86", c.file))
            t = int(c.timeout * self.opt.timeout_scale)
            lines.append("run " + " ".join(shlex.quote(w) for w in
                                           [c.name, str(t)] +
                                           self.argv(c, p)))
            mem = max(mem, p.mem_mib + 1024)
        total = sum(c.timeout for c, _ in todo) * self.opt.timeout_scale
        text = self.boot(tmp, sorted(files), "\n".join(lines) + "\n", mem,
                         total + 600)
        for c, p in todo:
            m = re.search(r"^KUT-BEGIN " + re.escape(c.name) + r"\n(.*?)"
                          r"^KUT-END " + re.escape(c.name) + r" (\d+)$",
                          text, re.M | re.S)
            if not m:
                self.results[c.name] = ("FAIL", "no result from L1", 0, "")
                continue
            body, status = m.group(1), int(m.group(2))
            out = "\n".join(ln for ln in body.splitlines()
                            if not ln.startswith("KUT-ERR "))
            err = "\n".join(ln[8:] for ln in body.splitlines()
                            if ln.startswith("KUT-ERR "))
            said = [ln for ln in err.splitlines() if ln.startswith("rax: ")
                    and not ln.startswith("rax: engine:")]
            # busybox timeout ends rax with SIGTERM: status 143, and rax
            # says "terminated by SIGTERM".
            timed_out = status in (124, 143) and \
                all("terminated by SIGTERM" in ln for ln in said)
            res, detail = verdict(status, out, err, timed_out,
                                  c.timeout * self.opt.timeout_scale)
            self.results[c.name] = (res, detail, 0, out)

    def run(self, case, p):
        return self.results[case.name]


class Qemu(Engine):
    """qemu-system-x86_64 -accel tcg, with the command line upstream's
    x86/run builds (pc-testdev, isa-debug-exit, pci-testdev; no env
    initrd, as rax gets none)."""
    name = "qemu"
    rax_engine = False

    def __init__(self, opt):
        Engine.__init__(self, opt)
        self.qemu = opt.qemu

    def prepare(self, tmp, cases):
        for c in cases:
            for item in c.check.split():
                path = item.partition("=")[0]
                try:
                    with open(path) as f:
                        self.checks[path] = f.read().strip()
                except OSError:
                    pass

    def usable(self):
        if not shutil.which(self.qemu):
            return f"{self.qemu} not found"
        return None

    def skip_reason(self, case, p):
        r = Engine.skip_reason(self, case, p)
        if r:
            return r
        if case.accel and case.accel != "tcg":
            return f"{case.accel} only, but ACCEL=tcg"
        return self.check_reason(case)

    def argv(self, case, kernel):
        a = [self.qemu, "--no-reboot", "-nodefaults",
             "-global", "kvm-pit.lost_tick_policy=discard",
             "-device", "pc-testdev", "-device",
             "isa-debug-exit,iobase=0xf4,iosize=0x4", "-display", "none",
             "-serial", "stdio", "-device", "pci-testdev",
             "-machine", "accel=tcg", "-kernel", kernel,
             "-smp", str(case.smp)]
        args = shell_words(case.test_args)
        if args:
            a += ["-append", " ".join(args)]
        return a + shell_words(case.qemu_params) + \
            shell_words(case.extra_params)

    def run(self, case, p):
        # Upstream's premature_failure(): QEMU started on a missing
        # kernel must complain about the kernel, else the case is SKIP.
        r = subprocess.run(self.argv(case, "_NO_FILE_4Uhere_"),
                           capture_output=True, text=True, timeout=60,
                           stdin=subprocess.DEVNULL)
        log = r.stdout + r.stderr
        if not re.search(r"[Cc]ould not (load|open) kernel|error loading|"
                         r"failed to load", log):
            return "SKIP", (log.strip().splitlines() or ["?"])[-1], 0, ""
        timeout = case.timeout * self.opt.timeout_scale
        kernel = os.path.join(self.opt.kut, "x86", case.file)
        t0 = time.monotonic()
        try:
            r = subprocess.run(self.argv(case, kernel), capture_output=True,
                               text=True, errors="replace", timeout=timeout,
                               stdin=subprocess.DEVNULL)
            out, err, status, to = r.stdout, r.stderr, r.returncode, False
        except subprocess.TimeoutExpired as ex:
            out = ex.stdout.decode("utf-8", "replace") if ex.stdout else ""
            err, status, to = "", -1, True
        dt = time.monotonic() - t0
        out = out.replace("\r", "")
        summary = ""
        for line in out.splitlines()[-8:]:
            if line.startswith("SUMMARY: "):
                summary = line[len("SUMMARY: "):].strip()
        errors = [ln for ln in err.splitlines()
                  if "warning" not in ln.lower()]
        if to:
            return "FAIL", f"timeout; duration={timeout:g}s", dt, out
        if status == 1 and not errors:
            return "PASS", summary, dt, out
        if status == SKIP:
            return "SKIP", summary, dt, out
        why = summary or (errors[-1] if errors else f"QEMU status {status}")
        return "FAIL", why, dt, out


def find_kut():
    """$RAX_KUT_DIR, or ../shared/kvm-unit-tests beside the source tree or
    beside the main checkout (the parent of git's common directory)."""
    env = os.environ.get("RAX_KUT_DIR")
    cands = [env] if env else \
        [os.path.join(SRC, "..", "shared", "kvm-unit-tests")]
    try:
        if env:
            raise OSError
        common = subprocess.run(["git", "-C", SRC, "rev-parse",
                                 "--git-common-dir"], capture_output=True,
                                text=True).stdout.strip()
        if common:
            main = os.path.dirname(os.path.abspath(os.path.join(SRC,
                                                                common)))
            cands.append(os.path.join(main, "..", "shared",
                                      "kvm-unit-tests"))
    except OSError:
        pass
    for c in cands:
        if os.path.exists(os.path.join(c, "x86", "unittests.cfg")):
            return os.path.abspath(c)
    return None


def known_failures():
    """{(engine, case): reason} from tests/kut/known-failures.txt, whose
    lines read "ENGINE CASE: reason"."""
    known = {}
    with open(os.path.join(HERE, "known-failures.txt")) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            head, _, reason = line.partition(": ")
            engine, case = head.split()
            known[(engine, case)] = reason
    return known


def interpreter_starts(opt):
    """None when the interpreter can start a Multiboot image (dummy.flat),
    else rax's reason."""
    r = subprocess.run([opt.rax, "--backend", "emulator", "--kernel",
                        os.path.join(opt.kut, "x86", "dummy.flat"),
                        "--mem", "128M"], capture_output=True, text=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    if r.returncode == 3 and NO_32BIT in r.stderr:
        return r.stderr.strip().splitlines()[-1]
    return None


def run_engine(eng, cases, opt, tmp, known):
    """Runs every case on eng; prints one line each; returns {name:
    (result, detail, seconds)}."""
    eng.prepare(tmp, cases)
    why = eng.usable()
    if why:
        print(f"{eng.name}: cannot run: {why}")
        return None
    plan = []
    for c in cases:
        p = Params(c)
        plan.append((c, p, eng.skip_reason(c, p)))
    if isinstance(eng, NestedRax):
        eng.run_all(tmp, [(c, p) for c, p, r in plan if r is None])
    results = {}

    def one(item):
        c, p, r = item
        if r is not None:
            return "SKIP", r, 0.0, ""
        return eng.run(c, p)

    with concurrent.futures.ThreadPoolExecutor(opt.jobs) as ex:
        for (c, p, r), res in zip(plan, ex.map(one, plan)):
            result, detail, dt, out = res
            note = ""
            k = known.get((eng.name, c.name))
            if k and result == "FAIL":
                note = f" [known: {k}]"
            elif k:
                note = " [listed in known-failures.txt, but " \
                    f"{result}]"
            secs = f" [{dt:.1f} s]" if dt else ""
            print(f"{result} {c.name}" + (f" ({detail})" if detail else "")
                  + secs + note, flush=True)
            if opt.verbose and out:
                print("  " + out.replace("\n", "\n  "))
            if opt.logs and out:
                with open(os.path.join(opt.logs, f"{c.name}.{eng.name}.log"),
                          "w") as f:
                    f.write(out)
            results[c.name] = (result, detail, dt)
    n = {k: sum(1 for r in results.values() if r[0] == k)
         for k in ("PASS", "FAIL", "SKIP")}
    print(f"{eng.name}: {n['PASS']} passed, {n['FAIL']} failed, "
          f"{n['SKIP']} skipped")
    return results


def table(names, all_results, cases):
    """A Markdown table: each case's result and seconds per engine, then
    the counts."""
    def cell(n, c):
        r = (all_results[n] or {}).get(c.name)
        if not r:
            return "-"
        return r[0] + (f" {r[2]:.1f} s" if r[2] else "")

    rows = [[c.name] + [cell(n, c) for n in names] for c in cases]
    for k in ("PASS", "FAIL", "SKIP"):
        rows.append([k] + [str(sum(1 for r in (all_results[n] or {}).values()
                                   if r[0] == k)) for n in names])
    head = ["case"] + names
    w = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "| " + " | ".join(x.ljust(w[i]) for i, x in enumerate(r)) + \
            " |"

    print()
    print(line(head))
    print("|" + "|".join("-" * (x + 2) for x in w) + "|")
    for r in rows:
        print(line(r))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--engine", action="append", choices=[
        "emulator", "kvm", "nested", "qemu"])
    ap.add_argument("-j", "--jobs", type=int, default=1)
    ap.add_argument("--rax", default=os.environ.get("RAX") or "./rax")
    ap.add_argument("--rax-static", default=os.environ.get("RAX_STATIC") or
                    "./rax-static")
    ap.add_argument("--qemu", default=os.environ.get("QEMU") or
                    "qemu-system-x86_64")
    ap.add_argument("--nested-cpu", default="qemu64,+svm,+npt",
                    help="nested: QEMU -cpu for L1 (default "
                    "qemu64,+svm,+npt, as tests/nested)")
    ap.add_argument("--timeout-scale", type=float, default=1.0,
                    help="multiply every case's timeout (default 1)")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--check", action="store_true",
                    help="make check: compare with known-failures.txt")
    ap.add_argument("-v", "--verbose", action="store_true",
                    help="print each case's output")
    ap.add_argument("--logs", help="write each case's output to "
                    "LOGS/CASE.ENGINE.log (nested: its FAIL, SKIP and "
                    "SUMMARY lines, and nested-console.log)")
    ap.add_argument("cases", nargs="*")
    opt = ap.parse_args()
    engines = opt.engine or ["emulator"]
    opt.rax = os.path.abspath(opt.rax)
    opt.rax_static = os.path.abspath(opt.rax_static)
    if opt.logs:
        opt.logs = os.path.abspath(opt.logs)
        os.makedirs(opt.logs, exist_ok=True)
    opt.kut = find_kut()
    if not opt.kut:
        print("SKIP: no kvm-unit-tests images: " +
              (f"RAX_KUT_DIR={os.environ['RAX_KUT_DIR']} has no "
               "x86/unittests.cfg" if os.environ.get("RAX_KUT_DIR") else
               "../shared/kvm-unit-tests is absent (set RAX_KUT_DIR)"))
        return SKIP
    cases = parse_cfg(os.path.join(opt.kut, "x86", "unittests.cfg"))
    if opt.cases:
        unknown = set(opt.cases) - {c.name for c in cases}
        if unknown:
            print("unknown cases: " + " ".join(sorted(unknown)))
            return 1
        cases = [c for c in cases if c.name in opt.cases]
    known = known_failures()
    if opt.check:
        why = interpreter_starts(opt) if "emulator" in engines else None
        if why:
            print(f"SKIP: interpreter {NO_32BIT}: {why}")
            return SKIP
    all_results = {}
    with tempfile.TemporaryDirectory(prefix="rax-kut-") as tmp:
        for name in engines:
            eng = {"emulator": lambda: LocalRax(opt, "emulator"),
                   "kvm": lambda: LocalRax(opt, "kvm"),
                   "nested": lambda: NestedRax(opt),
                   "qemu": lambda: Qemu(opt)}[name]()
            print(f"== {name}: {opt.kut}/x86/unittests.cfg", flush=True)
            all_results[name] = run_engine(eng, cases, opt, tmp, known)
    if opt.json:
        with open(opt.json, "w") as f:
            json.dump(all_results, f, indent=1)
    if len(engines) > 1:
        table(engines, all_results, cases)
    if not opt.check:
        return 0
    bad = 0
    for name in engines:
        res = all_results[name]
        if res is None:
            return SKIP if name != "emulator" else 1
        for c in cases:
            r, k = res[c.name][0], known.get((name, c.name))
            timed_out = r == "FAIL" and res[c.name][1].startswith("timeout")
            if k and k.startswith("slow:") and (r == "PASS" or timed_out):
                continue  # near its timeout: passes or times out
            if r == "FAIL" and not k:
                print(f"unexpected FAIL on {name}: {c.name}")
                bad = 1
            elif k and r != "FAIL":
                print(f"{name} {c.name} is listed in known-failures.txt "
                      f"but was {r}: remove the line")
                bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
