"""Collector watchdog: a collector that stays partly unjoined is an alert, naming channels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vieweratlas import lake as layout
from vieweratlas import watchdog

NOW = datetime(2026, 11, 22, 10, 25, tzinfo=UTC)


def beat(lake, joined: int, wanted: int, fully_joined_minutes_ago: float | None) -> None:
    fully = None
    if fully_joined_minutes_ago is not None:
        fully = (NOW - timedelta(minutes=fully_joined_minutes_ago)).isoformat()
    lake.write_json(
        layout.heartbeat("shard-0-of-1"),
        {
            "collector_id": "shard-0-of-1",
            "shard": "0/1",
            "written_at": NOW.isoformat(),
            "started_at": (NOW - timedelta(hours=5)).isoformat(),
            "fully_joined_at": fully,
            "channels_wanted": wanted,
            "channels_parked": 2,
            "channels_joined": joined,
            "channels_unjoinable": wanted - 2 - joined,
            "unjoinable": ["busiest_chan", "x<script>"][: wanted - 2 - joined],
        },
    )
    hour = NOW - timedelta(hours=1)
    lake.write_bytes(layout.raw_live_part(hour.date(), hour.hour, "shard-0-of-1", "r-1"), b"PAR1")


def test_joined_share_below_threshold_for_too_long_is_named(lake):
    beat(lake, joined=56, wanted=60, fully_joined_minutes_ago=45)
    result = watchdog.check(lake, NOW, stale_minutes=10, min_joined_share=0.99)
    assert not result.ok
    (problem,) = result.problems
    assert "joined only 56 of 58 channels" in problem and "busiest_chan" in problem
    assert "<script>" not in problem  # names from the heartbeat are made safe


def test_a_rejoin_in_progress_or_a_high_share_is_not_an_alert(lake):
    beat(lake, joined=56, wanted=60, fully_joined_minutes_ago=5)  # within the join grace
    assert watchdog.check(lake, NOW, stale_minutes=10, min_joined_share=0.99).ok
    beat(lake, joined=56, wanted=60, fully_joined_minutes_ago=300)
    assert watchdog.check(lake, NOW, stale_minutes=10, min_joined_share=0.9).ok  # 97 % >= 90 %


def test_join_grace_scales_with_the_channel_count():
    assert watchdog.join_grace_minutes(0) == 10
    assert 55 < watchdog.join_grace_minutes(5000) < 70  # 5,000 JOINs at 20 / 11 s, +25 %
