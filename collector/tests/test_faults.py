"""Faults the collector must survive: unanswered JOINs, dead sockets, RECONNECT, late lines."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest
from collector_helpers import HOUR, T0, FakeClock, counts, make_config, until
from twitch_server import privmsg

from vieweratlas.settings import SettingsError
from vieweratlas_collector.app import Collector
from vieweratlas_collector.channels import parse_static
from vieweratlas_collector.logs import Throttle
from vieweratlas_collector.ratelimit import JoinLimiter
from vieweratlas_collector.settings import CollectorSettings, load


def run_until(collector: Collector, scenario):
    """Run the collector while ``scenario()`` (a coroutine function) runs; stop; return both."""

    async def main():
        task = asyncio.create_task(collector.run(install_signals=False))
        try:
            result = await scenario()
        finally:
            collector.stop.set()
        return await task, result

    return asyncio.run(main())


def test_unanswered_joins_are_retried_logged_and_reported(tmp_path, twitch, caplog):
    twitch.ignore_joins = {"slow_chan": 2, "dead_chan": 10**6}
    config = make_config(
        tmp_path, twitch, (tmp_path / "lake").as_uri(), ["a_chan", "slow_chan", "dead_chan"],
        join_timeout=0.2, unjoinable_after=3,
    )  # fmt: skip
    collector = Collector(config, clock=FakeClock(T0 + 60))

    async def scenario():
        await until(lambda: {"a_chan", "slow_chan"} <= twitch.joined())
        await until(lambda: collector.pool.unjoinable == ["dead_chan"])
        await collector.write_heartbeat()
        return json.loads((tmp_path / "spool" / "heartbeat.json").read_text())

    with caplog.at_level(logging.WARNING):
        code, beat = run_until(collector, scenario)
    assert code == 0
    assert twitch.join_log.count("slow_chan") == 3  # two unanswered, then joined
    assert twitch.join_log.count("dead_chan") >= 4 and twitch.violations == 0
    assert beat["channels_unjoinable"] == 1 and beat["unjoinable"] == ["dead_chan"]
    assert beat["channels_joined"] == 2 and beat["channels_wanted"] == 3
    retried = [r for r in caplog.records if r.getMessage() == "JOIN unanswered; retrying"]
    assert {r.channel for r in retried} == {"slow_chan", "dead_chan"}
    assert any(r.getMessage() == "channels not joined" for r in caplog.records)


@pytest.mark.parametrize(
    ("silence_limit", "pong_timeout", "low", "high", "pong_late"),
    [
        # The PONG deadline alone: PING at 4 s of quiet, no answer 0.5 s later, replaced
        # (~4.6 s) well before the 8 s silence limit could fire.
        (8.0, 0.5, 3.5, 7.0, True),
        # The silence limit alone: the PING's 30 s deadline never comes into play.
        (1.0, 30.0, 0.8, 2.5, False),
    ],
    ids=["pong-deadline", "silence-limit"],
)
def test_a_blackholed_connection_is_replaced_within_the_deadline(
    tmp_path, twitch, caplog, silence_limit, pong_timeout, low, high, pong_late
):
    config = make_config(
        tmp_path, twitch, (tmp_path / "lake").as_uri(), ["a_chan"],
        silence_limit=silence_limit, pong_timeout=pong_timeout,
    )  # fmt: skip
    collector = Collector(config, clock=FakeClock(T0 + 60))

    async def scenario():
        await until(lambda: "a_chan" in twitch.joined())
        twitch.blackhole_all()  # the socket stays open; nothing comes back, PINGs included
        started = time.monotonic()
        await until(lambda: twitch.connections_total == 2 and len(twitch.clients) >= 1)
        await until(
            lambda: any("a_chan" in c.channels and not c.blackholed for c in twitch.clients)
        )
        detected = time.monotonic() - started
        twitch.broadcast([privmsg("a_chan", "alice", 1)])
        await until(lambda: collector.messages_total == 1)
        return detected

    with caplog.at_level(logging.WARNING):
        code, detected = run_until(collector, scenario)
    assert code == 0
    assert low < detected < high
    gave_up = [r for r in caplog.records if r.getMessage() == "server silent; reconnecting"]
    assert [r.pong_late for r in gave_up] == [pong_late]


def test_reconnect_opens_the_replacement_first_and_counts_overlap_once(tmp_path, twitch):
    channels = [f"chan_{i}" for i in range(6)]
    late = channels[3:]  # the replacement cannot join these until the test lets it
    config = make_config(tmp_path, twitch, (tmp_path / "lake").as_uri(), channels,
                         join_timeout=0.3)  # fmt: skip
    collector = Collector(config, clock=FakeClock(T0 + 60))

    async def scenario():
        await until(lambda: set(channels) <= twitch.joined() and len(twitch.clients) == 1)
        old = twitch.clients[0]
        twitch.ignore_joins = dict.fromkeys(late, 10**6)
        twitch.reconnect_all(close=False)  # the old socket keeps delivering during the handover
        await until(lambda: len(twitch.clients) == 2)
        new = next(c for c in twitch.clients if c is not old)
        await until(lambda: set(channels[:3]) <= new.channels)
        # The same messages (same ids) reach both sockets; only the old one reads the late three.
        early = [privmsg(c, "alice", 1) for c in channels]
        twitch.broadcast(early)
        await until(lambda: collector.messages_total == 6)
        # Two late channels join the replacement while the third keeps the handover open;
        # Twitch then delivers there, on the new socket, messages the old one already had.
        twitch.ignore_joins = {late[2]: 10**6}
        await until(lambda: set(late[:2]) <= new.channels)
        assert old in twitch.clients and late[2] not in new.channels  # still handing over
        twitch.send_to(new, [early[3], early[4], privmsg(late[0], "carol", 3)])
        await until(lambda: collector.messages_total >= 7)  # carol came after the repeats
        twitch.ignore_joins = {}
        await until(lambda: old not in twitch.clients)  # the collector closed the old one
        await until(lambda: set(channels) <= new.channels)
        twitch.broadcast([privmsg(c, "bob", 2) for c in channels])
        await until(lambda: collector.messages_total >= 13)
        await asyncio.sleep(0.2)
        return collector.messages_total

    code, total = run_until(collector, scenario)
    assert code == 0 and total == 13
    assert counts(collector.lake, HOUR, collector.id) == {
        **{(c, "alice"): 1 for c in channels},
        **{(c, "bob"): 1 for c in channels},
        (late[0], "carol"): 1,
    }


def test_after_all_connections_drop_the_busiest_channels_rejoin_first(tmp_path):
    from twitch_server import FakeTwitch

    twitch = FakeTwitch(join_limit=5, join_window=0.25).start()
    try:
        ranked = [f"rank_{i:02d}" for i in range(30)]  # the list is in rank order
        config = make_config(tmp_path, twitch, (tmp_path / "lake").as_uri(), ranked,
                             per_connection=10)  # fmt: skip
        collector = Collector(config, clock=FakeClock(T0 + 60))

        async def scenario():
            await until(lambda: set(ranked) <= twitch.joined(), timeout=30)
            before, dropped = len(twitch.join_log), list(twitch.clients)
            twitch.drop_all()
            # The server forgets a dropped client asynchronously: wait for that first.
            await until(lambda: all(c not in dropped for c in twitch.clients))
            await until(lambda: set(ranked) <= twitch.joined(), timeout=30)
            return twitch.join_log[before:]

        code, rejoined = run_until(collector, scenario)
    finally:
        twitch.stop()
    assert code == 0 and twitch.violations == 0
    order = [ranked.index(c) for c in rejoined]
    assert set(range(10)) <= set(order[:13])  # the top 10 are back among the first 13 JOINs
    assert order[-5:] == sorted(order[-5:]) and min(order[-5:]) >= 20


def test_limiter_serves_waiters_by_priority():
    async def scenario():
        limiter = JoinLimiter(limit=1, window=0.05, margin=0.0)
        await limiter.acquire()
        served = []

        async def take(priority):
            await limiter.acquire(priority)
            served.append(priority)

        tasks = [asyncio.create_task(take(p)) for p in (5, 3, 9, 1, 7)]
        await asyncio.gather(*tasks)
        return served

    assert asyncio.run(scenario()) == [1, 3, 5, 7, 9]


def test_hour_comes_from_tmi_sent_ts_unless_absent_or_implausible(tmp_path, twitch):
    clock = FakeClock(T0 + 3600 + 5)  # 05:00:05 by our clock
    collector = Collector(make_config(tmp_path, twitch, (tmp_path / "lake").as_uri(), ["a_chan"]),
                          clock=clock)  # fmt: skip
    late = str(int((T0 + 3599) * 1000))  # sent 04:59:59, delivered after the boundary

    async def scenario():
        await until(lambda: "a_chan" in twitch.joined())
        twitch.broadcast(
            [
                privmsg("a_chan", "late", 1, **{"tmi-sent-ts": late}),
                privmsg("a_chan", "absent", 2, **{"tmi-sent-ts": ""}),
                privmsg("a_chan", "absurd", 3, **{"tmi-sent-ts": "99999999999999"}),
                privmsg("a_chan", "ontime", 4, **{"tmi-sent-ts": str(int((T0 + 3601) * 1000))}),
            ]
        )
        await until(lambda: collector.messages_total == 4)

    code, _ = run_until(collector, scenario)
    assert code == 0
    assert counts(collector.lake, HOUR, collector.id) == {("a_chan", "late"): 1}
    assert counts(collector.lake, HOUR.replace(hour=5), collector.id) == {
        ("a_chan", "absent"): 1,
        ("a_chan", "absurd"): 1,
        ("a_chan", "ontime"): 1,
    }


def test_a_complete_line_over_1_mib_is_skipped_without_dropping_the_socket(tmp_path, twitch):
    collector = Collector(make_config(tmp_path, twitch, (tmp_path / "lake").as_uri(), ["a_chan"]),
                          clock=FakeClock(T0 + 60))  # fmt: skip

    async def scenario():
        await until(lambda: "a_chan" in twitch.joined())
        channel, line = privmsg("a_chan", "huge", 9, "x" * (1 << 20))
        twitch.broadcast([(channel, line), privmsg("a_chan", "alice", 1)])
        await until(lambda: collector.messages_total == 1)
        return collector.pool.counter("malformed"), collector.pool.counter("sessions")

    code, (malformed, sessions) = run_until(collector, scenario)
    assert code == 0 and malformed == 1 and sessions == 1


def test_settings_name_the_variable_and_flags_win(monkeypatch, tmp_path):
    env = {"COLLECTOR_JOIN_LIMIT": "15", "COLLECTOR_SILENCE_LIMIT": "30"}
    settings, once_for = load(["--join-limit", "12", "--once-for", "5"], env)
    assert settings.join_limit == 12 and settings.silence_limit == 30 and once_for == 5
    assert settings.pong_timeout == CollectorSettings().pong_timeout  # the one default
    with pytest.raises(SettingsError, match="COLLECTOR_PONG_TIMEOUT"):
        load([], {"COLLECTOR_PONG_TIMEOUT": "-1"})
    with pytest.raises(SettingsError, match="COLLECTOR_IRC_TLS"):
        load([], {"COLLECTOR_IRC_TLS": "maybe"})
    with pytest.raises(SettingsError, match="TWITCH_IRC_TOKEN"):
        load([], {"TWITCH_IRC_TOKEN": "abc"})
    with pytest.raises(SettingsError, match="VIEWERATLAS_DATA_ROOT"):
        load([], {"VIEWERATLAS_DATA_ROOT": "ftp://nope"})


def test_test_clock_runs_fast_from_its_start():
    settings = CollectorSettings(test_clock="2026-11-22T04:59:59Z/3.6")  # an hour in 3.6 s
    clock = settings.clock()
    first = clock()
    time.sleep(0.2)
    assert T0 + 3599 <= first < T0 + 3600.5
    assert clock() - first >= 190  # 0.2 s real = 200 s of test time


@pytest.mark.parametrize(
    "start", ["2026-11-22T04:59:59Z", "2026-11-22T05:59:59+01:00", "2026-11-22T04:59:59"]
)
def test_test_clock_start_is_utc_whatever_the_local_zone(monkeypatch, start):
    monkeypatch.setenv("TZ", "America/New_York")  # a naive START still means UTC
    time.tzset()
    try:
        settings, _ = load([], {"COLLECTOR_TEST_CLOCK": f"{start}/3600"})
        assert T0 + 3599 <= settings.clock()() < T0 + 3600
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("raw", ["yesterday/10", "2026-11-22T04:59:59Z", "2026-11-22T04:59Z/0"])
def test_a_bad_test_clock_names_the_variable(raw):
    with pytest.raises(SettingsError, match="COLLECTOR_TEST_CLOCK"):
        load([], {"COLLECTOR_TEST_CLOCK": raw})


def test_static_channel_list_logs_rejected_entries(caplog):
    data = json.dumps(
        {
            "version": 1,
            "generated_at": "2026-11-22T04:00:00+00:00",
            "source": "helix",
            "channels": [
                {"id": "1", "login": "good", "rank": 1},
                {"id": "2", "login": "BAD!", "rank": 2},
            ],
        }
    ).encode()
    with caplog.at_level(logging.WARNING):
        assert parse_static(data) == ["good"]
    assert any(r.getMessage() == "invalid channel entries skipped" for r in caplog.records)


def test_throttle_caps_a_flood():
    throttle = Throttle(budget=3, window=10.0)
    allowed = [throttle.allow(0.1 * i) for i in range(50)]
    assert allowed.count(True) == 3 and throttle.suppressed == 47
    assert throttle.allow(11.0)  # a new window


def test_rejoin_model_uses_the_real_limiter_pace():
    from vieweratlas_collector.rejoin_model import join_times, time_to_cover

    times = join_times(41, 20, 10.0)
    assert times[19] == 0 and times[20] == pytest.approx(11.0) and times[40] == pytest.approx(22.0)
    by_rank = time_to_cover(5000, 1, 1.0, ordered=True)
    assert by_rank < time_to_cover(5000, 1, 1.0, ordered=False) / 2
