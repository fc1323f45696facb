"""Helpers shared by the collector tests: a fake clock, a collector config, polling."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

from vieweratlas import lake as keys
from vieweratlas.schema import PRESENCE
from vieweratlas.storage import Lake
from vieweratlas_collector.app import CollectorConfig
from vieweratlas_collector.connection import IrcConfig


class FakeClock:
    """An injectable Unix clock that tests move forward by hand."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


HOUR = datetime(2026, 11, 22, 4, tzinfo=UTC)
T0 = HOUR.timestamp()


def make_config(tmp_path, twitch, data_root, channels, **overrides) -> CollectorConfig:
    channels_file = tmp_path / "channels.txt"
    channels_file.write_text("\n".join(channels) + "\n")
    settings = {
        "data_root": data_root,
        "spool_dir": tmp_path / "spool",
        "channels_file": channels_file,
        "refresh_seconds": 0.2,
        "heartbeat_seconds": 0.2,
        "tick_seconds": 0.02,
        "join_limit": twitch.join_limit,
        "join_window": twitch.join_window,
        "upload_backoff_base": 0.05,
        "upload_backoff_max": 0.5,
        "irc": IrcConfig(
            host="127.0.0.1", port=twitch.port, tls=False, backoff_base=0.05, backoff_max=0.5
        ),
    }
    return CollectorConfig(**(settings | overrides))


async def until(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


def counts(lake: Lake, hour: datetime, collector_id: str) -> dict[tuple[str, str], int]:
    table = lake.read_parquet(keys.raw_live_snapshot(hour, hour.hour, collector_id))
    assert table.schema.equals(PRESENCE, check_metadata=True)
    rows = table.to_pylist()
    for row in rows:
        assert row["source"] == "live" and row["content_id"] is None
        assert hour <= row["first_seen"] <= row["last_seen"] < hour.replace(hour=hour.hour + 1)
    return {(r["channel_login"], r["user_login"]): r["message_count"] for r in rows}
