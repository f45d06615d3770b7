#!/usr/bin/env python3
"""A webhook receiver for the subscription tests: listens on 127.0.0.1 (a free port, printed on
the first line of standard output) and appends one JSON line per request to LOG: the path, the
delivery id, whether X-Pingroll-Signature is the HMAC-SHA256 of the exact body under SECRET, and
the body's length. By path: /ok answers 200, /fail 500, /redirect 302 to /ok, /slow waits 30 s, /hold answers 200 after 3 s,
/huge answers 200 with a declared gigabyte and streams until the client hangs up.

usage: webhook-receiver.py LOG SECRET
"""
import hashlib
import hmac
import http.server
import json
import sys
import time

log_path, secret = sys.argv[1], sys.argv[2].encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        record = {"path": self.path, "delivery": self.headers.get("X-Pingroll-Delivery"),
                  "signature_ok": hmac.compare_digest(expected, self.headers.get("X-Pingroll-Signature", "")),
                  "length": len(body), "type": json.loads(body).get("type") if body.startswith(b"{") else None}
        with open(log_path, "a") as log:
            log.write(json.dumps(record) + "\n")
        if self.path.startswith("/ok"):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")
        elif self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/hold"):
            time.sleep(3)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path.startswith("/slow"):
            time.sleep(30)
        elif self.path.startswith("/huge"):
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            chunk = b"x" * 65536
            try:
                for _ in range(1 << 14):
                    self.wfile.write(chunk)
            except OSError:
                pass
        else:
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
