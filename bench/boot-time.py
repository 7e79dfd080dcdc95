#!/usr/bin/python3
"""Seconds from start to the default guest's shell marker, and MIPS, for
rax's interpreter and for QEMU TCG on the same kernel and initrd, in one
run (a benchmark: it reports, it asserts nothing).

Run (from the source tree, after `make -C build` and `make -C build guest`):
    /usr/bin/python3 bench/boot-time.py [--build build] [--runs 3]
"""
import argparse
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


def guest_dir(src):
    d = subprocess.run(["bash", os.path.join(src, "examples", "build-guest.sh"),
                        "--print-dir"], check=True, capture_output=True,
                       text=True).stdout.strip()
    if not os.path.exists(os.path.join(d, ".complete")):
        sys.exit("bench: the default guest is not built (make guest)")
    return d


def run_rax(rax, g, decompress):
    t0 = time.monotonic()
    c = pexpect.spawn(rax, ["--backend", "emulator", "--kernel",
                            g + "/bzImage", "--initrd", g + "/initramfs.cpio.gz",
                            "--cmdline", CMDLINE, "--decompress", decompress,
                            "--stats"], encoding="utf-8",
                      codec_errors="replace", timeout=600)
    c.expect_exact(MARKER)
    t = time.monotonic() - t0
    c.expect_exact(PROMPT)
    c.send("\x01x")  # Ctrl-A x: quit, stats follow
    c.expect(pexpect.EOF)
    t_end = time.monotonic() - t0
    m = re.search(r"(\d+) instructions", c.before)
    insns = int(m.group(1)) if m else 0
    # MIPS over the whole run: the count is taken at exit, not at the marker.
    return t, insns, insns / t_end / 1e6 if t_end else 0


def run_qemu(qemu, g):
    t0 = time.monotonic()
    c = pexpect.spawn(qemu, ["-accel", "tcg", "-m", "512", "-nographic",
                             "-no-reboot", "-kernel", g + "/bzImage",
                             "-initrd", g + "/initramfs.cpio.gz",
                             "-append", CMDLINE], encoding="utf-8",
                      codec_errors="replace", timeout=600)
    c.expect_exact(MARKER)
    t = time.monotonic() - t0
    c.kill(9)
    c.close()
    return t


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(src, "build"))
    ap.add_argument("--runs", type=int, default=3)
    opt = ap.parse_args()
    g = guest_dir(src)
    rax = os.path.join(opt.build, "rax")
    qemu = shutil.which("qemu-system-x86_64")
    rows = []
    for decompress in ("host", "guest"):
        runs = [run_rax(rax, g, decompress) for _ in range(opt.runs)]
        t = statistics.median(r[0] for r in runs)
        rows.append((f"rax emulator (--decompress {decompress})", t,
                     statistics.median(r[2] for r in runs), runs[0][1]))
    if qemu:
        t = statistics.median(run_qemu(qemu, g) for _ in range(opt.runs))
        rows.append(("qemu-system-x86_64 -accel tcg (SeaBIOS, bzImage)", t,
                     None, None))
    print(f"bench: default guest {g}, median of {opt.runs} runs, "
          f"{os.cpu_count()} cores")
    print(f"{'engine':52} {'to marker':>10} {'MIPS':>7} {'insns':>12}")
    print("(insns: retired until rax quit at the shell prompt; MIPS: insns "
          "over that whole run)")
    for name, t, mips, insns in rows:
        print(f"{name:52} {t:9.2f}s "
              f"{(f'{mips:7.1f}' if mips else '      -')} "
              f"{(f'{insns:12d}' if insns else '           -')}")
    if qemu:
        q = rows[-1][1]
        for name, t, _, _ in rows[:-1]:
            print(f"ratio {name} / qemu: {t / q:.2f}x")


if __name__ == "__main__":
    main()
