#!/usr/bin/env python3
"""Decision -> long-poll wake latency, and the server memory held by N concurrent
long-polls. Standard library only; speaks plain HTTP/1.1 to 127.0.0.1."""

import argparse
import asyncio
import json
import statistics
import time


async def http(host, port, method, path, key, body=None):
    """One request on its own connection; returns (status, parsed JSON body)."""
    reader, writer = await asyncio.open_connection(host, port)
    data = json.dumps(body).encode() if body is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    header, _, payload = raw.partition(b"\r\n\r\n")
    status = int(header.split(b" ", 2)[1])
    return status, json.loads(payload) if payload else None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def create(host, port, agent):
    status, body = await http(host, port, "POST", "/api/pause", agent, {"action": "bench wake"})
    assert status == 201, (status, body)
    return body["watchId"]


async def wake_latency(host, port, agent, reviewer, samples):
    """Time from sending the decision to the waiting agent having its answer."""
    latencies = []
    for _ in range(samples):
        watch_id = await create(host, port, agent)
        arrived = asyncio.get_running_loop().create_future()

        async def waiter():
            status, body = await http(host, port, "GET", f"/api/pause/{watch_id}?wait=30", agent)
            arrived.set_result((time.perf_counter(), body["status"]))

        task = asyncio.create_task(waiter())
        await asyncio.sleep(0.02)  # let the long-poll register
        sent = time.perf_counter()
        status, _ = await http(host, port, "POST", f"/api/pause/{watch_id}/approve", reviewer,
                               {"decision": "approved"})
        assert status == 200
        got, final = await arrived
        assert final == "approved", final
        await task
        latencies.append((got - sent) * 1000)
    latencies.sort()
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1], latencies[-1]


async def many_waiters(host, port, agent, reviewer, pid, count, pauses):
    watch_ids = [await create(host, port, agent) for _ in range(pauses)]
    await asyncio.sleep(1)
    before = rss_kib(pid)
    connections = []
    for i in range(count):
        reader, writer = await asyncio.open_connection(host, port)
        path = f"/api/pause/{watch_ids[i % pauses]}?wait=60"
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {agent}\r\nConnection: close\r\n\r\n".encode())
        connections.append((reader, writer))
        if i % 500 == 499:
            await asyncio.gather(*(w.drain() for _, w in connections[-500:]))
    await asyncio.sleep(3)  # every request read, authenticated and parked
    during = rss_kib(pid)
    start = time.perf_counter()
    for watch_id in watch_ids:
        status, _ = await http(host, port, "POST", f"/api/pause/{watch_id}/approve", reviewer, {"decision": "approved"})
        assert status == 200
    answers = await asyncio.gather(*(r.read() for r, _ in connections))
    elapsed = (time.perf_counter() - start) * 1000
    approved = sum(1 for a in answers if b'"status":"approved"' in a)
    for _, w in connections:
        w.close()
    return before, during, approved, elapsed


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--reviewer", required=True)
    p.add_argument("--pid", type=int, required=True)
    p.add_argument("--samples", type=int, default=300)
    p.add_argument("--waiters", type=int, default=10000)
    a = p.parse_args()
    host = "127.0.0.1"
    p50, p99, worst = await wake_latency(host, a.port, a.agent, a.reviewer, a.samples)
    print(f"wake latency (decision sent -> waiter answered, n={a.samples}): p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {worst:.2f} ms")
    before, during, approved, elapsed = await many_waiters(host, a.port, a.agent, a.reviewer, a.pid, a.waiters, 100)
    per = (during - before) * 1024 / a.waiters
    print(f"{a.waiters} concurrent long-polls: RSS {before / 1024:.1f} MiB -> {during / 1024:.1f} MiB "
          f"(+{(during - before) / 1024:.1f} MiB, {per / 1024:.1f} KiB per waiting request)")
    print(f"deciding their 100 pauses answered {approved}/{a.waiters} waiters in {elapsed:.0f} ms")


asyncio.run(main())
