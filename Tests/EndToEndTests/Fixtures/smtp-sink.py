#!/usr/bin/env python3
"""An SMTP server for the subscription tests (aiosmtpd): listens on 127.0.0.1 at a free port,
printed on the first line of standard output, and writes each message it accepts to DIR as
N.eml (envelope sender and recipients in N.json). With `auth`, it requires AUTH PLAIN/LOGIN with
USER:PASSWORD (over the plain connection: the test has no certificate authority).

usage: smtp-sink.py DIR [auth USER:PASSWORD]
"""
import json
import os
import socket
import sys
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


probe = socket.socket()
probe.bind(("127.0.0.1", 0))
port = probe.getsockname()[1]
probe.close()
kwargs = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False} if credentials else {}
controller = Controller(Sink(), hostname="127.0.0.1", port=port, **kwargs)
controller.start()
print(port, flush=True)
while True:
    time.sleep(3600)
