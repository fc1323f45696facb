"""Channel list loading (lake and static file), sharding, the shared list format."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pytest

from vieweratlas.channel_list import (
    Channel,
    ChannelListError,
    parse_channel_list,
    render_channel_list,
)
from vieweratlas.lake import CHANNELS_CURRENT
from vieweratlas.storage import Lake
from vieweratlas_collector.channels import ChannelSource, Shard, parse_static

LOGINS = [f"chan_{i:04d}" for i in range(5000)]


def listing(logins) -> bytes:
    channels = [Channel(rank=i + 1, login=x, id=str(1000 + i)) for i, x in enumerate(logins)]
    return render_channel_list(channels, datetime(2026, 11, 22, 4, tzinfo=UTC))


def test_channel_list_round_trip_and_validation():
    data = listing(["alpha", "beta"])
    parsed = parse_channel_list(data)
    assert parsed.logins == ["alpha", "beta"]
    assert parsed.source == "helix" and parsed.generated_at.tzinfo is not None
    hostile = (
        b'{"generated_at": "2026-11-22T04:00:00+00:00", "source": "helix", "channels": ['
        b'{"id": "1", "login": "ok", "rank": 1},'
        b'{"id": "2", "login": "#evil\\r\\nJOIN", "rank": 2},'
        b'{"id": "x3", "login": "fine", "rank": 3}, {"id": "4", "login": "ok", "rank": 4}, 5]}'
    )
    parsed = parse_channel_list(hostile)
    assert parsed.logins == ["ok"] and parsed.rejected == 3
    with pytest.raises(ChannelListError):
        parse_channel_list(b"[1, 2]")
    with pytest.raises(ChannelListError):
        parse_channel_list(b"{not json")
    with pytest.raises(ValueError):
        render_channel_list([Channel(rank=1, login="Bad Login", id="1")], datetime.now(UTC))


def test_shards_are_complete_disjoint_and_balanced():
    shards = [Shard(i, 3) for i in range(3)]
    parts = [set(s.select(LOGINS)) for s in shards]
    assert set().union(*parts) == set(LOGINS)
    assert sum(len(p) for p in parts) == len(LOGINS)
    assert all(1400 < len(p) < 1934 for p in parts)
    assert Shard.parse("2/3") == Shard(2, 3)
    for bad in ("3/3", "1", "-1/2", "a/b"):
        with pytest.raises(ValueError):
            Shard.parse(bad)


def test_shard_is_stable_across_processes():
    """A different PYTHONHASHSEED must not move channels between replicas."""
    code = (
        "from vieweratlas_collector.channels import Shard;"
        "print(sorted(Shard(1, 4).select([f'chan_{i:04d}' for i in range(5000)]))[:20])"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**__import__("os").environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1
    assert str(sorted(Shard(1, 4).select(LOGINS))[:20]) == outputs.pop().strip()


def test_static_file_formats(tmp_path):
    text = tmp_path / "channels.txt"
    text.write_text("# top channels\nAlpha\nbeta  # comment\nnot valid!\nbeta\n")
    assert parse_static(text.read_bytes()) == ["alpha", "beta"]
    source = ChannelSource(Shard(), static=text)
    assert source.read() == ["alpha", "beta"]
    as_json = tmp_path / "channels.json"
    as_json.write_bytes(listing(["gamma"]))
    assert ChannelSource(Shard(), static=as_json).read() == ["gamma"]


def test_lake_list_keeps_last_good_when_missing_or_broken(data_root):
    lake = Lake(data_root)
    source = ChannelSource(Shard(0, 2), lake=lake)
    assert source.read() is None and "FileNotFound" in source.last_error
    lake.write_bytes(CHANNELS_CURRENT, listing(LOGINS[:100]))
    first = source.read()
    assert first == Shard(0, 2).select(LOGINS[:100]) and source.last_error is None
    lake.write_bytes(CHANNELS_CURRENT, b'{"channels": "nope"}')
    assert source.read() == first and "ChannelListError" in source.last_error
    lake.delete([CHANNELS_CURRENT])
    assert source.read() == first
    lake.write_bytes(CHANNELS_CURRENT, listing(LOGINS[:10]))
    assert source.read() == Shard(0, 2).select(LOGINS[:10])
