# SPDX-License-Identifier: BSD-2-Clause
# rdwatch-servers.py: servers for the rdwatch integration tests, on
# 127.0.0.1 only, on ports the kernel picks.
#
#   python3 rdwatch-servers.py PARENT_PID KIND:NAME ...
#
# KIND is "silent" (accepts connections and never answers), "silent6"
# (the same on ::1, or the port file says "none" without IPv6), "garbage"
# (answers every connection with a line that is not HTTP), "http" (see
# Handler) or "refused" (a port that was bound and closed again: nothing
# listens there).  The port of each is written to NAME.port, atomically,
# once it listens.  The servers exit when PARENT_PID is gone, or after
# 120 s.
import http.server
import os
import socket
import sys
import threading
import time


def write_port(path, port):
    with open(path + ".tmp", "w") as f:
        f.write("none\n" if port is None else "%d\n" % port)
    os.rename(path + ".tmp", path)


class Handler(http.server.BaseHTTPRequestHandler):
    """GET answers with the status in ./status (default 200) and the body
    in ./body (default "ok\\n"); /chunked sends the body chunked, 3 bytes
    a chunk, and /close without a length, up to the end of the connection.
    Every request line and Host header goes to ./requests."""

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        try:
            with open("status") as f:
                code = int(f.read().strip())
        except (OSError, ValueError):
            code = 200
        try:
            with open("body", "rb") as f:
                body = f.read()
        except OSError:
            body = b"ok\n"
        with open("requests", "a") as f:
            f.write("%s %s\n" % (self.requestline, self.headers.get("Host")))
        self.send_response(code)
        self.send_header("Connection", "close")
        if self.path.startswith("/chunked"):
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 3):
                part = body[i:i + 3]
                self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Trailer: 1\r\n\r\n")
        elif self.path.startswith("/close"):
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        self.close_connection = True

    def log_message(self, *args):
        pass


def listen(portfile, family, addr, answer):
    try:
        s = socket.socket(family, socket.SOCK_STREAM)
        s.bind((addr, 0))
    except OSError:
        write_port(portfile, None)
        return
    s.listen(64)
    write_port(portfile, s.getsockname()[1])
    held = []

    def accept():
        while True:
            conn, _ = s.accept()
            if answer:
                conn.recv(65536)  # the request, so that close sends no RST
                conn.sendall(answer)
                conn.close()
            else:
                held.append(conn)

    threading.Thread(target=accept, daemon=True).start()


def silent(portfile):
    listen(portfile, socket.AF_INET, "127.0.0.1", None)


def silent6(portfile):
    listen(portfile, socket.AF_INET6, "::1", None)


def garbage(portfile):
    listen(portfile, socket.AF_INET, "127.0.0.1", b"hello there\n")


def refused(portfile):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    write_port(portfile, port)


def web(portfile):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    write_port(portfile, srv.server_address[1])


def main():
    parent = int(sys.argv[1])
    kinds = {"silent": silent, "silent6": silent6, "garbage": garbage,
             "http": web, "refused": refused}
    for arg in sys.argv[2:]:
        kind, name = arg.split(":", 1)
        kinds[kind](name + ".port")
    end = time.monotonic() + 120
    while time.monotonic() < end:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    os._exit(0)


if __name__ == "__main__":
    main()
