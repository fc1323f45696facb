"""Spool and upload of checkpoint parts: S3 outages, crash leftovers, retries."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import boto3
import pyarrow.parquet as pq
import pytest
import s3fs
from collector_helpers import T0, FakeClock, counts, free_port, make_config, until
from moto.server import ThreadedMotoServer
from twitch_server import privmsg

from vieweratlas import lake as keys
from vieweratlas.storage import Lake
from vieweratlas_collector.app import Collector
from vieweratlas_collector.backoff import Backoff
from vieweratlas_collector.presence import HourBucket, hour_of
from vieweratlas_collector.snapshot import Spool, Uploader

H = hour_of(T0)


def bucket(hour: int, pairs: dict[tuple[int, int], int]) -> HourBucket:
    result = HourBucket(hour)
    for (channel, user), n in pairs.items():
        for i in range(n):
            result.add(channel, f"c{channel}", user, f"u{user}", hour * 3600 + 60 + i)
    return result


def rows(lake: Lake, hour: int) -> dict[tuple[int, int], int]:
    """Summed counts over every file of the hour (as the presence step reads them)."""
    start = datetime.fromtimestamp(hour * 3600, UTC)
    found: dict[tuple[int, int], int] = {}
    for key in lake.list(keys.raw_live_hour_prefix(start, start.hour)):
        for r in lake.read_parquet(key).to_pylist():
            pair = (r["channel_id"], r["user_id"])
            found[pair] = found.get(pair, 0) + r["message_count"]
    return found


def test_parts_are_uploaded_once_each_even_after_a_crash(tmp_path, data_root):
    lake = Lake(data_root)
    spool = Spool(tmp_path / "spool", "shard-0-of-1")
    # A killed process left three parts over two hours, and a half-written temp file.
    spool.put(H - 2, bucket(H - 2, {(1, 10): 2}).table(), "r1-00000001")
    spool.put(H - 1, bucket(H - 1, {(1, 10): 1, (2, 11): 4}).table(), "r1-00000001")
    spool.put(H - 1, bucket(H - 1, {(1, 10): 2, (3, 12): 1}).table(), "r1-00000002")
    (spool.directory / "2026-11-22T03~shard-0-of-1~dead.tmp").write_bytes(b"partial")
    assert [p.part for p in spool.pending()] == ["r1-00000001"] * 2 + ["r1-00000002"]
    uploader = Uploader(lake, spool, Backoff())
    assert uploader.drain() == 3
    assert rows(lake, H - 2) == {(1, 10): 2}
    assert rows(lake, H - 1) == {(1, 10): 3, (2, 11): 4, (3, 12): 1}  # increments add up
    assert spool.pending() == []

    # Killed after an upload but before the part was deleted: the retry rewrites the same key.
    again = spool.put(H - 1, bucket(H - 1, {(1, 10): 2, (3, 12): 1}).table(), "r1-00000002")
    assert uploader.drain() == 1 and not again.exists()
    assert rows(lake, H - 1) == {(1, 10): 3, (2, 11): 4, (3, 12): 1}  # never counted twice
    start = datetime.fromtimestamp((H - 1) * 3600, UTC)
    assert lake.list(keys.raw_live_hour_prefix(start, start.hour)) == [
        keys.raw_live_part(start, start.hour, "shard-0-of-1", f"r1-0000000{i}") for i in (1, 2)
    ]


def test_collector_uploads_the_backlog_at_start(tmp_path, twitch, data_root):
    config = make_config(tmp_path, twitch, data_root, ["a_chan"])
    spool = Spool(config.spool_dir, config.collector_id)
    spool.put(H - 3, bucket(H - 3, {(7, 70): 1}).table(), "old-00000001")
    collector = Collector(config, clock=FakeClock(T0 + 10))
    assert asyncio.run(collector.run(once_for=1.0, install_signals=False)) == 0
    assert rows(collector.lake, H - 3) == {(7, 70): 1}


@pytest.fixture
def own_moto():
    """A moto server of this test's own, so stopping it disturbs no other test."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"

    def bucket_up():
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(
            Bucket="outage"
        )

    bucket_up()
    yield server, endpoint, bucket_up
    server.stop()


def test_s3_outage_loses_no_hour_and_uploads_each_exactly_once(tmp_path, twitch, own_moto):
    server, endpoint, bucket_up = own_moto
    fs = s3fs.S3FileSystem(
        endpoint_url=endpoint,
        skip_instance_cache=True,
        config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 1, "read_timeout": 2},
    )
    lake = Lake("s3://outage/live", fs=fs)
    clock = FakeClock(T0 + 3000)
    config = make_config(tmp_path, twitch, "s3://outage/live", ["a_chan"])
    collector = Collector(config, clock=clock, lake=lake)
    per_hour, spooled = {}, []

    async def scenario():
        task = asyncio.create_task(collector.run(install_signals=False))
        await until(lambda: "a_chan" in twitch.joined())
        await asyncio.to_thread(server.stop)  # S3 goes away
        for i in range(3):  # three hours while S3 is down: keep collecting and spooling
            user = f"user{i}"
            twitch.broadcast([privmsg("a_chan", user, 100 + i)] * (i + 1))
            await until(lambda i=i: collector.messages_this_hour == i + 1)
            per_hour[collector.hour] = {("a_chan", user): i + 1}
            await until(lambda: not collector.pending)  # checkpointed into the spool
            clock.advance(3600)
        await until(lambda: collector.uploader.failures >= 2)  # it retried, and failed again
        assert collector.uploader.last_uploaded_key is None
        spooled.extend(collector.spool.pending())
        assert len(spooled) == 3
        await asyncio.to_thread(server.start)  # S3 is back (empty: re-create the bucket)
        await asyncio.to_thread(bucket_up)
        started = time.monotonic()
        await until(lambda: not collector.spool.pending(), timeout=30)
        backlog_s = time.monotonic() - started
        collector.stop.set()
        return await task, backlog_s

    code, backlog_s = asyncio.run(scenario())
    assert code == 0
    assert backlog_s < 20
    found = lake.list(keys.RAW_LIVE.prefix)
    for hour, want in per_hour.items():
        start = datetime.fromtimestamp(hour * 3600, UTC)
        assert counts(lake, start, collector.id) == want
    assert found == sorted(collector.uploader.key(item) for item in spooled)  # once each
    assert pq.read_metadata(fs.open(lake.path(found[0]))).num_rows == 1
