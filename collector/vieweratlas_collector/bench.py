"""Benchmark: IRC parse throughput and memory at 5,000 channels.

``python -m vieweratlas_collector.bench [--lines N] [--pairs N] [--channels N]``

1. parse: Twitch-shaped tagged PRIVMSG lines through ``irc.parse`` + ``irc.chatter``;
2. ingest: the same lines through a connection's line handler into the hour
   bucket (what the collector does per line, minus the socket read);
   socket: the same lines sent over a loopback socket to a real connection;
3. memory: an hour with ``--pairs`` unique (channel, chatter) pairs over
   ``--channels`` channels, three messages per pair at random moments, fed
   through the collector's checkpoint cycle: ``--windows`` checkpoints an hour
   (80 = the default 45 s), each encoding and spooling its part to a
   temporary directory. ``--windows 1`` is the whole hour held in memory at
   once (the worst case, as before checkpoints). RSS is read from
   ``/proc/self/statm`` (current) and ``VmHWM`` (peak), with every module the
   collector imports already loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from vieweratlas_collector.app import Collector
from vieweratlas_collector.connection import Connection
from vieweratlas_collector.irc import chatter, parse
from vieweratlas_collector.presence import HourBucket, hour_of
from vieweratlas_collector.ratelimit import JoinLimiter
from vieweratlas_collector.settings import CollectorSettings
from vieweratlas_collector.snapshot import Spool


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def peak_mb() -> float:
    """This process's peak RSS (``VmHWM``; unlike ``getrusage`` it is not inherited at fork)."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def make_lines(n: int, channels: int, users: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)  # noqa: S311 - synthetic data
    lines = []
    for i in range(n):
        c, u = rng.randrange(channels), rng.randrange(users)
        tags = (
            f"badge-info=subscriber/{i % 40};badges=subscriber/12,premium/1;client-nonce=abc{i};"
            f"color=#1E90FF;display-name=User{u};emotes=;first-msg=0;flags=;id={uuid.UUID(int=i)};"
            f"mod=0;returning-chatter=0;room-id={100000 + c};subscriber=1;"
            f"tmi-sent-ts={1763784000000 + i};turbo=0;user-id={5000000 + u};user-type="
        )
        login = f"user{u}"
        lines.append(
            f"@{tags} :{login}!{login}@{login}.tmi.twitch.tv PRIVMSG #chan{c} "
            ":this is a fairly typical chat message\\s with a few words LUL"
        )
    return lines


def bench_parse(lines: list[str]) -> float:
    start = time.perf_counter()
    for line in lines:
        chatter(parse(line))
    return len(lines) / (time.perf_counter() - start)


def bench_ingest(lines: list[str], channels: int) -> float:
    """Lines/s through a connection's line handler into the real collector's ``on_chat``."""
    with tempfile.TemporaryDirectory() as tmp:
        channels_file = Path(tmp) / "channels.txt"
        channels_file.write_text("\n".join(f"chan{c}" for c in range(channels)))
        settings = CollectorSettings(
            data_root=Path(tmp).as_uri(), spool_dir=Path(tmp) / "spool",
            channels_file=channels_file, sent_ts_tolerance=10**10,
        )  # fmt: skip
        collector = Collector(settings)
        conn = Connection(0, settings, JoinLimiter(), collector.on_chat, lambda *_: None)
        conn.channels.update(f"chan{c}" for c in range(channels))
        start = time.perf_counter()
        for line in lines:
            conn._handle(None, line)  # chat lines never touch the session
        elapsed = time.perf_counter() - start
    if collector.messages_total != len(lines):
        raise RuntimeError(f"only {collector.messages_total} of {len(lines)} lines were counted")
    return len(lines) / elapsed


async def _socket_run(lines: list[str], channels: int) -> float:
    payload = ("\r\n".join(lines) + "\r\n").encode()
    welcome = b":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!\r\n"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(welcome + payload)
        await writer.drain()
        await reader.read()  # until the client goes away

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    counted = 0

    def on_chat(_chat) -> None:
        nonlocal counted
        counted += 1

    config = CollectorSettings(irc_host="127.0.0.1", irc_port=port, irc_tls=False)
    conn = Connection(0, config, JoinLimiter(), on_chat, lambda *_: None)
    conn.channels.update(f"chan{c}" for c in range(channels))
    task = asyncio.create_task(conn.run())
    start = time.perf_counter()
    while counted < len(lines):
        await asyncio.sleep(0.005)
    elapsed = time.perf_counter() - start
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    server.close()
    return len(lines) / elapsed


def bench_socket(lines: list[str], channels: int) -> float:
    """Lines/s through a real loopback socket: read, split, decode, parse, count."""
    return asyncio.run(_socket_run(lines, channels))


def bench_memory(pairs: int, channels: int, windows: int) -> dict[str, float]:
    """Peak RSS over an hour of ``pairs`` pairs, checkpointed ``windows`` times."""
    base = rss_mb()
    hour = hour_of(time.time())
    rng = random.Random(7)  # noqa: S311 - synthetic data
    users = max(pairs // 3, 1)  # chatters appear in ~3 channels on average
    # Three messages per pair on average, spread uniformly over the windows: a universe of
    # pairs / (1 - e**-3) candidate pairs gives ``pairs`` distinct ones over the hour.
    universe = int(pairs / (1 - math.exp(-3)))
    per_window = 3 * universe // windows
    planned = rss_mb()
    largest = encode_s = 0.0
    parts_mb = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp), "bench")
        for w in range(windows):
            bucket = HourBucket(hour)
            t = hour * 3600 + (w + 0.5) * 3600 / windows
            for _ in range(per_window):
                p = rng.randrange(universe)
                c, u = p % channels, (p * 2654435761) % users
                bucket.add(100000 + c, f"chan{c}", 5000000 + u, f"user{u}", t)
            largest = max(largest, len(bucket))
            start = time.perf_counter()
            path = spool.put(hour, bucket.table(), f"bench-{w:08d}")
            encode_s = max(encode_s, time.perf_counter() - start)
            parts_mb += path.stat().st_size / 2**20
            path.unlink()
            del bucket
    return {
        "pairs": pairs,
        "messages": per_window * windows,
        "windows": windows,
        "largest_part_pairs": int(largest),
        "rss_base_mb": round(base, 1),
        "rss_ready_mb": round(planned, 1),
        "slowest_part_encode_s": round(encode_s, 2),
        "parts_total_mb": round(parts_mb, 1),
        "rss_peak_mb": round(peak_mb(), 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--pairs", type=int, default=500_000)
    parser.add_argument("--channels", type=int, default=5_000)
    parser.add_argument("--windows", type=int, default=80, help="checkpoints per hour")
    parser.add_argument("--part", choices=["all", "speed", "memory"], default="all")
    args = parser.parse_args(argv)
    if args.part == "memory":
        print(json.dumps(bench_memory(args.pairs, args.channels, args.windows)))
        return
    lines = make_lines(args.lines, args.channels, users=args.pairs // 3)
    report = {
        "python": sys.version.split()[0],
        "lines": len(lines),
        "parse_lines_per_s": round(bench_parse(lines)),
        "ingest_lines_per_s": round(bench_ingest(lines, args.channels)),
        "socket_lines_per_s": round(bench_socket(lines, args.channels)),
    }
    if args.part == "all":  # a fresh process, so the peak RSS is the bucket's alone
        memory = subprocess.run(
            [sys.executable, "-m", "vieweratlas_collector.bench", "--part", "memory",
             "--pairs", str(args.pairs), "--channels", str(args.channels),
             "--windows", str(args.windows)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        report["channels"] = args.channels
        report |= json.loads(memory.stdout)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
