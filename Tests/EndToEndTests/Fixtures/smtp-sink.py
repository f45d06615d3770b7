#!/usr/bin/env python3
"""An SMTP server for the subscription tests (aiosmtpd): listens on 127.0.0.1 at a free port,
printed on the first line of standard output, and writes each message it accepts to DIR as
N.eml (envelope sender and recipients in N.json). With `auth`, it requires AUTH PLAIN/LOGIN with
USER:PASSWORD (over the plain connection: the test has no certificate authority).

With `tls CERT KEY` it offers and requires STARTTLS with that certificate instead. With `stall`,
`reject` or `cut` it is a hostile server instead: one that greets and never answers, one that
refuses with 554, one that accepts DATA and closes the connection mid-message.

usage: smtp-sink.py DIR [auth USER:PASSWORD | tls CERT KEY | stall | reject | cut]
"""
import json
import os
import socket
import ssl
import sys
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

directory = sys.argv[1]
credentials = sys.argv[3].split(":", 1) if len(sys.argv) > 3 and sys.argv[2] == "auth" else None
count = [0]


class Sink:
    async def handle_DATA(self, server, session, envelope):
        count[0] += 1
        with open(os.path.join(directory, f"{count[0]}.eml"), "wb") as f:
            f.write(envelope.original_content or envelope.content)
        with open(os.path.join(directory, f"{count[0]}.json"), "w") as f:
            json.dump({"from": envelope.mail_from, "to": envelope.rcpt_tos}, f)
        return "250 OK"


def authenticate(server, session, envelope, mechanism, data):
    ok = credentials is not None and data.login.decode() == credentials[0] and data.password.decode() == credentials[1]
    return AuthResult(success=ok)


mode = sys.argv[2] if len(sys.argv) > 2 else None
if mode in ("stall", "reject", "cut"):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(listener.getsockname()[1], flush=True)

    def serve(conn):
        try:
            if mode == "reject":
                conn.sendall(b"554 no service here\r\n")
                time.sleep(1)
            elif mode == "stall":
                conn.sendall(b"220 slow.example ESMTP\r\n")
                time.sleep(3600)
            else:
                conn.sendall(b"220 cut.example ESMTP\r\n")
                reader = conn.makefile("rb")
                while True:
                    line = reader.readline()
                    if not line:
                        break
                    verb = line[:4].upper()
                    if verb in (b"EHLO", b"HELO"):
                        conn.sendall(b"250 cut.example\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go on\r\n")
                        reader.readline()
                        break
                    else:
                        conn.sendall(b"250 OK\r\n")
        finally:
            conn.close()

    while True:
        c, _ = listener.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()

probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
kwargs = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False} if credentials else {}
if mode == "tls":
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(sys.argv[3], sys.argv[4])
    kwargs = {"tls_context": context, "require_starttls": True}
controller = Controller(Sink(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print(port, flush=True)
while True:
    time.sleep(3600)
