# The default guest's user-mode network on rax's interpreter: virtio-net
# over libslirp.  udhcpc gets 10.0.2.15, wget fetches a file from an HTTP
# server this test runs on the host's 127.0.0.1 (10.0.2.2 in the guest),
# and the host fetches a page from busybox httpd in the guest through a
# hostfwd on 127.0.0.1 (tests/bad-input.sh covers bad --net arguments).
#
# Run (after `make` and `make guest` in ./build):
#   RAX_BUILD=$PWD/build /usr/bin/python3 -m pytest -v \
#       tests/py/test_virtio_net.py
# or `make check` (tests/py/virtio-net.sh).  Every rax a test starts is
# killed by its PID at teardown; every wait has a timeout.  The tests
# address only 127.0.0.1 on the host and 10.0.2.2 in the guest.
import http.server
import os
import secrets
import socket
import subprocess
import sys
import threading
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # keep the source tree clean
from test_virtio import (CMDLINE, PROMPT, RAX, reboot, shell,  # noqa
                         spawn)


def slirp_missing():
    r = subprocess.run([RAX, "--kernel", "/nonexistent", "--net", "user"],
                       capture_output=True, text=True, timeout=60)
    return "without libslirp" in r.stderr


if not os.access(RAX, os.X_OK) or slirp_missing():
    pytest.skip("rax was built without libslirp (libslirp-dev)",
                allow_module_level=True)


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_user_network_dhcp_host_and_port_forward(guest, procs, tmp_path):
    token = "served-by-the-host-" + secrets.token_hex(8)
    (tmp_path / "hello.txt").write_text(token + "\n")
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0),
        lambda *a: Handler(*a, directory=str(tmp_path)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    host_port = httpd.server_address[1]
    fwd = free_port()
    try:
        child = spawn(procs, "--kernel", guest + "/bzImage", "--initrd",
                      guest + "/initramfs.cpio.gz", "--cmdline", CMDLINE,
                      "--net", f"user,hostfwd=tcp:127.0.0.1:{fwd}-:80")
        child.expect_exact("RAX-GUEST-READY")
        child.expect_exact(PROMPT, timeout=300)
        out = shell(child, "udhcpc -i eth0 -n -q -t 5")
        assert "10.0.2.15" in out, out
        assert "inet addr:10.0.2.15" in shell(child, "ifconfig eth0")
        out = shell(child, f"wget -q -O - http://10.0.2.2:{host_port}/"
                    "hello.txt")
        assert token in out, out
        # A server in the guest, reached from the host through the
        # forward on 127.0.0.1.
        guest_token = "served-by-the-guest-" + secrets.token_hex(8)
        shell(child, f"mkdir -p /www && echo {guest_token} > "
              "/www/index.html && httpd -p 80 -h /www && echo started")
        with urllib.request.urlopen(f"http://127.0.0.1:{fwd}/index.html",
                                    timeout=120) as r:
            assert r.read().decode().strip() == guest_token
        reboot(child)
    finally:
        httpd.shutdown()
        httpd.server_close()

