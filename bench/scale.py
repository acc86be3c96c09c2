#!/usr/bin/env python3
"""hitl with a large database: fills a fresh data directory with N pauses (bench/seed),
then prints
  - start to healthy: from starting `hitl serve` to its first 200 on /healthz (5 starts);
  - p50 and p99 of every list API query and of status reads (one client, keep-alive);
  - p50 and p99 of the queue, review, history (every filter) and audit pages.
Standard library only; everything stays on 127.0.0.1.

Usage: bench/scale.py [--count 1000000] [--bin PATH] [--samples 200] [--keep DIR]
  --keep DIR: seed into DIR once and reuse it on later runs (seeding a million takes
  about two minutes); without it a temporary directory is seeded and removed.
"""

import argparse
import base64
import contextlib
import http.client
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = "a long admin password"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def hitl(bin_path, data, *args, stdin=None):
    out = subprocess.run([bin_path, "--data-dir", data, *args], input=stdin, capture_output=True,
                         text=True, check=True)
    return out.stdout.splitlines()[0] if out.stdout else ""


def healthy(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def start(bin_path, data, port):
    """Starts the server; returns (process, milliseconds until /healthz answered 200)."""
    began = time.perf_counter()
    proc = subprocess.Popen([bin_path, "--data-dir", data, "--log", "warn", "serve", "--listen",
                             f"127.0.0.1:{port}"])
    while not healthy(port):
        if proc.poll() is not None:
            sys.exit(f"scale: hitl serve exited with {proc.returncode}")
        if time.perf_counter() - began > 30:
            sys.exit("scale: hitl serve did not become healthy in 30 s")
        time.sleep(0.001)
    return proc, (time.perf_counter() - began) * 1000


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=15)


def index_caught_up(data, proc):
    """Waits until the server's indexer has added every pause to the search index (a
    seeded or upgraded database starts unindexed); returns the seconds that took."""
    began = time.perf_counter()
    db = sqlite3.connect(f"file:{os.path.join(data, 'hitl.db')}?mode=ro", uri=True)
    try:
        last = db.execute("SELECT coalesce(max(id), 0) FROM pauses").fetchone()[0]
        while db.execute("SELECT CAST(value AS INTEGER) FROM meta WHERE name = 'search_indexed'").fetchone()[0] < last:
            if proc.poll() is not None:
                sys.exit(f"scale: hitl serve exited with {proc.returncode}")
            if time.perf_counter() - began > 300:
                sys.exit("scale: the search index did not catch up in 300 s")
            time.sleep(0.05)
    finally:
        db.close()
    return time.perf_counter() - began


def percentiles(ms):
    ms = sorted(ms)
    return ms[len(ms) // 2], ms[max(0, int(len(ms) * 0.99 + 0.5) - 1)]


class Client:
    """One keep-alive connection; times each request from sending to the last byte."""

    def __init__(self, port, headers):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = headers

    def get(self, path):
        began = time.perf_counter()
        self.conn.request("GET", path, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        return resp.status, body, (time.perf_counter() - began) * 1000


def time_path(client, path, samples, limit):
    ms = []
    client.get(path)  # warm: the first read of cold pages is not what a reviewer waits for
    for _ in range(samples):
        status, body, took = client.get(path)
        if status != 200:
            sys.exit(f"scale: {path} answered {status}: {body[:300]!r}")
        ms.append(took)
    p50, p99 = percentiles(ms)
    verdict = "ok" if p99 <= limit else "MISSED"
    print(f"  {p50:7.2f} ms p50 {p99:7.2f} ms p99  ({verdict}, target p99 <= {limit} ms)  {path}")
    return p99 <= limit


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--count", type=int, default=1_000_000)
    p.add_argument("--bin", default=os.path.join(ROOT, "target/x86_64-unknown-linux-gnu/release/hitl"))
    p.add_argument("--samples", type=int, default=200)
    p.add_argument("--starts", type=int, default=5)
    p.add_argument("--keep")
    a = p.parse_args()

    if a.keep:
        os.makedirs(a.keep, mode=0o700, exist_ok=True)
    with (contextlib.nullcontext(a.keep) if a.keep else tempfile.TemporaryDirectory()) as data:
        keys_file = os.path.join(data, "bench-keys.json")
        if os.path.exists(keys_file):
            with open(keys_file) as f:
                agents, reviewer = json.load(f)
            seeded = None
        else:
            names = ["deploy-bot", "outreach-agent", "migrations", "support-bot", "finance-bot", "crm-sync"]
            agents = [hitl(a.bin, data, "key", "create", "--name", n) for n in names]
            hitl(a.bin, data, "user", "add", "admin@example.com", "--role", "admin", "--password-stdin",
                 stdin=PASSWORD + "\n")
            reviewer = hitl(a.bin, data, "key", "create", "--name", "reviewer", "--user", "admin@example.com")
            began = time.perf_counter()
            subprocess.run([sys.executable, os.path.join(ROOT, "bench/seed"), os.path.join(data, "hitl.db"),
                            str(a.count)], check=True, stdout=subprocess.DEVNULL)
            seeded = time.perf_counter() - began
            with open(keys_file, "w") as f:
                json.dump([agents, reviewer], f)
        db = sqlite3.connect(os.path.join(data, "hitl.db"))
        total = db.execute("SELECT count(*) FROM pauses").fetchone()[0]
        pending = db.execute("SELECT count(*) FROM pauses WHERE status = 'pending'").fetchone()[0]
        # An old pause and one 5,000 from the newest (or the middle of a small set).
        old_watch = db.execute("SELECT watch_id FROM pauses ORDER BY id LIMIT 1 OFFSET ?",
                               (min(1000, total // 4),)).fetchone()[0]
        new_watch = db.execute("SELECT watch_id FROM pauses ORDER BY id DESC LIMIT 1 OFFSET ?",
                               (min(5000, total // 4),)).fetchone()[0]
        deep = db.execute("SELECT id FROM pauses ORDER BY id LIMIT 1 OFFSET ?", (total // 2,)).fetchone()[0]
        key_id = db.execute("SELECT id FROM api_keys WHERE name = 'finance-bot'").fetchone()[0]
        db.close()
        size = os.path.getsize(os.path.join(data, "hitl.db")) / 2**20
        how = f"seeded in {seeded:.0f} s" if seeded is not None else f"seeded earlier in {data}"
        print(f"hitl with {total:,} pauses ({pending:,} pending), database {size:,.0f} MiB, {how}")

        port = free_port()
        ok = True
        starts = []
        for _ in range(a.starts):
            proc, ms = start(a.bin, data, port)
            starts.append(ms)
            stop(proc)
        starts.sort()
        verdict = "ok" if starts[len(starts) // 2] <= 100 else "MISSED"
        ok &= verdict == "ok"
        print(f"start to healthy: median {starts[len(starts) // 2]:.0f} ms, max {starts[-1]:.0f} ms over "
              f"{a.starts} starts ({verdict}, target <= 100 ms)")

        proc, _ = start(a.bin, data, port)
        try:
            # Measured with the search index complete, as a server that has run a while is.
            print(f"search index caught up {index_caught_up(data, proc):.1f} s after the last start")
            cursor = base64.urlsafe_b64encode(f"p{deep}".encode()).decode().rstrip("=")
            print(f"list API and status reads ({a.samples} sequential requests each, one keep-alive connection):")
            api = Client(port, {"Authorization": f"Bearer {reviewer}"})
            for path in ["/api/pause", "/api/pause?limit=200", "/api/pause?status=pending",
                         "/api/pause?status=approved", "/api/pause?status=expired", "/api/pause?status=cancelled",
                         "/api/pause?tag=finance", "/api/pause?tag=security&status=rejected",
                         # The seed answers no question: none of the tag's pauses matches.
                         "/api/pause?tag=deploy&status=answered",
                         f"/api/pause?cursor={cursor}", f"/api/pause?status=rejected&cursor={cursor}",
                         f"/api/pause/{old_watch}", f"/api/pause/{new_watch}"]:
                ok &= time_path(api, path, a.samples, 20)
            agent = Client(port, {"Authorization": f"Bearer {agents[4]}"})
            for path in ["/api/pause", "/api/pause?status=pending", f"/api/pause?cursor={cursor}"]:
                ok &= time_path(agent, path, a.samples, 20)

            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            form = urllib.parse.urlencode({"email": "admin@example.com", "password": PASSWORD})
            conn.request("POST", "/signin", body=form,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
            resp = conn.getresponse()
            resp.read()
            cookie = resp.getheader("Set-Cookie", "").split(";")[0]
            if not cookie:
                sys.exit(f"scale: signing in failed ({resp.status})")
            today = datetime.now(timezone.utc)
            frm, to = (today - timedelta(days=30)).date(), (today - timedelta(days=20)).date()
            page_samples = max(20, a.samples // 4)
            print(f"web pages ({page_samples} sequential requests each, signed in as an admin):")
            web = Client(port, {"Cookie": cookie})
            for path in ["/", f"/review/{new_watch}", f"/review/{old_watch}", "/history", f"/history?cursor={cursor}",
                         "/history?status=pending", "/history?status=expired&status=cancelled",
                         "/history?tag=finance", "/history?tag=deploy&status=answered", f"/history?key={key_id}", f"/history?from={frm}&to={to}",
                         "/history?q=invoice", "/history?q=ticket%20%2312345", "/history?q=no-such-words-anywhere",
                         # LIKE's wildcard as a character; two characters, too short for the index.
                         "/history?q=no_such_words", "/history?q=zq",
                         "/history?status=rejected&tag=prod&q=roll", "/audit", "/audit?event=pause.rejected",
                         f"/audit?watch_id={new_watch}", f"/audit?from={frm}&to={to}",
                         # An agent key never approves: none of its entries matches.
                         f"/audit?actor=key:{key_id}&event=pause.approved",
                         # The actor alone: one walk per event of the actor, merged.
                         f"/audit?actor=key:{key_id}", "/audit?actor=user:alice@example.com",
                         "/audit?actor=user:alice@example.com&event=pause.created", "/about"]:
                ok &= time_path(web, path, page_samples, 50)
        finally:
            stop(proc)
    print("scale: every target met" if ok else "scale: some targets MISSED (above)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
