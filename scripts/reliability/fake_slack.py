"""A fake Slack webhook on loopback for the reliability scripts.

usage: fake_slack.py MODE PORT_FILE
MODE: ok (200), hang (accepts, never answers), flaky (429 with
Retry-After: 1 and 500, in turn). Writes its port to PORT_FILE and serves
until killed.
"""

import http.server
import itertools
import socketserver
import sys
import threading
import time

mode, port_file = sys.argv[1], sys.argv[2]
turn = itertools.count()
lock = threading.Lock()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        if mode == "hang":
            time.sleep(3600)
            return
        if mode == "flaky":
            with lock:
                n = next(turn)
            if n % 2 == 0:
                self.send_response(429)
                self.send_header("Retry-After", "1")
                body = b"rate_limited"
            else:
                self.send_response(500)
                body = b"internal_error"
        else:
            self.send_response(200)
            body = b"ok"
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


server = Server(("127.0.0.1", 0), Handler)
with open(port_file, "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
