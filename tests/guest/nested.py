#!/usr/bin/python3
"""The tests/guest programs on real KVM, nested in QEMU TCG, against the
same NAME.expect files the interpreter must match (tests/guest/run.sh).

Run (from the build folder, once `make guest guest-l1 rax-static`):
    srcdir=.. /usr/bin/python3 ../tests/guest/nested.py [--intel] [NAME...]
It builds the programs (build.sh), runs them all in one L1 boot with
tests/nested/run.py --guest-elf (about 10 s; the L1 console goes to
nested-guest-console.log), and compares each output line by line.
With --intel the L1 boot is tests/intel/run.py's (kvm_intel in Bochs,
about 35 s; intel-guest-console.log), and the deviations accepted are
Bochs's, listed in nested-bochs.txt.

The harness's KVM runs L2 instructions through QEMU's TCG emulation of
AMD-V, so a line may show a QEMU deviation from the SDM rather than
KVM's or the hardware's behaviour.  nested-tcg.txt lists those (for
Bochs: nested-bochs.txt): a line
there ("NAME: check: value") is accepted in place of the .expect line
with the same check name (and then the verdict line "verdict: FAIL n"
with n the number of such lines, and rax status 3), and reported.  Any
other difference fails.  Exit status: 0 pass, 1 fail, 77 skip.
"""
import os
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
SRC = os.path.abspath(os.environ.get("srcdir") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", ".."))
G = os.path.join(SRC, "tests", "guest")


# Programs the Bochs harness (--intel) does not run, with the reason.
NOT_INTEL = {
    # Its BSP waits for the three APs in bounded PAUSE loops; their vCPU
    # threads share L1's one CPU with it, and in Bochs L1 seldom takes
    # the CPU from a vCPU thread in guest mode, so the APs miss the bound
    # (1 run of 2 on 2026-12-07: "aps started 2").  apboot.S, whose BSP
    # halts while it waits, runs there.
    "smp": "the BSP's bounded spin-waits starve the APs' threads on "
           "Bochs's one L1 CPU",
}


def known_deviations(listing):
    """{(program, check name): the line the outer machine prints}, from
    tests/guest/LISTING."""
    known = {}
    with open(os.path.join(G, listing)) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            prog, rest = line.split(": ", 1)
            known[(prog, rest.split(":", 1)[0])] = rest
    return known


def compare(name, out, status, known):
    """Returns (ok, notes)."""
    with open(os.path.join(G, name + ".expect")) as f:
        want = f.read().splitlines()
    got = out.splitlines()
    notes, bad = [], []
    if len(got) != len(want):
        bad.append(f"{len(got)} lines, expected {len(want)}")
    for w, g in zip(want, got):
        if w == g or w.startswith("verdict:"):
            continue
        k = known.get((name, w.split(":", 1)[0]))
        if k == g:
            notes.append(g)
        else:
            bad.append(f"got '{g}', expected '{w}'")
    verdict = f"verdict: FAIL {len(notes)}" if notes else "verdict: PASS"
    # A program without a verdict line of its own (smp.S) is checked by
    # its .expect alone.
    if want and want[-1].startswith("verdict:") and got and \
            got[-1] != verdict:
        bad.append(f"got '{got[-1]}', expected '{verdict}'")
    if status != (3 if notes else 1):
        bad.append(f"rax exited with status {status}")
    return not bad, notes, bad


def main():
    args = sys.argv[1:]
    intel = "--intel" in args
    args = [a for a in args if a != "--intel"]
    harness, log, where, listing, outer = (
        ("intel", "intel-console.log", "kvm (intel)", "nested-bochs.txt",
         "Bochs") if intel else
        ("nested", "nested-console.log", "kvm (nested)", "nested-tcg.txt",
         "QEMU TCG"))
    names = args or open(os.path.join(G, "programs")).read().split()
    if intel:
        for n in names:
            if n in NOT_INTEL:
                print(f"skip: {where}: {n}: {NOT_INTEL[n]}")
        names = [n for n in names if n not in NOT_INTEL]
    with tempfile.TemporaryDirectory(prefix="rax-gtn-") as t:
        r = subprocess.run(["sh", os.path.join(G, "build.sh"), t] + names)
        if r.returncode:  # the toolchain that built rax is here
            print("FAIL: cannot assemble the guest programs")
            return 1
        out = os.path.join(t, "out")
        argv = [sys.executable, os.path.join(SRC, "tests", harness,
                                             "run.py"), "--guest-out", out]
        for n in names:
            k = os.path.join(t, n + ".bin")  # a flat program (build.sh)
            if not os.path.exists(k):
                k = os.path.join(t, n + ".elf")
            argv += ["--guest-elf", k]
            opts = os.path.join(G, n + ".opts")  # more rax options
            if os.path.exists(opts):
                shutil.copy(opts, t)
        env = dict(os.environ, srcdir=SRC, RAX_STATIC=os.path.abspath(
            os.environ.get("RAX_STATIC") or "./rax-static"))
        # run.py writes its console log in its folder: keep it apart
        # from tests/nested's (tests/intel's), which may run at the same
        # time.
        r = subprocess.run(argv, cwd=t, env=env)
        if os.path.exists(os.path.join(t, log)):
            shutil.copy(os.path.join(t, log),
                        log.replace("-console", "-guest-console"))
        if r.returncode:
            return r.returncode
        known, fail = known_deviations(listing), 0
        for n in names:
            with open(os.path.join(out, n + ".out")) as f:
                text = f.read()
            with open(os.path.join(out, n + ".status")) as f:
                status = int(f.read())
            ok, notes, bad = compare(n, text, status, known)
            lines = len(text.splitlines())
            if ok:
                print(f"ok: {where}: {n} ({lines} lines"
                      + (f", {len(notes)} known {outer} deviations"
                         if notes else "") + ")")
            else:
                print(f"FAIL: {where}: {n}")
                fail = 1
            for s in notes:
                print(f"  known: {s}")
            for s in bad:
                print(f"  {s}")
        return fail


if __name__ == "__main__":
    sys.exit(main())
