"""Helpers shared by the collector tests: a fake clock, a collector config, polling."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta

from vieweratlas import lake as keys
from vieweratlas.schema import PRESENCE
from vieweratlas.storage import Lake
from vieweratlas_collector.settings import CollectorSettings


class FakeClock:
    """An injectable Unix clock that tests move forward by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


HOUR = datetime(2026, 11, 22, 4, tzinfo=UTC)
T0 = HOUR.timestamp()


def make_config(tmp_path, twitch, data_root, channels, **overrides) -> CollectorSettings:
    channels_file = tmp_path / "channels.txt"
    channels_file.write_text("\n".join(channels) + "\n")
    settings = {
        "data_root": data_root,
        "spool_dir": tmp_path / "spool",
        "channels_file": channels_file,
        "refresh_seconds": 0.2,
        "heartbeat_seconds": 0.2,
        "tick_seconds": 0.02,
        "checkpoint_seconds": 0.3,
        "join_limit": twitch.join_limit,
        "join_window": twitch.join_window,
        "backoff_base": 0.05,
        "backoff_max": 0.5,
        "irc_host": "127.0.0.1",
        "irc_port": twitch.port,
        "irc_tls": False,
    }
    return CollectorSettings(**(settings | overrides))


async def until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


def parts(lake: Lake, hour: datetime, collector_id: str) -> list[str]:
    """The part files ``collector_id`` wrote for ``hour``."""
    prefix = keys.raw_live_hour_prefix(hour, hour.hour)
    return [k for k in lake.list(prefix) if k.rsplit("/", 1)[-1].startswith(collector_id + ".")]


def counts(lake: Lake, hour: datetime, collector_id: str) -> dict[tuple[str, str], int]:
    """Messages per (channel, login) in the hour, summed over every part (as presence does)."""
    found: dict[tuple[str, str], int] = {}
    for key in parts(lake, hour, collector_id):
        table = lake.read_parquet(key)
        assert table.schema.equals(PRESENCE, check_metadata=True)
        for row in table.to_pylist():
            assert row["source"] == "live" and row["content_id"] is None
            assert hour <= row["first_seen"] <= row["last_seen"] < hour + timedelta(hours=1)
            pair = (row["channel_login"], row["user_login"])
            found[pair] = found.get(pair, 0) + row["message_count"]
    return found
