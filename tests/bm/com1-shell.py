#!/usr/bin/env python3
"""tests/bm/com1-shell.py: the other end of Bochs's COM1 in
"mode=socket-client" (tests/bm/linux-shell-answers-on-com1.test).

Usage: com1-shell.py PORTFILE LOG
Listens on a free TCP port of 127.0.0.1 and writes its number to PORTFILE;
Bochs connects there.  Everything the guest sends goes to LOG.  After the
guest's RAX-GUEST-READY and shell prompt it types a command whose output
only the shell can produce, then, at the next prompt, "reboot -f", which
ends the run (bm/io.c: guest reset).  Exits 0 when the answer came, 1 when
the connection closed before (Bochs ended, e.g. at its tick budget), 2 when
Bochs never connected.
"""
import os
import socket
import sys

PROMPT = b"~ # "
# $((6*7)) is arithmetic expansion: the echo of the typed line shows the
# expression, only the shell's output shows the product.
STEPS = [
    (b"RAX-GUEST-READY", None),
    (PROMPT, b"echo rax-$((6*7))\r"),
    (b"rax-42\r\n", None),
    (PROMPT, b"reboot -f\r"),
]


def main():
    portfile, logname = sys.argv[1], sys.argv[2]
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % srv.getsockname()[1])
    # Renamed into place so that the waiting test never reads half a line.
    os.rename(portfile + ".tmp", portfile)
    srv.settimeout(120)
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        print("com1-shell: Bochs did not connect")
        return 2
    seen = b""
    step = 0
    with open(logname, "wb") as log:
        while True:
            try:
                data = conn.recv(4096)
            except ConnectionResetError:
                # Bochs ended with typed bytes still unread.
                data = b""
            if not data:
                break
            log.write(data)
            log.flush()
            seen += data
            while step < len(STEPS) and STEPS[step][0] in seen:
                want, send = STEPS[step]
                seen = seen[seen.index(want) + len(want):]
                if send:
                    conn.sendall(send)
                step += 1
    if step < 3:
        print("com1-shell: connection closed at step %d (waiting for %r)"
              % (step, STEPS[step][0]))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
