"""Keys are partitioned by date (and hour) and never built from unsafe strings."""

from __future__ import annotations

from datetime import date

import pytest

from vieweratlas import lake


def test_partitioned_keys():
    assert lake.raw_live_snapshot("2026-11-20", 7, "shard-0-of-2") == (
        "raw/live/date=2026-11-20/hour=07/shard-0-of-2.parquet"
    )
    assert lake.vod_presence(date(2026, 11, 20), "123") == (
        "curated/vod_presence/date=2026-11-20/123.parquet"
    )
    assert lake.partition_date(lake.daily_presence("2026-01-02")) == date(2026, 1, 2)
    assert lake.partition_date("channels/current.json") is None


@pytest.mark.parametrize(
    "bad", ["../x", "a/b", "UPPER", "", "a" * 26, "<script>", "naïve", "x y", "a\nb"]
)
def test_unsafe_logins_rejected(bad):
    with pytest.raises(lake.UnsafeKeyError):
        lake.safe_login(bad)


@pytest.mark.parametrize("bad", ["12a", "../1", "", "1" * 21, "-1"])
def test_unsafe_ids_rejected(bad):
    with pytest.raises(lake.UnsafeKeyError):
        lake.vod_presence("2026-11-20", bad)


def test_hour_range_checked():
    with pytest.raises(ValueError):
        lake.raw_live_snapshot("2026-11-20", 24, "c")
