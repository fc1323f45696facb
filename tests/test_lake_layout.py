"""Keys are partitioned by date (and hour) and never built from unsafe strings."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

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


def test_presence_manifest_is_hidden_from_athena_but_dated_for_retention():
    key = lake.daily_presence_manifest("2026-01-02")
    assert key == "curated/daily_presence/date=2026-01-02/_manifest.json"
    assert key.rsplit("/", 1)[0] == lake.daily_presence("2026-01-02").rsplit("/", 1)[0]
    assert lake.partition_date(key) == date(2026, 1, 2)
    assert lake.daily_presence_legacy_manifest("2026-01-02").endswith(
        "/date=2026-01-02/manifest.json"
    )


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


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-21T20:00:00Z",
        "2026-11-21T21:00:00+01:00",
        "2026-11-21T20:00:00",
        "2026-11-21 20:00",
    ],
)
def test_parse_utc(text):
    parsed = lake.parse_utc(text)
    assert parsed == datetime(2026, 11, 21, 20, tzinfo=UTC) and parsed.tzinfo is UTC


@pytest.mark.parametrize("bad", [None, 5, "", "yesterday", "2026-13-01T00:00:00Z"])
def test_parse_utc_rejects(bad):
    with pytest.raises(ValueError):
        lake.parse_utc(bad)
    assert lake.maybe_utc(bad) is None


def test_to_utc_gives_a_plain_datetime_from_pendulum():
    import pendulum

    when = pendulum.datetime(2026, 11, 21, 15, 30, tz="Europe/Paris")
    plain = lake.to_utc(when)
    assert type(plain) is datetime and plain.tzinfo is UTC
    assert plain == datetime(2026, 11, 21, 14, 30, tzinfo=UTC)
    assert lake.to_utc(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=UTC)  # naive = UTC
    east = datetime(2026, 1, 1, 5, tzinfo=timezone(timedelta(hours=5)))
    assert lake.to_utc(east) == datetime(2026, 1, 1, tzinfo=UTC)
