#!/usr/bin/env python3
"""Soak test: an hour (by default) of mixed load on one hitl server, judged on whether
the server holds steady. Standard library only; plain HTTP/1.1 (keep-alive) to 127.0.0.1.

It starts the binary on a temporary data directory and a free port, with an agent key
whose webhooks go to a receiver in this script (every delivery's Standard Webhooks
signature is checked), a reviewer key and a signed-in admin. Then, for --duration:
  - pauses are created at --rate per second (varied action, 0.2-4 KB of context, tags);
  - half of them are long-polled by the agent (GET ?wait=30, again while pending);
  - most are approved or rejected, with a comment, 0.2-3 s after creation; a few by two
    reviewers at once (one must win, the other get 409); a few are cancelled by the
    agent; a few are left to expire after 5-20 s;
  - web pages (queue, history, a pause, audit) are fetched at 2/s, the list API at 1/s.
Every --sample seconds it prints the server's RSS (the highest and lowest of readings taken
every second in that period), open descriptors, outbox backlog (from /metrics) and the
counts so far. At the end it lets the webhooks drain and judges: RSS (each sample's
highest reading) within 10% of the first sample after --warmup, no error (unexpected HTTP
status, connection error, wrong status seen by a long-poll, bad or missing webhook, ERROR
in the server's log), the outbox back to its post-warm-up level with no failed delivery.
Prints `soak: PASS` (exit 0) or `soak: FAIL: <reasons>` (exit 1).

Usage:
  bench/soak.py --duration 3600          # the hour, with the release binary
  bench/soak.py --duration 240 --bin target/x86_64-unknown-linux-gnu/debug/hitl   # CI
  options: --rate 50 (creates/s)  --warmup SECONDS (10% of the run; at least 2 minutes,
  or half the run if shorter)  --sample 10
RSS rises at first while bounded caches fill (SQLite's page caches, the cache of pauses
read recently): a warm-up shorter than that, as in a short run, can fail the RSS check.
"""

import argparse
import asyncio
import base64
import collections
import hashlib
import hmac
import json
import os
import random
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
EMAIL, PASSWORD = "soak@example.com", "a long soak admin password"
TAGS = ["deploy", "prod", "staging", "finance", "crm", "db", "email", "refund"]
ACTIONS = ["Deploy build {} to production", "Refund order #{}", "Send campaign {} to 12,000 contacts",
           "Drop table tmp_{}", "Rotate the credentials of service {}", "Merge pull request #{}"]
COUNT = collections.Counter()


def error(message):
    COUNT["errors"] += 1
    if COUNT["errors"] <= 10:
        print(f"  error: {message}", flush=True)


def js(raw):
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return None


async def read_response(reader, started):
    head = await reader.readuntil(b"\r\n\r\n")
    started.append(True)
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if value:
            name, value = name.strip().lower(), value.strip()
            headers[name] = f"{headers[name]}\n{value}" if name in headers else value
    if "chunked" in headers.get("transfer-encoding", ""):
        body = b""
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readuntil(b"\r\n")
    elif "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:
        body, headers["connection"] = await reader.read(), "close"
    return int(lines[0].split(" ", 2)[1]), headers, body


class Client:
    """HTTP/1.1 to 127.0.0.1 with a pool of idle keep-alive connections."""

    def __init__(self, port, headers):
        self.port, self.headers, self.idle = port, headers, []

    async def request(self, method, path, body=None, headers=None, timeout=75):
        if body is None:
            data, kind = b"", None
        elif isinstance(body, str):
            data, kind = body.encode(), "application/x-www-form-urlencoded"
        else:
            data, kind = json.dumps(body).encode(), "application/json"
        head = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}", f"Content-Length: {len(data)}"]
        head += [f"Content-Type: {kind}"] if kind else []
        head += [f"{k}: {v}" for k, v in {**self.headers, **(headers or {})}.items()]
        raw = ("\r\n".join(head) + "\r\n\r\n").encode() + data
        while True:
            now = time.monotonic()  # actix closes a connection idle for 5 s
            for _, w, _ in [c for c in self.idle if now - c[2] > 3]:
                w.close()
            self.idle = [c for c in self.idle if now - c[2] <= 3]
            reused = bool(self.idle)
            r, w, _ = self.idle.pop() if reused else (*await asyncio.open_connection("127.0.0.1", self.port), 0)
            started = []
            try:
                w.write(raw)
                status, headers, payload = await asyncio.wait_for(read_response(r, started), timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                w.close()
                if reused and not started:
                    continue  # the server had closed this idle connection: a fresh one
                raise
            except BaseException:
                w.close()
                raise
            if headers.get("connection", "").lower() == "close":
                w.close()
            else:
                self.idle.append((r, w, time.monotonic()))
            return status, headers, payload

    def close(self):
        for _, w, _ in self.idle:
            w.close()
        self.idle = []


async def call(client, method, path, body=None, headers=None, expect=(200,)):
    """A request whose unexpected status or failure counts as an error."""
    try:
        status, headers, raw = await client.request(method, path, body, headers)
    except Exception as e:
        error(f"{method} {path}: {e!r}")
        return None, {}, None
    if status not in expect:
        error(f"{method} {path}: HTTP {status} {raw[:300]!r}")
    return status, headers, raw


class Receiver:
    """The webhook receiver: checks each signature and matches each webhook with the
    end of its pause as this script saw it (whichever of the two comes first waits)."""

    def __init__(self, secret):
        self.key = base64.b64decode(secret.removeprefix("whsec_"))
        self.ended_first, self.hook_first = {}, {}

    async def serve(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = {}
                for line in head.decode("latin-1").split("\r\n")[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0)))
                self.check(headers, body)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass  # the webhook sender closed the connection, or the run is over
        finally:
            writer.close()

    def check(self, headers, body):
        COUNT["webhooks"] += 1
        wid, ts = headers.get("webhook-id", ""), headers.get("webhook-timestamp", "0")
        mac = hmac.new(self.key, f"{wid}.{ts}.".encode() + body, hashlib.sha256).digest()
        expected = "v1," + base64.b64encode(mac).decode()
        if not any(hmac.compare_digest(s, expected) for s in headers.get("webhook-signature", "").split()):
            return error(f"webhook {wid}: bad signature {headers.get('webhook-signature')!r}")
        if not ts.isdigit() or abs(time.time() - int(ts)) > 300:
            return error(f"webhook {wid}: timestamp {ts!r} is not now")
        p = js(body) or {}
        got = (p.get("status"), p.get("comment"))
        if p.get("watchId") in self.ended_first:
            self.match(p["watchId"], self.ended_first.pop(p["watchId"]), got)
        elif p.get("watchId") in self.hook_first:
            error(f"second webhook for {p['watchId']}: {got}, first {self.hook_first[p['watchId']]}")
        else:
            self.hook_first[p.get("watchId")] = got

    def ended(self, watch_id, final):
        if watch_id in self.hook_first:
            self.match(watch_id, final, self.hook_first.pop(watch_id))
        else:
            self.ended_first[watch_id] = final

    @staticmethod
    def match(watch_id, final, got):
        if final != got:
            error(f"webhook for {watch_id} says {got}, the pause ended {final}")


def context(n):
    notes = " ".join(random.choice(["check", "the", "invoice", "rollback", "plan", "customer", "ticket"])
                     for _ in range(random.randint(30, 600)))
    return {"request": n, "environment": random.choice(["prod", "staging"]),
            "commit": f"{random.getrandbits(28):07x}",
            "amount": round(random.uniform(1, 5000), 2), "notes": notes,
            "items": [{"sku": f"SKU-{i}", "qty": random.randint(1, 9)} for i in range(random.randint(0, 8))]}


async def long_poll(ctx, watch_id, sent, timeout=None):
    """Waits for the pause to end, as an agent does; returns (status, comment)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status, _, raw = await call(ctx.agent, "GET", f"/api/pause/{watch_id}?wait=30")
        p = js(raw) or {}
        if status != 200:
            return None
        if p.get("status") != "pending":
            COUNT["long-polls"] += 1
            if p["status"] == "expired" and timeout:
                late = time.monotonic() - sent - timeout  # from sending the create
                ctx.expiry_late = max(ctx.expiry_late, late)
                if not -0.5 < late < 10:
                    error(f"{watch_id} expired {late:+.1f} s after its timeout of {timeout} s")
            return p["status"], p.get("comment")
    error(f"long-poll {watch_id}: still pending after 90 s")


async def decide(client, watch_id, verb, body, expect=(200,)):
    status, _, raw = await call(client, "POST", f"/api/pause/{watch_id}/{verb}", body, expect=expect)
    p = js(raw) or {}
    return status, (p.get("status"), p.get("comment"))


async def pause_life(ctx, n):
    r = random.random()
    plan = "expire" if r < .05 else "cancel" if r < .10 else "race" if r < .13 else "decide"
    body = {"action": random.choice(ACTIONS).format(n), "context": context(n),
            "tags": random.sample(TAGS, random.randint(0, 3))}
    timeout = random.randint(5, 20) if plan == "expire" else random.choice([None, None, 600, 3600])
    if timeout:
        body["timeoutSeconds"] = timeout
    sent = time.monotonic()
    status, _, raw = await call(ctx.agent, "POST", "/api/pause", body, {"Idempotency-Key": f"soak-{n}"}, (201,))
    if status != 201:
        return
    watch_id = js(raw)["watchId"]
    COUNT["creates"] += 1
    ctx.recent.append(watch_id)
    poll = None
    if plan == "expire" or random.random() < .5:
        poll = asyncio.ensure_future(long_poll(ctx, watch_id, sent, timeout))
    try:
        final = None
        if plan != "expire":
            await asyncio.sleep(random.uniform(.2, 3))
        if plan == "cancel":
            status, final = await decide(ctx.agent, watch_id, "cancel", {"reason": f"soak: not needed {n}"})
            wanted = ("cancelled", f"soak: not needed {n}")
        elif plan == "race":
            (s1, f1), (s2, f2) = await asyncio.gather(
                decide(ctx.reviewer, watch_id, "approve", {"decision": "approved"}, (200, 409)),
                decide(ctx.reviewer, watch_id, "approve", {"decision": "rejected"}, (200, 409)))
            if sorted([s1, s2]) != [200, 409]:
                error(f"two reviewers at once on {watch_id}: HTTP {s1} and {s2}, not one 200 and one 409")
            final = f1 if s1 == 200 else f2 if s2 == 200 else None
            wanted = final
        elif plan == "decide":
            verdict = random.choice(["approved"] * 7 + ["rejected"] * 3)
            comment = " ".join([f"soak comment {n}"] * random.randint(1, 5))
            status, final = await decide(ctx.reviewer, watch_id, "approve", {"decision": verdict, "comment": comment})
            wanted = (verdict, comment)
        seen = await poll if poll else None
        if plan == "expire":
            final = wanted = seen
            if seen and seen[0] != "expired":
                error(f"{watch_id} ended {seen}, not expired")
        if final and final != wanted:
            error(f"{plan} {watch_id}: the pause ended {final}, wanted {wanted}")
        if seen and final and seen != final:
            error(f"long-poll of {watch_id} saw {seen}, the pause ended {final}")
        if final:
            COUNT["ended"] += 1
            ctx.ends[final[0]] += 1
            ctx.receiver.ended(watch_id, final)
    finally:
        if poll and not poll.done():
            poll.cancel()


async def creator(ctx, until, rate):
    """Starts a pause's life every 1/rate s; never more than a cap at once."""
    cap, tasks = asyncio.Semaphore(max(200, int(rate * 40))), set()
    start, n = time.monotonic(), 0

    def ended(task):
        cap.release()
        tasks.discard(task)
        if not task.cancelled() and task.exception():
            error(f"pause life: {task.exception()!r}")

    while time.monotonic() < until:
        await cap.acquire()
        task = asyncio.ensure_future(pause_life(ctx, n))
        task.add_done_callback(ended)
        tasks.add(task)
        n += 1
        delay = start + n / rate - time.monotonic()
        if delay < -1:
            start -= delay  # behind: no burst to catch up (the creates/s says so)
        await asyncio.sleep(max(0, delay))
    return tasks


async def every(until, period, step):
    while time.monotonic() < until:
        await step()
        await asyncio.sleep(period)


def memory_kib(pid):
    """The process's RSS and its anonymous part, in KiB, from a walk of its page
    tables, not /proc/PID/status's lagging counts (bench/README.md, "Memory")."""
    with open(f"/proc/{pid}/smaps_rollup") as f:
        return {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in f) if k in ("Rss", "Anonymous")}


async def take_sample(ctx):
    """The period's figures: RSS is the highest reading since the last sample (and now)."""
    if ctx.proc.poll() is not None:
        raise RuntimeError(f"the server exited with code {ctx.proc.returncode}")
    kib = memory_kib(ctx.proc.pid)
    readings, ctx.readings = ctx.readings + [kib], []
    fds = len(os.listdir(f"/proc/{ctx.proc.pid}/fd"))
    _, _, raw = await call(ctx.web, "GET", "/metrics")
    text = (raw or b"").decode()
    gauge = lambda name: sum(float(v) for v in re.findall(rf'^{name}{{channel="webhook"}} (\S+)$', text, re.M))
    return SimpleNamespace(t=time.monotonic() - ctx.t0, rss=max(r["Rss"] for r in readings) / 1024,
                           rss_low=min(r["Rss"] for r in readings) / 1024, anon=kib["Anonymous"] / 1024,
                           fds=fds, pending=gauge("hitl_outbox_pending"), failed=gauge("hitl_outbox_failed"))


async def reader(ctx, until):
    """Reads the server's memory every second, for take_sample."""
    while time.monotonic() < until:
        await asyncio.sleep(1)
        if ctx.proc.poll() is None:
            ctx.readings.append(memory_kib(ctx.proc.pid))


async def sampler(ctx, until, period):
    at = ctx.t0
    while at <= until + 0.1:
        await asyncio.sleep(max(0, at - time.monotonic()))
        s = await take_sample(ctx)
        ctx.samples.append(s)
        print(f"{s.t:6.0f} s  RSS {s.rss:6.1f} MiB (low {s.rss_low:5.1f}, anon {s.anon:5.1f})  fds {s.fds:4}  "
              f"outbox {s.pending:.0f} pending {s.failed:.0f} failed  creates {COUNT['creates']}  "
              f"ended {COUNT['ended']}  webhooks {COUNT['webhooks']}  "
              f"long-polls {COUNT['long-polls']}  pages {COUNT['pages']}  lists {COUNT['lists']}  "
              f"errors {COUNT['errors']}", flush=True)
        at += period


def hitl(binary, data_dir, *args, stdin=None):
    run = subprocess.run([binary, "--data-dir", data_dir, *args], input=stdin, capture_output=True,
                         text=True, env=clean_env())
    if run.returncode:
        raise RuntimeError(f"hitl {' '.join(args)}: exit {run.returncode}: {run.stderr.strip()}")
    return run.stdout


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith("HITL_")}


async def start(a, binary, data_dir, server):
    ctx = SimpleNamespace(recent=collections.deque(maxlen=200), ends=collections.Counter(), samples=[], readings=[],
                          expiry_late=0.0)
    receiving = await asyncio.start_server(lambda r, w: ctx.receiver.serve(r, w), "127.0.0.1", 0)
    hook = f"http://127.0.0.1:{receiving.sockets[0].getsockname()[1]}/hook"
    agent = js(hitl(binary, data_dir, "key", "create", "--name", "soak-agent", "--webhook-url", hook, "--json"))
    hitl(binary, data_dir, "user", "add", EMAIL, "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    reviewer = js(hitl(binary, data_dir, "key", "create", "--name", "soak-reviewer", "--user", EMAIL, "--json"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = open(Path(data_dir) / "server.log", "w")
    ctx.proc = server["proc"] = subprocess.Popen(
        [binary, "--data-dir", data_dir, "--log", "warn", "serve", "--listen", f"127.0.0.1:{port}"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=clean_env())
    ctx.receiver, ctx.receiving = Receiver(agent["webhookSecret"]), receiving
    ctx.agent = Client(port, {"Authorization": f"Bearer {agent['key']}"})
    ctx.reviewer = Client(port, {"Authorization": f"Bearer {reviewer['key']}"})
    ctx.web = Client(port, {})
    for _ in range(300):
        try:
            if (await ctx.web.request("GET", "/healthz", timeout=2))[0] == 200:
                break
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
        if ctx.proc.poll() is not None:
            raise RuntimeError(f"the server exited: {(Path(data_dir) / 'server.log').read_text()[-2000:]}")
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError("the server did not answer /healthz within 30 s")
    status, headers, _ = await ctx.web.request("POST", "/signin", urlencode({"email": EMAIL, "password": PASSWORD}))
    cookies = [c.split(";")[0] for c in headers.get("set-cookie", "").split("\n") if c]
    if not cookies:
        raise RuntimeError(f"sign-in failed: HTTP {status}")
    ctx.web.headers["Cookie"] = "; ".join(cookies)
    return ctx


async def soak(a, binary, data_dir, server):
    ctx = await start(a, binary, data_dir, server)
    print(f"soak: {binary} for {a.duration} s at {a.rate} creates/s, warm-up {a.warmup} s, "
          f"a sample every {a.sample} s", flush=True)
    ctx.t0 = time.monotonic()
    until = ctx.t0 + a.duration
    pages = ["/", "/history", "/history?status=approved", "/review/{}", "/audit", "/history?tag=prod&q=refund"]
    lists = ["status=pending", "status=approved&limit=20", "tag=prod&limit=100", "status=expired", "status=cancelled"]

    async def page():
        path = pages[COUNT["page-turn"] % len(pages)]
        COUNT["page-turn"] += 1
        if "{}" not in path or ctx.recent:
            if (await call(ctx.web, "GET", path.format(ctx.recent and random.choice(ctx.recent))))[0] == 200:
                COUNT["pages"] += 1

    async def listing():
        query = lists[COUNT["list-turn"] % len(lists)]
        COUNT["list-turn"] += 1
        wanted, path = re.match(r"status=(\w+)", query), f"/api/pause?{query}"
        for _ in range(2):  # a page, and the next one
            status, _, raw = await call(ctx.reviewer, "GET", path)
            COUNT["lists"] += 1
            p = js(raw) or {}
            if status == 200 and wanted and any(i["status"] != wanted[1] for i in p["items"]):
                error(f"GET {path}: an item of another status")
            if status != 200 or not p.get("nextCursor"):
                break
            path = f"/api/pause?{query}&cursor={quote(p['nextCursor'])}"

    jobs = [asyncio.ensure_future(j) for j in (creator(ctx, until, a.rate), sampler(ctx, until, a.sample),
                                               reader(ctx, until), every(until, 0.5, page), every(until, 1, listing))]
    try:
        done, _ = await asyncio.wait(jobs, return_when=asyncio.FIRST_EXCEPTION)
        for job in done:
            job.result()  # a dead server ends the run here
        lives = jobs[0].result()
        load_seconds = time.monotonic() - ctx.t0
        if lives and (await asyncio.wait(lives, timeout=120))[1]:
            error(f"{len(lives)} pauses still going 120 s after the load")
        drain_start = time.monotonic()
        while True:  # the outbox drains, every webhook arrives
            end = await take_sample(ctx)
            if (end.pending == 0 and not ctx.receiver.ended_first) or time.monotonic() - drain_start > 40:
                break
            await asyncio.sleep(0.5)
    finally:
        for job in jobs:
            job.cancel()
        for client in (ctx.agent, ctx.reviewer, ctx.web):
            client.close()
        ctx.receiving.close()
    return judge(a, ctx, end, load_seconds, time.monotonic() - drain_start, Path(data_dir) / "server.log")


def judge(a, ctx, end, load_seconds, drained, log_path):
    fail = []
    post = [s for s in ctx.samples if s.t >= a.warmup]
    actual, cpu = COUNT["creates"] / load_seconds, sum(os.times()[:2]) / (time.monotonic() - ctx.t0)
    print(f"load: {load_seconds:.0f} s, {COUNT['creates']} creates = {actual:.1f}/s of {a.rate}/s requested"
          f"{'' if actual >= 0.9 * a.rate else '  (THIS MACHINE DID NOT KEEP UP)'}; this script used "
          f"{100 * cpu:.0f}% of a core")
    late = f", expiry at most {ctx.expiry_late:.1f} s after its timeout" if ctx.ends["expired"] else ""
    print(f"ended: {COUNT['ended']} ({', '.join(f'{k} {v}' for k, v in sorted(ctx.ends.items()))}); "
          f"long-polls answered {COUNT['long-polls']}{late}; pages {COUNT['pages']}, list calls {COUNT['lists']}")
    if len(post) >= 2:
        first, low, high = post[0].rss, min(s.rss for s in post), max(s.rss for s in post)
        ts, ys = [s.t for s in post], [s.rss for s in post]
        mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
        slope = sum((t - mt) * (y - my) for t, y in zip(ts, ys)) / sum((t - mt) ** 2 for t in ts) * 3600
        print(f"RSS after warm-up ({len(post)} samples): first {first:.1f} MiB, min {low:.1f}, max {high:.1f} "
              f"({100 * (low - first) / first:+.1f}% / {100 * (high - first) / first:+.1f}%), "
              f"slope {slope:+.1f} MiB/h; anon {post[0].anon:.1f} -> {end.anon:.1f} MiB; "
              f"{end.rss:.1f} MiB after the drain; fds {post[0].fds} -> {end.fds}")
        if high > 1.1 * first or low < 0.9 * first:
            fail.append(f"RSS not within 10% of {first:.1f} MiB after warm-up ({low:.1f} to {high:.1f})")
        if end.pending > max(0, post[0].pending):
            fail.append(f"outbox grew: {end.pending:.0f} pending, {post[0].pending:.0f} after warm-up")
    else:
        fail.append(f"only {len(post)} samples after the warm-up: run longer than --warmup + 2 * --sample")
    most_failed = max([s.failed for s in ctx.samples] + [end.failed])
    print(f"outbox: {end.pending:.0f} pending and {end.failed:.0f} failed after a {drained:.0f} s drain "
          f"(most failed at once {most_failed:.0f}); webhooks {COUNT['webhooks']} for {COUNT['ended']} ended pauses, "
          f"{len(ctx.receiver.ended_first)} missing, {len(ctx.receiver.hook_first)} for no ended pause")
    if most_failed:
        fail.append(f"{most_failed:.0f} failed deliveries")
    if ctx.receiver.ended_first or ctx.receiver.hook_first:
        fail.append(f"{len(ctx.receiver.ended_first)} webhooks missing, {len(ctx.receiver.hook_first)} unmatched")
    if COUNT["webhooks"] != COUNT["ended"]:
        fail.append(f"{COUNT['webhooks']} webhooks for {COUNT['ended']} ended pauses")
    log = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in log_path.read_text(errors="replace").splitlines()]
    bad = [line for line in log if re.search(r"\b(ERROR|WARN)\b", line)]
    db = sum(f.stat().st_size for f in log_path.parent.glob("hitl.db*")) / 2**20
    print(f"database: {db:.0f} MiB; server log: {len(bad)} warnings or errors"
          + "".join(f"\n  {line[:300]}" for line in bad[:5]))
    if any(re.search(r"\bERROR\b", line) for line in bad):
        fail.append("the server logged errors")
    if COUNT["errors"]:
        fail.append(f"{COUNT['errors']} errors")
    print("soak: PASS" if not fail else "soak: FAIL: " + "; ".join(fail), flush=True)
    return not fail


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="examples:" + __doc__.split("Usage:")[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default="target/x86_64-unknown-linux-gnu/release/hitl",
                   help="the hitl binary (relative: to the current directory, else to the repository)")
    p.add_argument("--duration", type=float, default=3600, help="seconds of load")
    p.add_argument("--warmup", type=float,
                   help="default: 10%% of --duration; at least 120 s, or half of a shorter run")
    p.add_argument("--rate", type=float, default=50, help="creates per second")
    p.add_argument("--sample", type=float, default=10, help="seconds between RSS samples")
    a = p.parse_args()
    # Caches (SQLite's pages, pauses read) fill for the first couple of minutes.
    a.warmup = max(min(120, a.duration / 2), a.duration / 10) if a.warmup is None else a.warmup
    binary = Path(a.bin)
    binary = str(binary if binary.is_absolute() or binary.exists() else ROOT / binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"soak: no executable {binary} (cargo build --release first, or --bin)")
    resource.setrlimit(resource.RLIMIT_NOFILE, (resource.getrlimit(resource.RLIMIT_NOFILE)[1],) * 2)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # as Ctrl-C: stop, clean up
    data_dir, server, ok = tempfile.mkdtemp(prefix="hitl-soak-"), {}, False
    try:
        ok = asyncio.run(soak(a, binary, data_dir, server))
    except KeyboardInterrupt:
        print("soak: interrupted")
    except RuntimeError as e:
        print(f"soak: FAIL: {e}")
    finally:
        if server.get("proc"):
            server["proc"].terminate()
            try:
                server["proc"].wait(15)
            except subprocess.TimeoutExpired:
                server["proc"].kill()
                server["proc"].wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
