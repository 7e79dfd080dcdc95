#!/usr/bin/env python3
"""rax with no options boots the default guest with its console on pipes:
the shell answers a command typed into stdin, and `reboot -f` ends rax
with status 0.  The README's first command ends with an interactive
`./rax`; CI (.ci/run) runs this in its place, and make check runs it too
(tests/pipe-console.sh).

Input is written once the shell's prompt is seen: what a guest receives
before its serial driver is up is lost there, as on a real serial line.

Run: python3 tests/pipe-console.py ./rax   (exit 0 pass, 1 fail, 77 skip:
the default guest is not built).  Every wait has a timeout; the rax it
starts is killed by PID if it is still running at the end."""
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

BOOT_TIMEOUT = float(os.environ.get("RAX_BOOT_TIMEOUT", "600"))
PROMPT = "~ # "


def main():
    rax = sys.argv[1] if len(sys.argv) > 1 else "./rax"
    if not os.access(rax, os.X_OK):
        print("FAIL: %s is not built" % rax)
        return 1
    p = subprocess.Popen([rax], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    out = queue.Queue()
    seen = []

    def reader():
        while True:
            b = p.stdout.read1(4096)
            out.put(b)
            if not b:
                return

    threading.Thread(target=reader, daemon=True).start()

    def wait_for(pattern, timeout):
        """Reads output until pattern matches what came after `mark`."""
        deadline = time.monotonic() + timeout
        while True:
            text = b"".join(seen).decode(errors="replace").replace("\r", "")
            m = re.search(pattern, text[wait_for.mark:])
            if m:
                wait_for.mark += m.end()
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                b = out.get(timeout=min(left, 1.0))
            except queue.Empty:
                continue
            if not b:
                return bool(re.search(pattern, text[wait_for.mark:]))
            seen.append(b)

    wait_for.mark = 0
    try:
        if not wait_for(r"not built|RAX-GUEST-READY", BOOT_TIMEOUT):
            print("FAIL: no RAX-GUEST-READY within %d s" % BOOT_TIMEOUT)
            return 1
        text = b"".join(seen).decode(errors="replace")
        if "not built" in text:
            print("SKIP: " + text.strip().splitlines()[-1])
            return 77
        if not wait_for(re.escape(PROMPT), 120):
            print("FAIL: no shell prompt")
            return 1
        p.stdin.write(b"echo $((6*7))\n")
        p.stdin.flush()
        if not wait_for(r"\n42\n", 120):
            print("FAIL: the shell did not answer 42")
            return 1
        p.stdin.write(b"reboot -f\n")
        p.stdin.flush()
        try:
            status = p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            print("FAIL: rax still runs 120 s after reboot -f")
            return 1
        if status != 0:
            print("FAIL: rax exited with status %d, not 0" % status)
            return 1
        print("ok: the shell answered 42 on a piped console; rax exited 0")
        return 0
    finally:
        if p.poll() is None:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(timeout=30)
        while not out.empty():
            seen.append(out.get_nowait())
        sys.stdout.write("--- rax's output:\n" + b"".join(seen).decode(
            errors="replace")[-3000:] + "\n")


if __name__ == "__main__":
    sys.exit(main())
