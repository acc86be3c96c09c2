#!/usr/bin/env python3
"""Decision -> long-poll wake latency, and the server memory held by N concurrent
long-polls. Standard library (and wrk, for the creates) only; speaks plain HTTP/1.1 to
127.0.0.1. In order:
  1. wake latency on an otherwise idle server (--samples decisions, one at a time), with
     the decision's own response time beside it;
  2. N long-polls (--waiters) held on 100 pauses: the server's RSS before and with them;
  3. wake latency again while those N are still held and creates flow (wrk -t1 -c16
     with bench/create.lua, stopped after), twice: first at a steady --create-rate
     (6,800/s, the load of the issue's first measurement), then as fast as the server
     takes them; the create rate wrk achieved is printed;
  4. the 100 held pauses decided: every held long-poll must be answered "approved".
A held long-poll lasts at most 60 s (the server's cap on ?wait), so step 3 stops taking
samples 48 s after the first of them was opened (each half gets half of what is left),
and says how many it took.
Exits 1 if a request fails or a held long-poll is not answered."""

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import resource
import signal
import socket
import statistics
import sys
import threading
import time

HELD_FOR = 60  # the server holds ?wait=N for at most 60 s
MARGIN = 12  # seconds kept, of those 60, for deciding the held pauses and reading the answers


def rss_kib(pid):
    # Page by page, not /proc/PID/status's lagging VmRSS (bench/README.md, "Memory").
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                return int(line.split()[1])
    return 0


def create(host, port, agent, action="bench wake"):
    status, body = request(host, port, "POST", "/api/pause", agent, {"action": action})
    assert status == 201, (status, body)
    return body["watchId"]


def request(host, port, method, path, key, body=None):
    """One request on its own connection, with a blocking socket; returns (status,
    parsed JSON body). Every request of this script but the held long-polls (an asyncio
    loop in another process keeps those). For the timed ones: a thread blocked in
    recv() runs the moment the answer arrives, where an asyncio loop would first finish
    whatever else it was doing (the decision's own answer), and a Python loop's own work
    would be counted in the latency."""
    data = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    chunks = []
    with socket.create_connection((host, port)) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(head.encode() + data)
        while chunk := s.recv(65536):
            chunks.append(chunk)
    header, _, payload = b"".join(chunks).partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    return status, json.loads(payload) if payload else None


def wake_latency(host, port, agent, reviewer, samples, settle=0.02, deadline=None):
    """Time from sending the decision to the waiting agent having its answer, and to the
    decision's own answer; returns both sorted, in ms (fewer than `samples` if
    `deadline` came first). The waiter and the decider are two threads with blocking
    sockets. The two are close: the waiter is woken by the commit, before the decision
    is answered, so what remains is the decision's own path to disk."""
    latencies, decided = [], []
    for _ in range(samples):
        if deadline is not None and time.monotonic() > deadline:
            break
        watch_id = create(host, port, agent)
        arrived = []

        def waiter():
            status, body = request(host, port, "GET", f"/api/pause/{watch_id}?wait=30", agent)
            arrived.append((time.perf_counter(), status, body))

        thread = threading.Thread(target=waiter)
        thread.start()
        time.sleep(settle)  # let the long-poll register
        sent = time.perf_counter()
        status, _ = request(host, port, "POST", f"/api/pause/{watch_id}/approve", reviewer,
                            {"decision": "approved"})
        decided.append((time.perf_counter() - sent) * 1000)
        assert status == 200, status
        thread.join(35)
        assert arrived, "the waiter had no answer within 35 s"
        got, status, body = arrived[0]
        assert status == 200 and body["status"] == "approved", (status, body)
        latencies.append((got - sent) * 1000)
    return sorted(latencies), sorted(decided)


def summary(latencies, target=" (target p99 <= 5 ms)"):
    if not latencies:
        return "no samples"
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    return (f"p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms"
            f"{target}")


def holder(host, port, agent, watch_ids, count, pipe):
    """In a process of its own, so that the samples are not taken by a client busy with
    thousands of sockets: parks `count` long-polls on `watch_ids`, says so (with when the
    first was opened), waits for the word, then reads every answer and reports how many
    said "approved"."""

    async def run():
        connections = []
        first = time.monotonic()  # CLOCK_MONOTONIC: the same clock in every process
        for i in range(count):
            reader, writer = await asyncio.open_connection(host, port)
            path = f"/api/pause/{watch_ids[i % len(watch_ids)]}?wait={HELD_FOR}"
            writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {agent}\r\n"
                         f"Connection: close\r\n\r\n".encode())
            connections.append((reader, writer))
            if i % 500 == 499:
                await asyncio.gather(*(w.drain() for _, w in connections[-500:]))
        await asyncio.gather(*(w.drain() for _, w in connections[-500:]))
        pipe.send(first)
        await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
        answers = await asyncio.wait_for(asyncio.gather(*(r.read() for r, _ in connections)), 90)
        for _, w in connections:
            w.close()
        pipe.send(sum(1 for a in answers if b'"status":"approved"' in a))

    asyncio.run(run())


async def hold(host, port, agent, pid, count, pauses):
    """Parks `count` long-polls on `pauses` pauses (in another process); returns the
    pauses, that process and its pipe, the RSS before and with them, and when the first
    was opened (time.monotonic())."""
    watch_ids = [create(host, port, agent, "bench held") for _ in range(pauses)]
    await asyncio.sleep(1)
    before = rss_kib(pid)
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe()
    process = spawn.Process(target=holder, args=(host, port, agent, watch_ids, count, theirs))
    process.start()
    loop = asyncio.get_running_loop()
    first = await loop.run_in_executor(None, ours.recv)
    await asyncio.sleep(3)  # every request read, authenticated and parked
    during = rss_kib(pid)
    return watch_ids, (process, ours), before, during, first


async def release(host, port, reviewer, watch_ids, held):
    """Decides the held pauses; returns (waiters answered "approved", ms until the last answer)."""
    process, pipe = held
    start = time.perf_counter()
    pipe.send("decided")
    for watch_id in watch_ids:
        status, _ = request(host, port, "POST", f"/api/pause/{watch_id}/approve", reviewer, {"decision": "approved"})
        assert status == 200, status
    approved = await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    elapsed = (time.perf_counter() - start) * 1000
    process.join(10)
    return approved, elapsed


async def start_creates(url, agent, seconds, rate=None):
    """wrk -t1 -c16 creating pauses for at most `seconds`, at `rate` a second or as fast
    as it can; stopped by stop_creates()."""
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "create.lua")
    env = {**os.environ, "HITL_BENCH_KEY": agent}
    if rate is not None:
        env["HITL_BENCH_RATE"] = str(rate)
    return await asyncio.create_subprocess_exec(
        "wrk", "-t1", "-c16", f"-d{int(seconds)}s", "-s", script, f"{url}/api/pause",
        env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT, start_new_session=True)


async def stop_creates(wrk):
    """Stops wrk (SIGINT: it prints its totals) and returns (creates/s, its output)."""
    if wrk.returncode is None:
        wrk.send_signal(signal.SIGINT)
    try:
        out, _ = await asyncio.wait_for(wrk.communicate(), 15)
    except asyncio.TimeoutError:
        wrk.kill()
        out, _ = await wrk.communicate()
    text = out.decode(errors="replace")
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    return (float(rate[1]) if rate else None), text


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--reviewer", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--waiters", type=int, default=10000)
    p.add_argument("--create-rate", type=int, default=6800,
                   help="creates per second in the steady half of step 3")
    a = p.parse_args()
    host, url = "127.0.0.1", f"http://127.0.0.1:{a.port}"
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if a.samples < 1 or a.waiters < 1 or a.create_rate < 1:
        sys.exit("longpoll: --samples, --waiters and --create-rate must be at least 1")
    if hard < a.waiters + 100:
        sys.exit(f"longpoll: {a.waiters} waiters need {a.waiters + 100} file descriptors, the limit is {hard}")

    loop = asyncio.get_running_loop()
    idle, idle_decided = await loop.run_in_executor(
        None, lambda: wake_latency(host, a.port, a.agent, a.reviewer, a.samples))
    print(f"wake latency, idle (decision sent -> waiter answered, n={len(idle)}): {summary(idle)}", flush=True)
    print(f"  the decision's own answer, idle: {summary(idle_decided, '')}", flush=True)

    watch_ids, held, before, during, first = await hold(host, a.port, a.agent, a.pid, a.waiters, 100)
    per = (during - before) * 1024 / a.waiters
    print(f"{a.waiters} concurrent long-polls: RSS {before / 1024:.1f} MiB -> {during / 1024:.1f} MiB "
          f"(+{(during - before) / 1024:.1f} MiB, {per / 1024:.1f} KiB per waiting request; "
          f"target <= 100 MB for 10,000)", flush=True)

    deadline = first + HELD_FOR - MARGIN
    failed = []
    steady = f"at a steady {a.create_rate:,}/s"
    for load, rate, until in ((steady, a.create_rate, time.monotonic() + (deadline - time.monotonic()) / 2),
                              ("as fast as they go", None, deadline)):
        wrk = await start_creates(url, a.agent, until - time.monotonic() + 30, rate)
        try:
            await asyncio.sleep(1)  # wrk connected and creating
            loaded, loaded_decided = await loop.run_in_executor(
                None, lambda: wake_latency(host, a.port, a.agent, a.reviewer, a.samples,
                                           settle=0.05, deadline=until))
            still = wrk.returncode is None
        finally:
            achieved, wrk_out = await stop_creates(wrk)
        errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", wrk_out)
        shown = f"~{achieved:,.0f} creates/s" if achieved is not None else "? creates/s"
        cut = f", stopped at {until - first:.0f} s of holding" if len(loaded) < a.samples else ""
        print(f"wake latency with {a.waiters} long-polls held and creates flowing {load} ({shown}, "
              f"n={len(loaded)}{cut}): {summary(loaded)}", flush=True)
        print(f"  the decision's own answer, loaded {load}: {summary(loaded_decided, '')}", flush=True)
        if achieved is None or not still:
            failed.append("wrk did not create for the whole measurement:\n" + wrk_out)
        if errors:
            failed.append(f"wrk's creates had {errors[1]} non-2xx responses:\n" + wrk_out)

    approved, elapsed = await release(host, a.port, a.reviewer, watch_ids, held)
    print(f"deciding their 100 pauses answered {approved}/{a.waiters} waiters in {elapsed:.0f} ms", flush=True)
    if approved != a.waiters:
        failed.append(f"{a.waiters - approved} held long-polls were not answered \"approved\"")
    for reason in failed:
        print(f"longpoll: ERROR: {reason}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
