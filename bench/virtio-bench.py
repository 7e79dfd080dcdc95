#!/usr/bin/python3
"""virtio throughput: sequential write and read of 256 MiB with dd inside
the guest on a virtio-blk disk (O_DIRECT, 1 MiB blocks, the raw device),
and wget of a 64 MiB file from an HTTP server on the host's 127.0.0.1
through the user-mode network, on rax's interpreter and on QEMU TCG
(-drive if=virtio, -netdev user with virtio-net-pci) in the same run,
taking turns rep by rep.  A benchmark: it reports MiB/s and the ratio, it
asserts nothing.

Each figure is host wall time from typing the command to the shell's
next prompt (the console round trip included; it is milliseconds), not
the guest's own clock, which on rax's interpreter is virtual time.

Run (from the source tree, after `make -C build` and `make -C build guest`):
    /usr/bin/python3 bench/virtio-bench.py [--build build] [--reps 3]
"""
import argparse
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import pexpect

MARKER = "RAX-GUEST-READY"
PROMPT = "~ # "
CMDLINE = "console=ttyS0 nokaslr reboot=k"
DISK_MIB = 256
NET_MIB = 64


def guest_dir(src):
    d = subprocess.run(["bash", os.path.join(src, "examples", "build-guest.sh"),
                        "--print-dir"], check=True, capture_output=True,
                       text=True).stdout.strip()
    if not os.path.exists(os.path.join(d, ".complete")):
        sys.exit("bench: the default guest is not built (make guest)")
    return d


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def timed(c, cmd, timeout=3600):
    """Seconds from sending cmd to the next prompt; what the command
    printed (the echoed command line dropped)."""
    c.sendline(cmd)
    t0 = time.monotonic()
    c.expect_exact(PROMPT, timeout=timeout)
    t = time.monotonic() - t0
    out = c.before.replace("\r", "")
    return t, out.split("\n", 1)[1] if "\n" in out else ""


def run_guest(c, port):
    """The three measurements in a booted default guest."""
    c.expect_exact(MARKER, timeout=600)
    c.expect_exact(PROMPT, timeout=600)
    _, out = timed(c, "udhcpc -i eth0 -n -q -t 5 >/dev/null 2>&1; "
                   "ifconfig eth0 | grep -c 10.0.2.15")
    if out.strip() != "1":
        raise RuntimeError("no DHCP lease in the guest: " + out)
    w, out = timed(c, f"dd if=/dev/zero of=/dev/vda bs=1M count={DISK_MIB} "
                   "oflag=direct 2>&1 | tail -1")
    if f"{DISK_MIB}+0 records out" not in out:
        raise RuntimeError("dd write failed: " + out)
    r, out = timed(c, f"dd if=/dev/vda of=/dev/null bs=1M count={DISK_MIB} "
                   "iflag=direct 2>&1 | tail -1")
    if f"{DISK_MIB}+0 records out" not in out:
        raise RuntimeError("dd read failed: " + out)
    n, out = timed(c, f"wget -q -O /dev/null http://10.0.2.2:{port}/big.bin "
                   "&& echo fetched")
    if "fetched" not in out:
        raise RuntimeError("wget failed: " + out)
    return DISK_MIB / w, DISK_MIB / r, NET_MIB / n


def rax_rep(rax, g, img, port):
    c = pexpect.spawn(rax, ["--backend", "emulator", "--kernel",
                            g + "/bzImage", "--initrd",
                            g + "/initramfs.cpio.gz", "--cmdline", CMDLINE,
                            "--disk", img, "--net", "user"],
                      encoding="utf-8", codec_errors="replace", timeout=600)
    try:
        return run_guest(c, port)
    finally:
        c.kill(9)
        c.close()


def qemu_rep(qemu, g, img, port):
    c = pexpect.spawn(qemu, ["-accel", "tcg", "-m", "512", "-nographic",
                             "-no-reboot", "-kernel", g + "/bzImage",
                             "-initrd", g + "/initramfs.cpio.gz",
                             "-append", CMDLINE,
                             "-drive", f"file={img},if=virtio,format=raw",
                             "-netdev", "user,id=n0",
                             "-device", "virtio-net-pci,netdev=n0"],
                      encoding="utf-8", codec_errors="replace", timeout=600)
    try:
        return run_guest(c, port)
    finally:
        c.kill(9)
        c.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.join(here, "..")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(src, "build"))
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("-v", action="store_true", help="print every sample")
    opt = ap.parse_args()
    g = guest_dir(src)
    rax = os.path.join(opt.build, "rax")
    qemu = shutil.which("qemu-system-x86_64")
    with tempfile.TemporaryDirectory(prefix="rax-virtio-bench-") as tmp:
        with open(os.path.join(tmp, "big.bin"), "wb") as f:
            f.write(os.urandom(NET_MIB << 20))
        img = os.path.join(tmp, "scratch.img")
        with open(img, "wb") as f:
            f.truncate(DISK_MIB << 20)
        httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), lambda *a: Quiet(*a, directory=tmp))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port = httpd.server_address[1]
        samples = {"rax": [], "qemu": []}
        try:
            for rep in range(opt.reps):
                samples["rax"].append(rax_rep(rax, g, img, port))
                if qemu:
                    samples["qemu"].append(qemu_rep(qemu, g, img, port))
                if opt.v:
                    print(f"rep {rep}: " + ", ".join(
                        f"{k} " + "/".join(f"{x:.1f}" for x in v[-1])
                        for k, v in samples.items() if v), flush=True)
        finally:
            httpd.shutdown()
            httpd.server_close()
    names = ("dd write 256 MiB (MiB/s)", "dd read 256 MiB (MiB/s)",
             "wget 64 MiB (MiB/s)")
    load = os.getloadavg()
    print(f"median of {opt.reps}; load average {load[0]:.2f} "
          f"{load[1]:.2f} {load[2]:.2f}")
    print(f"{'':28} {'rax':>9} {'qemu tcg':>9} {'rax/qemu':>9}")
    for i, name in enumerate(names):
        r = statistics.median(s[i] for s in samples["rax"])
        if samples["qemu"]:
            q = statistics.median(s[i] for s in samples["qemu"])
            print(f"{name:28} {r:9.1f} {q:9.1f} {r / q:8.2f}x")
        else:
            print(f"{name:28} {r:9.1f} {'-':>9} {'-':>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
