"""Loopback-only fake servers for bench/old_vs_new.sh, one per process, bound to 127.0.0.1.

    python3 old_vs_new_servers.py MODE PORTFILE [ARGS]

MODE
  silent          accept connections and never send a byte
  drop            never accept; the accept queue is filled, so the kernel drops further SYNs
  login-silent    log any client in (AuthenticationOk, ReadyForQuery), then answer nothing
  echo            ask for a cleartext password, then fail authentication quoting it back
  proxy PORT PAT  forward to 127.0.0.1:PORT until the client sends PAT (bytes), then forward
                  nothing more on any connection and leave new ones silent

The port listened on is written to PORTFILE. The process runs until killed.
"""

import socket
import struct
import sys
import threading
import time

mode, portfile = sys.argv[1], sys.argv[2]


def listener(backlog=128):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(backlog)
    return s


def publish(s):
    with open(portfile + ".tmp", "w") as f:
        f.write(str(s.getsockname()[1]))
    import os

    os.replace(portfile + ".tmp", portfile)


def read_exact(c, n):
    b = b""
    while len(b) < n:
        x = c.recv(n - len(b))
        if not x:
            raise EOFError
        b += x
    return b


def read_body(c, typed):
    if typed:
        read_exact(c, 1)
    (n,) = struct.unpack("!I", read_exact(c, 4))
    return read_exact(c, max(0, n - 4))


def startup(c):
    body = read_body(c, False)
    if body == b"\x04\xd2\x16\x2f":  # SSLRequest: no TLS here
        c.sendall(b"N")
        body = read_body(c, False)
    return body


def serve(s, handle):
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)
        threading.Thread(target=handle, args=(c,), daemon=True).start()


def login_silent(c):
    try:
        startup(c)
        c.sendall(b"R\0\0\0\x08\0\0\0\0")  # AuthenticationOk
        c.sendall(b"Z\0\0\0\x05I")  # ReadyForQuery
        while c.recv(4096):
            pass
    except Exception:
        pass


def echo(c):
    try:
        c.settimeout(10)
        body = startup(c)
        params = body[4:].replace(b"\0", b" ").decode("utf-8", "replace")
        c.sendall(b"R\0\0\0\x08\0\0\0\x03")  # AuthenticationCleartextPassword
        pw = read_body(c, True).rstrip(b"\0").decode("utf-8", "replace")
        fields = [
            (b"S", "FATAL"),
            (b"V", "FATAL"),
            (b"C", "28P01"),
            (b"M", f'password authentication failed: got "{pw}" with{params}'),
        ]
        body = b"".join(k + v.encode() + b"\0" for k, v in fields) + b"\0"
        c.sendall(b"E" + struct.pack("!I", len(body) + 4) + body)
    except Exception:
        pass


if mode == "silent":
    s = listener()
    publish(s)
    serve(s, lambda c: None)
elif mode == "drop":
    s = listener(0)
    port = s.getsockname()[1]
    queued = []
    for _ in range(4096):
        q = socket.socket()
        q.settimeout(0.3)
        try:
            q.connect(("127.0.0.1", port))
            queued.append(q)
        except OSError:
            break
    publish(s)
    while True:
        time.sleep(3600)
elif mode == "login-silent":
    s = listener()
    publish(s)
    serve(s, login_silent)
elif mode == "echo":
    s = listener()
    publish(s)
    serve(s, echo)
elif mode == "proxy":
    server_port, pattern = int(sys.argv[3]), sys.argv[4].encode()
    stalled = threading.Event()

    def pump(a, b, watch):
        try:
            while not stalled.is_set():
                data = a.recv(65536)
                if not data:
                    b.shutdown(socket.SHUT_WR)
                    return
                if watch and pattern in data:
                    at = data.index(pattern) + len(pattern)
                    b.sendall(data[:at])
                    stalled.set()
                    return
                if stalled.is_set():
                    return
                b.sendall(data)
        except OSError:
            pass

    def handle(c):
        if stalled.is_set():
            return  # accepted, silent
        srv = socket.create_connection(("127.0.0.1", server_port))
        threading.Thread(target=pump, args=(c, srv, True), daemon=True).start()
        threading.Thread(target=pump, args=(srv, c, False), daemon=True).start()
        while True:  # keep both ends open
            time.sleep(3600)

    s = listener()
    publish(s)
    serve(s, handle)
else:
    sys.exit(f"unknown mode {mode}")
