"""Latency from a worker publishing a job event to websocket clients receiving it.

Ours: the real path – `webapp.events.publish` (channel layer over Redis) -> daphne ->
JobConsumer -> N websocket clients, each logged in and watching the same job.
Peer: the floor under it – raw Redis pub/sub to N subscribers, in the same script.

    .venv/bin/python bench/bench_websocket.py --clients 50 --events 200
    .venv/bin/python bench/bench_websocket.py --clients 500 --events 100   # issue 6 load

Prints a table and one JSON line (p50/p95 in ms, ratios ours/peer).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from localstack import percentile, setup_django, start_daphne  # noqa: E402


def make_job_and_cookie():
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    from webapp.models import Job

    user, _ = get_user_model().objects.get_or_create(username="bench")
    job = Job.objects.create(user=user, kind="bench", status="running")
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return job, session.session_key


async def ours(
    ports: list[int], job_id, cookie: str, clients: int, events: int, rate: float
) -> list[float]:
    from channels.layers import get_channel_layer
    from websockets.asyncio.client import connect

    from webapp.events import group_message, job_group

    latencies: list[float] = []
    headers = {"Cookie": f"sessionid={cookie}"}
    sockets = []
    for i in range(clients):  # one by one, spread over the web processes
        port = ports[i % len(ports)]
        url = f"ws://127.0.0.1:{port}/ws/jobs/{job_id}/"
        ws = await connect(
            url, origin=f"http://127.0.0.1:{port}", additional_headers=headers, max_queue=None
        )
        assert json.loads(await ws.recv())["type"] == "snapshot"
        sockets.append(ws)

    async def listen(ws):
        for _ in range(events):
            msg = json.loads(await ws.recv())
            latencies.append(time.time() - msg["sent"])

    listeners = [asyncio.create_task(listen(ws)) for ws in sockets]
    layer = get_channel_layer()
    for i in range(events):
        event = {"type": "progress", "version": i + 1, "progress": i / events, "sent": time.time()}
        await layer.group_send(job_group(job_id), group_message(event))
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(asyncio.gather(*listeners), timeout=120)
    for ws in sockets:
        await ws.close()
    return latencies


async def peer(clients: int, events: int, rate: float) -> list[float]:
    import redis.asyncio as aioredis

    url = os.environ["REDIS_URL"]
    channel = f"bench-peer-{os.getpid()}"
    latencies: list[float] = []
    subs = []
    for _ in range(clients):
        client = aioredis.Redis.from_url(url)
        pubsub = client.pubsub()
        await pubsub.subscribe(channel)
        await pubsub.get_message(timeout=1)  # the subscribe confirmation
        subs.append((client, pubsub))

    async def listen(pubsub):
        got = 0
        while got < events:
            msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5)
            if msg:
                latencies.append(time.time() - json.loads(msg["data"])["sent"])
                got += 1

    listeners = [asyncio.create_task(listen(p)) for _, p in subs]
    publisher = aioredis.Redis.from_url(url)
    for i in range(events):
        await publisher.publish(
            channel, json.dumps({"type": "progress", "version": i + 1, "sent": time.time()})
        )
        await asyncio.sleep(1 / rate)
    await asyncio.wait_for(asyncio.gather(*listeners), timeout=120)
    for client, pubsub in subs:
        await pubsub.aclose()
        await client.aclose()
    await publisher.aclose()
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--rate", type=float, default=20.0, help="events per second")
    parser.add_argument("--web", type=int, default=1, help="daphne processes (as behind a proxy)")
    parser.add_argument(
        "--max-p95-ms", type=float, default=None, help="exit 1 when our p95 latency is above this"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = setup_django(Path(tmp), redis_db=12)
        job, cookie = make_job_and_cookie()
        servers = [start_daphne(env) for _ in range(args.web)]
        try:
            ports = [port for _, port in servers]
            ms_ours = [
                x * 1000
                for x in asyncio.run(
                    ours(ports, job.id, cookie, args.clients, args.events, args.rate)
                )
            ]
        finally:
            for daphne, _ in servers:
                daphne.terminate()
                daphne.wait(10)
        ms_peer = [x * 1000 for x in asyncio.run(peer(args.clients, args.events, args.rate))]
    rows = {}
    for name, ms in (("studio websocket", ms_ours), ("raw Redis pub/sub", ms_peer)):
        rows[name] = {
            "p50": percentile(ms, 50),
            "p95": percentile(ms, 95),
            "mean": statistics.fmean(ms),
            "n": len(ms),
        }
    print(
        f"{args.clients} clients on {args.web} web process(es), "
        f"{args.events} events at {args.rate}/s"
    )
    print(f"{'path':22} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8} {'samples':>8}")
    for name, r in rows.items():
        print(f"{name:22} {r['p50']:8.2f} {r['p95']:8.2f} {r['mean']:8.2f} {r['n']:8d}")
    ours_r, peer_r = rows["studio websocket"], rows["raw Redis pub/sub"]
    print(
        json.dumps(
            {
                "clients": args.clients,
                "web_processes": args.web,
                "events": args.events,
                "ours_p50_ms": round(ours_r["p50"], 2),
                "ours_p95_ms": round(ours_r["p95"], 2),
                "peer_p50_ms": round(peer_r["p50"], 2),
                "peer_p95_ms": round(peer_r["p95"], 2),
                "ratio_p50": round(ours_r["p50"] / peer_r["p50"], 2),
                "ratio_p95": round(ours_r["p95"] / peer_r["p95"], 2),
            }
        )
    )
    if args.max_p95_ms is not None and ours_r["p95"] > args.max_p95_ms:
        sys.exit(f"p95 {ours_r['p95']:.1f} ms is above {args.max_p95_ms} ms")


if __name__ == "__main__":
    main()
