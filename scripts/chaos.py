#!/usr/bin/env python3
"""Tries pingroll the way a hostile network would, against a real `pingroll serve` on loopback.

1. kill -9 rounds: concurrent clients post pings; the server is killed at a random moment and
   restarted on the same database; afterwards every acknowledged ping must be stored and
   `pingroll rollup verify` must be clean.
2. Attacks from other loopback addresses while a normal client on 127.0.0.1 posts pings: its
   latency (p50/p99), failures, and the server's peak RSS are reported per attack.

Prints a table. Targets loopback only; every scenario stops by itself.
usage: scripts/chaos.py BINARY [--rounds N] [--attack-seconds S] [--quick]
"""
import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib


def ping_body(uid, users=120, size=2000, recorded="2024-01-15T10:00:00Z"):
    counts = ",".join(f'"c{i}":{i * 7919 % 100000}' for i in range(size // 14))
    return json.dumps({"uuid": uid, "hostname": "gitlab.example.com", "recorded_at": recorded, "version": "16.5.1-ee",
                       "edition": "EEP", "installation_type": "omnibus-gitlab", "active_user_count": users,
                       "container_registry_enabled": True,
                       "container_registry_server": {"vendor": "gitlab", "version": "3.85.0-gitlab", "db_enabled": True},
                       }).encode()[:-1] + b',"counts":{' + counts.encode() + b"}}"


class Server:
    def __init__(self, binary, db, extra=()):
        self.binary, self.db, self.extra = binary, db, list(extra)
        self.proc = None
        self.port = None

    def start(self):
        self.log = open(self.db + ".log", "ab")
        self.proc = subprocess.Popen([self.binary, "serve", "--database", self.db, "--listen", "127.0.0.1:0"] + self.extra,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        buf = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.log.write(line)
            buf += line
            marker = b"listening on http://127.0.0.1:"
            if marker in line:
                rest = line.split(marker)[1]
                self.port = int(rest[:len(rest) - len(rest.lstrip(b"0123456789"))])
                threading.Thread(target=self._drain, daemon=True).start()
                return self
        raise RuntimeError("server did not start: " + buf.decode(errors="replace"))

    def _drain(self):
        for line in self.proc.stdout:
            self.log.write(line)

    def peak_rss_mib(self):
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM"):
                        return int(line.split()[1]) // 1024
        except OSError:
            return -1
        return -1

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def post(port, body, path="/usage_data", timeout=30, source=None, headers=b""):
    s = socket.socket()
    s.settimeout(timeout)
    if source:
        s.bind((source, 0))
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n"
                  + headers + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
        return status, data.split(b"\r\n\r\n", 1)[-1]
    finally:
        s.close()


def kill_rounds(binary, rounds, workdir):
    db = os.path.join(workdir, "kill9.sqlite3")
    acked = {}
    lock = threading.Lock()
    for _ in range(rounds):
        server = Server(binary, db).start()
        stop = threading.Event()

        def worker():
            while not stop.is_set():
                uid = str(uuidlib.uuid4())
                try:
                    status, body = post(server.port, ping_body(uid, users=random.choice([5, 120, 8000000000000000000])), timeout=10)
                except OSError:
                    continue
                if status == 201:
                    with lock:
                        acked[uid] = json.loads(body)["conv_index"]["usage_data_id"]

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        time.sleep(random.uniform(0.3, 2.0))
        server.stop(signal.SIGKILL)
        stop.set()
        for t in threads:
            t.join()
    # Restart once so the server recovers the WAL, then check.
    server = Server(binary, db).start()
    server.stop()
    conn = sqlite3.connect(db)
    stored = {row[0] for row in conn.execute("SELECT i.uuid FROM pings p JOIN installations i ON i.id = p.installation_id")}
    conn.close()
    lost = sum(1 for u in acked if u not in stored)
    verify = subprocess.run([binary, "rollup", "verify", "--database", db], capture_output=True, text=True)
    return {"rounds": rounds, "acknowledged": len(acked), "lost": lost, "verify_failures": 0 if verify.returncode == 0 else 1,
            "verify": verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else verify.stderr.strip()[-200:]}


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def normal_client(port, seconds, results):
    end = time.time() + seconds
    while time.time() < end:
        started = time.time()
        try:
            status, _ = post(port, ping_body(str(uuidlib.uuid4())), timeout=30)
        except OSError:
            status = 0
        results.append((time.time() - started, status))
        time.sleep(0.05)


def connect_from(port, source, first=b"", timeout=1):
    """A connection from `source` that has sent `first`, or None when refused."""
    s = socket.socket()
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect(("127.0.0.1", port))
        if first:
            s.sendall(first)
        return s
    except OSError:
        s.close()
        return None


def open_many(port, n, sources, first, stop=None):
    socks = []
    for i in range(n):
        if stop is not None and stop.is_set():
            break
        s = connect_from(port, sources[i % len(sources)], first)
        if s:
            socks.append(s)
    return socks


def trickle(port, socks, sources, byte, stop, reconnect_with=None):
    """Sends one byte per connection per second; with `reconnect_with`, replaces cut connections."""
    while not stop.is_set():
        for s in list(socks):
            try:
                s.send(byte)
            except OSError:
                socks.remove(s)
                s.close()
                if reconnect_with is not None:  # as a determined attacker would
                    r = connect_from(port, random.choice(sources), reconnect_with)
                    if r:
                        socks.append(r)
        stop.wait(1.0)
    for s in socks:
        s.close()


SLOW_HEAD = b"POST /usage_data HTTP/1.1\r\nHost: x\r\n"


def attack_slow_heads(port, n, seconds, sources, stop):
    trickle(port, open_many(port, n, sources, SLOW_HEAD), sources, b"X", stop, reconnect_with=SLOW_HEAD)


def attack_slow_bodies(port, n, seconds, sources, stop):
    head = b"POST /usage_data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
    trickle(port, open_many(port, n, sources, head), sources, b"1", stop)


def attack_idle(port, n, seconds, sources, stop):
    socks = open_many(port, n, sources, b"")
    stop.wait(seconds)
    for s in socks:
        s.close()


def attack_abandon(port, n, seconds, sources, stop):
    head = b"POST /usage_data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 500000\r\n\r\n{\"uuid\":"
    while not stop.is_set():
        for s in open_many(port, n, sources, head, stop):
            s.close()
        stop.wait(2)


def attack_memory(port, n, seconds, sources, stop):
    """n connections each sending 7 MiB of an 8 MiB body, then holding it."""
    chunk = b"1" * (1 << 20)
    socks = []
    for i in range(n):
        if stop.is_set():
            break
        s = connect_from(port, sources[i % len(sources)],
                         b"POST /usage_data HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 8388000\r\n\r\n[", 2)
        if not s:
            continue
        try:
            for _ in range(7):
                s.sendall(chunk)
            socks.append(s)
        except OSError:
            s.close()
    stop.wait(seconds)
    for s in socks:
        s.close()


def attack_multipart(port, n, seconds, sources, stop):
    boundary = b"a" * 70
    body = b"--" + boundary + b"\r\nContent-Disposition: form-data; name=\"payload\"\r\n\r\n" + (b"\r\n--" + b"a" * 69) * (2_000_000 // 73)
    while not stop.is_set():
        threads = [threading.Thread(target=lambda i=i: _quiet(post, port, body, "/usage_data/new", 60, sources[i % len(sources)],
                                                            b"Content-Type: multipart/form-data; boundary=" + boundary + b"\r\n"))
                   for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def attack_numbers(port, n, seconds, sources, stop):
    i = 0
    while not stop.is_set() and i < n:
        _quiet(post, port, ping_body(f"big-{i}", users=8000000000000000000), "/usage_data", 10, sources[i % len(sources)])
        i += 1
    stop.wait(seconds)


def _quiet(fn, *args):
    try:
        return fn(*args)
    except OSError:
        return None


def attacks(binary, seconds, workdir, quick):
    few = [f"127.0.0.{i}" for i in range(2, 10)]
    many = [f"127.0.{b}.{i}" for b in range(1, 3) for i in range(2, 250)]
    scenarios = [
        ("none (baseline)", None, 0, few, []),
        ("slowloris heads, 1100 conns, 8 addrs", attack_slow_heads, 1100, few, []),
        ("slowloris heads, 1100 conns, 496 addrs", attack_slow_heads, 1100, many, []),
        ("slowloris heads, 6000 conns (over the 4096 limit), 496 addrs", attack_slow_heads, 6000, many, []),
        ("slow bodies 1 B/s, 1100 conns, 8 addrs", attack_slow_bodies, 1100, few, []),
        ("slow bodies 1 B/s, 1100 conns, 496 addrs", attack_slow_bodies, 1100, many, []),
        ("2000 idle conns, 496 addrs", attack_idle, 2000, many, []),
        ("2500 abandoned requests per 2 s", attack_abandon, 2500, many, []),
        ("250 conns x 7 MiB bodies", attack_memory, 250, many, []),
        ("2 hostile 2 MB multipart uploads, repeated", attack_multipart, 2, few, []),
        ("64 pings with 8e18 numbers", attack_numbers, 64, few, []),
    ]
    if quick:
        scenarios = scenarios[:3]
    rows = []
    for name, fn, n, sources, extra in scenarios:
        db = os.path.join(workdir, f"attack-{len(rows)}.sqlite3")
        server = Server(binary, db, extra).start()
        stop = threading.Event()
        attacker = threading.Thread(target=fn, args=(server.port, n, seconds, sources, stop)) if fn else None
        if attacker:
            attacker.start()
            time.sleep(2)  # let the attack build up
        results = []
        normal_client(server.port, seconds, results)
        stop.set()
        if attacker:
            attacker.join()
        alive = server.proc.poll() is None
        health = _quiet(lambda: _get(server.port, "/healthz"))
        rss = server.peak_rss_mib()
        code = server.stop()
        latencies = [r[0] for r in results]
        rows.append({"attack": name, "normal_posts": len(results), "failed": sum(1 for r in results if r[1] != 201),
                     "p50_ms": round(percentile(latencies, 0.5) * 1000, 1), "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
                     "alive": alive and health == 200, "exit": code, "peak_rss_mib": rss})
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def _get(port, path):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    data = s.recv(1000)
    s.close()
    return int(data.split(b" ", 2)[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("binary")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--attack-seconds", type=float, default=10)
    parser.add_argument("--quick", action="store_true", help="few rounds and attacks (a smoke run)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="pingroll-chaos-")
    k = kill_rounds(args.binary, 3 if args.quick else args.rounds, workdir)
    print("\n## kill -9 under load")
    print("| rounds | acknowledged pings | lost | rollup verify failures |")
    print("|---|---|---|---|")
    print(f"| {k['rounds']} | {k['acknowledged']} | {k['lost']} | {k['verify_failures']} ({k['verify']}) |")
    rows = attacks(args.binary, 3 if args.quick else args.attack_seconds, workdir, args.quick)
    print("\n## attacks from other loopback addresses; a normal client on 127.0.0.1 posts 2 KB pings meanwhile")
    print("| attack | normal posts | failed | p50 ms | p99 ms | server alive | exit on SIGTERM | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['attack']} | {r['normal_posts']} | {r['failed']} | {r['p50_ms']} | {r['p99_ms']} | {r['alive']} | {r['exit']} | {r['peak_rss_mib']} |")
    bad = k["lost"] or k["verify_failures"] or any(r["failed"] or not r["alive"] or r["exit"] != 0 for r in rows)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
