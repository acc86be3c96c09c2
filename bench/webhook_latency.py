#!/usr/bin/env python3
"""Decision -> webhook received latency on loopback: a receiver on 127.0.0.1 notes when
each webhook arrives; the time runs from sending the decision. Standard library only."""

import argparse
import asyncio
import json
import statistics
import time


async def http(port, method, path, key, body=None):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode() if body is not None else b""
    writer.write((f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
                  f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data)
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, payload = raw.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(payload) if payload else None


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--agent", required=True)
    p.add_argument("--reviewer", required=True)
    p.add_argument("--samples", type=int, default=300)
    a = p.parse_args()
    arrivals = {}

    async def receive(reader, writer):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next((int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")), 0)
        body = await reader.readexactly(length)
        arrived = time.perf_counter()
        writer.write(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()
        future = arrivals.get(json.loads(body)["watchId"])
        if future and not future.done():
            future.set_result(arrived)

    server = await asyncio.start_server(receive, "127.0.0.1", 0)
    hook = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    latencies = []
    for _ in range(a.samples):
        status, pause = await http(a.port, "POST", "/api/pause", a.agent, {"action": "bench webhook", "webhookUrl": hook})
        assert status == 201, (status, pause)
        arrivals[pause["watchId"]] = asyncio.get_running_loop().create_future()
        sent = time.perf_counter()
        status, _ = await http(a.port, "POST", f"/api/pause/{pause['watchId']}/approve", a.reviewer, {"decision": "approved"})
        assert status == 200
        arrived = await asyncio.wait_for(arrivals[pause["watchId"]], 30)
        latencies.append((arrived - sent) * 1000)
    latencies.sort()
    p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
    print(f"webhook latency (decision sent -> webhook received, n={a.samples}): "
          f"p50 {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms")
    server.close()


asyncio.run(main())
