"""The Helix client against a fake Twitch over real HTTP: tokens, pages, limits, retries."""

from __future__ import annotations

import logging
import time

import pytest
from helix_server import CLIENT_ID, CLIENT_SECRET, FakeTwitch, stream, video
from tests.testkit import free_port

from vieweratlas.helix import HelixClient, HelixConfig, HelixError, Secret


class FakeClock:
    """Records sleeps instead of sleeping; the real clock unless ``now`` is fixed."""

    def __init__(self, now: float | None = None) -> None:
        self.sleeps: list[float] = []
        self.now = now

    def time(self) -> float:
        return time.time() if self.now is None else self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)


def client_for(state: FakeTwitch, clock: FakeClock | None = None, **config) -> HelixClient:
    cfg = HelixConfig(
        client_id=CLIENT_ID,
        client_secret=Secret(CLIENT_SECRET),
        helix_url=state.helix_url,
        auth_url=state.auth_url,
        backoff=0.01,
        **config,
    )
    if clock is None:
        return HelixClient(cfg)
    return HelixClient(cfg, clock=clock.time, sleep=clock.sleep)


def test_top_streams_pages_and_deduplicates(fake_twitch):
    fake_twitch.streams = [stream(rank) for rank in range(1, 261)]
    fake_twitch.page_overlap = 3  # each page starts with 3 streams of the previous one
    streams = client_for(fake_twitch).top_streams(250)

    ids = [s["user_id"] for s in streams]
    assert len(ids) == 250 and len(set(ids)) == 250
    assert ids[:3] == ["1001", "1002", "1003"]  # ranked by viewers, first sighting wins
    pages = fake_twitch.seen("/helix/streams")
    assert len(pages) == 3
    assert [p.query.get("after") for p in pages] == [None, ["100"], ["197"]]
    assert all(p.query["first"] == ["100"] for p in pages)
    assert len(fake_twitch.seen("/oauth2/token")) == 1  # token fetched once, then cached
    assert {p.headers["Client-Id"] for p in pages} == {CLIENT_ID}
    assert {p.headers["Authorization"] for p in pages} == {f"Bearer {fake_twitch.tokens[0]}"}
    token_request = fake_twitch.seen("/oauth2/token")[0]
    assert "client_secret" not in str(token_request.query)  # secret travels in the body only
    assert "grant_type=client_credentials" in token_request.body


def test_401_fetches_a_new_token_once(fake_twitch):
    fake_twitch.streams = [stream(rank) for rank in range(1, 11)]
    client = client_for(fake_twitch)
    client.top_streams(5)
    fake_twitch.revoke_all()
    streams = client.top_streams(5)

    assert len(streams) == 5
    assert len(fake_twitch.tokens) == 2
    last = fake_twitch.seen("/helix/streams")[-1]
    assert last.headers["Authorization"] == f"Bearer {fake_twitch.tokens[1]}"


def test_a_persistent_401_is_an_error_not_a_loop(fake_twitch):
    fake_twitch.faults["streams"].extend([401, 401, 401])
    with pytest.raises(HelixError, match="HTTP 401"):
        client_for(fake_twitch).top_streams(5)
    assert len(fake_twitch.seen("/helix/streams")) == 2  # one renewal, then give up


def test_429_waits_until_the_reset(fake_twitch):
    fake_twitch.streams = [stream(rank) for rank in range(1, 11)]
    fake_twitch.faults["streams"].append(429)
    clock = FakeClock()
    client = client_for(fake_twitch, clock)
    streams = client.top_streams(10)

    assert len(streams) == 10
    assert len(fake_twitch.seen("/helix/streams")) == 2  # the 429, then the retry
    assert len(clock.sleeps) == 1
    assert 0.1 <= clock.sleeps[0] <= 3.1  # until Ratelimit-Reset (1-2 s ahead), not a guess


def test_429_wait_is_pinned_to_the_ratelimit_reset_header(fake_twitch):
    """The reset is 2.5 s after the client's clock: the wait is that (+0.1 s margin), not 1 s."""
    fake_twitch.streams = [stream(rank) for rank in range(1, 11)]
    fake_twitch.faults["streams"].append(429)
    fake_twitch.reset_at = int(time.time()) + 100
    clock = FakeClock(now=fake_twitch.reset_at - 2.5)
    client_for(fake_twitch, clock).top_streams(10)

    assert clock.sleeps == [pytest.approx(2.6, abs=0.01)]


def test_slows_down_before_the_limit(fake_twitch):
    """Below ``reserve`` points it waits for the reset before the next call: no 429 ever."""
    fake_twitch.streams = [stream(rank) for rank in range(1, 501)]
    fake_twitch.remaining = 12
    fake_twitch.reset_in = 2.0
    clock = FakeClock()
    client = client_for(fake_twitch, clock, reserve=10)
    client.top_streams(500)

    # 5 pages: remaining goes 11, 10, 9 -> below the reserve from the third answer on
    assert len(fake_twitch.seen("/helix/streams")) == 5
    assert len(clock.sleeps) == 3
    assert all(1.0 <= s <= 3.2 for s in clock.sleeps), clock.sleeps


def test_real_pacing_between_requests(fake_twitch):
    """With the real clock, requests after a low-points answer arrive after the reset."""
    fake_twitch.streams = [stream(rank) for rank in range(1, 201)]
    fake_twitch.remaining = 2
    fake_twitch.reset_in = 0.5
    client = client_for(fake_twitch, reserve=5)
    client.top_streams(200)
    first, second = fake_twitch.seen("/helix/streams")
    reset = int(first.at + 0.5) + 1  # the Ratelimit-Reset the server sent with the first page
    assert second.at >= reset - 0.05


def test_5xx_is_retried_with_backoff(fake_twitch):
    fake_twitch.streams = [stream(rank) for rank in range(1, 11)]
    fake_twitch.faults["streams"].extend([500, 503])
    streams = client_for(fake_twitch).top_streams(10)
    assert len(streams) == 10
    assert len(fake_twitch.seen("/helix/streams")) == 3


def test_5xx_gives_up_after_the_retries(fake_twitch):
    fake_twitch.faults["streams"].extend([500] * 10)
    with pytest.raises(HelixError, match="HTTP 500"):
        client_for(fake_twitch, retries=2).top_streams(10)
    assert len(fake_twitch.seen("/helix/streams")) == 3


def test_connection_errors_are_retried_then_reported():
    state = FakeTwitch(url=f"http://127.0.0.1:{free_port()}")  # nobody listens there
    with pytest.raises(HelixError, match="ConnectionError") as info:
        client_for(state, retries=1).top_streams(1)
    assert CLIENT_SECRET not in str(info.value)


def test_videos_ask_for_the_days_archives(fake_twitch):
    fake_twitch.videos["1001"] = [
        video("9", "1001", "chan_1", "2026-11-21T10:00:00Z"),
    ]
    videos = client_for(fake_twitch).archive_videos("1001")
    assert [v["id"] for v in videos] == ["9"]
    query = fake_twitch.seen("/helix/videos")[0].query
    assert query["user_id"] == ["1001"] and query["sort"] == ["time"]


def test_the_token_never_leaks(fake_twitch, caplog):
    fake_twitch.streams = [stream(rank) for rank in range(1, 11)]
    caplog.set_level(logging.DEBUG)
    client = client_for(fake_twitch)
    client.top_streams(10)
    fake_twitch.faults["streams"].append(403)
    with pytest.raises(HelixError) as info:
        client.top_streams(10)
    token = fake_twitch.tokens[0]
    texts = [caplog.text, str(info.value), repr(info.value), repr(client), repr(client.config)]
    texts.append(repr(client.token()))
    for text in texts:
        assert token not in text
        assert CLIENT_SECRET not in text
    assert "Secret(***)" in repr(client.config)


def test_bad_credentials_fail_clearly(fake_twitch):
    cfg = HelixConfig(
        client_id=CLIENT_ID,
        client_secret=Secret("wrong"),
        helix_url=fake_twitch.helix_url,
        auth_url=fake_twitch.auth_url,
    )
    with pytest.raises(HelixError, match="token request failed with HTTP 403"):
        HelixClient(cfg).top_streams(1)
