"""Synthetic Twitch days with planted communities, in exactly the lake's formats.

Channel sizes follow a Zipf-like law; each user belongs to one planted
community and visits a few channels, each inside that community with
probability ``in_community`` and anywhere (by global popularity) otherwise.
:func:`hard_spec` is the hard, Twitch-like setting the defaults are chosen on:
in-community probability 0.3, channel audiences spanning 300 to 400 k
(largest / smallest = 1,333), heavy-tailed community sizes, users in 1 to 10
channels. Pairs come
back on other days of the window with probability ``repeat``; a share of the
rows are VOD rows. Known bots (blocklisted logins) and "lurker" accounts present
in a large share of channels are mixed in. Everything is vectorised numpy, so
the benchmark's ~10 M rows take seconds.

:func:`generate` returns a :class:`SyntheticWindow`; :func:`write_snapshots`
writes it as the collector (hourly live snapshots), the VOD pipeline (one file
per VOD) and the channel refresh (hourly metadata) would;
:func:`daily_presence_table` gives one day already de-duplicated (benchmark).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vieweratlas import lake as keys
from vieweratlas.schema import CHANNEL_METADATA, DAILY_PRESENCE, PRESENCE
from vieweratlas.storage import Lake

GAMES = (
    "Just Chatting", "Grand Theft Auto V", "League of Legends", "Valorant", "Counter-Strike",
    "Fortnite", "Minecraft", "Dota 2", "World of Warcraft", "Apex Legends", "Call of Duty",
    "Rust", "Chess", "Music", "Slots", "Art", "Overwatch 2", "EA Sports FC", "Hearthstone",
    "Dead by Daylight", "Pokémon", "Teamfight Tactics", "Escape from Tarkov", "Elden Ring",
)  # fmt: skip
LANGS = ("en", "es", "pt", "de", "fr", "ja", "ko", "ru", "it", "pl", "tr", "zh")
KNOWN_BOTS = {19264788: "nightbot", 100135110: "streamelements", 1564983: "moobot"}
CHANNEL_ID0, USER_ID0 = 10_000_000, 500_000_000


@dataclass(frozen=True)
class SyntheticSpec:
    """Knobs of a synthetic window."""

    channels: int = 300
    users: int = 40_000
    communities: int = 12
    in_community: float = 0.7
    days: int = 3
    visits: float = 3.0  # mean distinct channels per user
    repeat: float = 0.3  # chance a (channel, user) pair is seen on another day too
    zipf: float = 0.55  # channel size ~ rank ** -zipf
    vod_share: float = 0.3  # share of rows of a VOD-publishing channel seen on VOD
    lurkers: int = 5  # accounts in ~half the channels (caught by the heuristic)
    seed: int = 0
    max_visits: int = 0  # if set, channels per user ~ uniform 1..max_visits, else geometric
    audience_ratio: float = 0.0  # largest / smallest channel weight; overrides zipf if > 0
    community_zipf: float = 0.0  # community sizes ~ rank ** -community_zipf (0 = even)

    @property
    def channel_zipf(self) -> float:
        """The Zipf exponent of channel sizes."""
        if self.audience_ratio > 0 and self.channels > 1:
            return float(np.log(self.audience_ratio) / np.log(self.channels))
        return self.zipf


def hard_spec(**overrides) -> SyntheticSpec:
    """The hard planted setting (see the module docstring), with ``overrides``."""
    knobs = {
        "in_community": 0.3,
        "audience_ratio": 400_000 / 300,
        "max_visits": 10,
        "community_zipf": 1.0,
        "repeat": 0.05,
    }
    return SyntheticSpec(**{**knobs, **overrides})


@dataclass
class SyntheticWindow:
    """Generated channels and per-day presence (dense channel and user numbers)."""

    spec: SyntheticSpec
    channel_ids: np.ndarray  # int64
    planted: np.ndarray  # planted community per channel
    game: np.ndarray  # index into GAMES per channel
    language: np.ndarray  # index into LANGS
    popularity: np.ndarray  # relative channel weight
    days: list[tuple[np.ndarray, np.ndarray, np.ndarray]]  # (channel, user_id, is_vod) per day

    @property
    def rows(self) -> int:
        return sum(len(c) for c, _, _ in self.days)

    def login(self, channel: int) -> str:
        return f"chan_{int(self.channel_ids[channel])}"


def _visits(spec: SyntheticSpec, rng: np.random.Generator, weight, planted):
    """Distinct (channel, user) pairs of the window."""
    order = np.argsort(planted, kind="stable")
    cum = np.concatenate([[0.0], np.cumsum(weight[order])])
    bounds = np.searchsorted(planted[order], np.arange(spec.communities + 1))
    community_weight = np.diff(cum[bounds])
    home = rng.choice(spec.communities, spec.users, p=community_weight / community_weight.sum())
    if spec.max_visits:
        count = rng.integers(1, spec.max_visits + 1, spec.users)
    else:
        count = rng.geometric(1.0 / spec.visits, spec.users)
    user = np.repeat(np.arange(spec.users, dtype=np.int64), count)
    inside = rng.random(len(user)) < spec.in_community
    lo = np.where(inside, cum[bounds[home[user]]], 0.0)
    hi = np.where(inside, cum[bounds[home[user] + 1]], cum[-1])
    pick = np.searchsorted(cum, lo + rng.random(len(user)) * (hi - lo), side="right") - 1
    channel = order[np.clip(pick, 0, spec.channels - 1)]
    keys = np.sort(channel.astype(np.int64) * spec.users + user)
    return keys[np.diff(keys, prepend=-1) != 0]  # np.unique hashes: far slower here


def generate(spec: SyntheticSpec) -> SyntheticWindow:
    """A synthetic window of ``spec.days`` days."""
    rng = np.random.default_rng(spec.seed)
    n = spec.channels
    rank = rng.permutation(n) + 1
    weight = rank.astype(np.float64) ** -spec.channel_zipf
    if spec.community_zipf:
        sizes = np.arange(1, spec.communities + 1, dtype=np.float64) ** -spec.community_zipf
        planted = rng.choice(spec.communities, n, p=sizes / sizes.sum())
    else:
        planted = rng.integers(0, spec.communities, n)
    comm_game = rng.integers(0, len(GAMES), spec.communities)
    comm_lang = np.minimum(rng.geometric(0.4, spec.communities) - 1, len(LANGS) - 1)
    game = np.where(rng.random(n) < 0.8, comm_game[planted], rng.integers(0, len(GAMES), n))
    language = np.where(rng.random(n) < 0.9, comm_lang[planted], 0)
    channel_ids = CHANNEL_ID0 + np.sort(rng.choice(50 * n, n, replace=False)).astype(np.int64)

    pairs = _visits(spec, rng, weight, planted)
    pair_channel, pair_user = pairs // spec.users, pairs % spec.users
    first = rng.integers(0, spec.days, len(pairs))
    has_vod = rng.random(n) < 0.3  # channels that publish VODs
    days = []
    for day in range(spec.days):
        seen = (first == day) | (rng.random(len(pairs)) < spec.repeat)
        channel = pair_channel[seen]
        user = USER_ID0 + pair_user[seen]
        extra_ids = [np.full(n, i, np.int64) for i in KNOWN_BOTS]
        extra_ids += [np.full(n, USER_ID0 - 1 - i, np.int64) for i in range(spec.lurkers)]
        extra_ch = np.tile(np.arange(n, dtype=np.int64), len(extra_ids))
        extra_user = np.concatenate(extra_ids) if extra_ids else np.zeros(0, np.int64)
        share = np.where(np.isin(extra_user, list(KNOWN_BOTS)), 0.05, 0.5)
        keep = rng.random(len(extra_ch)) < share
        channel = np.concatenate([channel, extra_ch[keep]])
        user = np.concatenate([user, extra_user[keep]])
        vod = (rng.random(len(channel)) < spec.vod_share) & has_vod[channel]
        days.append((channel, user, vod))
    return SyntheticWindow(spec, channel_ids, planted, game, language, weight, days)


def user_login(user_id: np.ndarray) -> pa.Array:
    """Logins of synthetic users (known bots keep their real names)."""
    return _logins("user", user_id, KNOWN_BOTS)


def _logins(prefix: str, ids: np.ndarray, known: dict[int, str] | None = None) -> pa.Array:
    """``prefix`` + id as strings (Arrow kernels: fast for millions of rows)."""
    text = pc.binary_join_element_wise(prefix, pc.cast(pa.array(ids, pa.int64()), pa.string()), "")
    for known_id, login in (known or {}).items():
        text = pc.if_else(pa.array(ids == known_id), login, text)
    return text


def daily_presence_table(window: SyntheticWindow, day_index: int, day: date) -> pa.Table:
    """One day as ``DAILY_PRESENCE`` (what the presence step would build)."""
    channel, user, vod = window.days[day_index]
    cid = window.channel_ids[channel]
    # channel ids are sorted, so (channel number, user id, vod) orders like (channel_id, ...)
    order = np.argsort((channel * (2 * USER_ID0 + 2) + user) * 2 + vod)
    return pa.table(
        {
            "date": pa.array(np.full(len(order), np.datetime64(day, "D"))),
            "channel_id": cid[order],
            "user_id": user[order],
            "source": pc.if_else(pa.array(vod[order]), "vod", "live"),
            "message_count": np.ones(len(order), np.int32),
        }
    ).cast(DAILY_PRESENCE)


def _presence(window, channel, user, source, content, start, rng) -> pa.Table:
    first = start + rng.integers(0, 3_000_000, len(channel)).astype("timedelta64[ms]")
    cid = window.channel_ids[channel]
    return pa.table(
        {
            "channel_id": cid,
            "channel_login": _logins("chan_", cid),
            "user_id": user,
            "user_login": user_login(user),
            "source": pa.repeat(pa.scalar(source), len(channel)),
            "content_id": pa.repeat(pa.scalar(content, pa.string()), len(channel)),
            "first_seen": first,
            "last_seen": first + np.timedelta64(60_000, "ms"),
            "message_count": rng.integers(1, 20, len(channel)).astype(np.int32),
        }
    ).cast(PRESENCE)


def _metadata(window, hour_start: datetime, rng) -> pa.Table:
    n = window.spec.channels
    live = np.flatnonzero(rng.random(n) < 0.6)
    viewers = (window.popularity[live] * 20_000 * rng.uniform(0.5, 1.5, len(live))).astype(int)
    order = np.argsort(-viewers, kind="stable")
    live, viewers = live[order], viewers[order]
    game = np.where(rng.random(len(live)) < 0.9, window.game[live], rng.integers(0, 24, len(live)))
    cid = window.channel_ids[live]
    return pa.table(
        {
            "observed_at": pa.array([hour_start] * len(live), pa.timestamp("ms", tz="UTC")),
            "rank": np.arange(1, len(live) + 1, dtype=np.int32),
            "channel_id": cid,
            "login": np.char.add("chan_", cid.astype(str)),
            "display_name": np.char.add("Chan_", cid.astype(str)),
            "game_id": game.astype(str),
            "game_name": np.asarray(GAMES, dtype=object)[game],
            "language": np.asarray(LANGS, dtype=object)[window.language[live]],
            "viewer_count": viewers.astype(np.int64),
            "started_at": pa.array([hour_start] * len(live), pa.timestamp("ms", tz="UTC")),
            "title": np.full(len(live), "synthetic stream"),
        }
    ).cast(CHANNEL_METADATA)


def write_snapshots(lake: Lake, window: SyntheticWindow, last_day: date, hours: int = 24) -> int:
    """Write the window, ending on ``last_day``, as raw snapshots; return files written."""
    rng = np.random.default_rng(window.spec.seed + 1)
    written = 0
    for index in range(window.spec.days):
        day = last_day - timedelta(days=window.spec.days - 1 - index)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        channel, user, vod = window.days[index]
        live = np.flatnonzero(~vod)
        again = live[rng.random(len(live)) < 0.3]  # seen in a second hour too: de-dup input
        rows = np.concatenate([live, again])
        hour = rng.integers(0, hours, len(rows))
        collector = window.channel_ids[channel[rows]] % 2
        for h in range(hours):
            hour_start = midnight + timedelta(hours=h)
            start = np.datetime64(hour_start.replace(tzinfo=None), "ms")
            lake.write_parquet(keys.channels_hourly(day, h), _metadata(window, hour_start, rng))
            for c in (0, 1):
                pick = rows[(hour == h) & (collector == c)]
                table = _presence(window, channel[pick], user[pick], "live", None, start, rng)
                lake.write_parquet(keys.raw_live_snapshot(day, h, f"collector-{c}"), table)
                written += 1
            written += 1
        written += _write_vods(lake, window, index, day, rng)
    return written


def _write_vods(lake, window, index: int, day: date, rng, limit: int = 0) -> int:
    """One VOD presence file per VOD-publishing channel (the ``limit`` biggest if set)."""
    channel, user, vod = window.days[index]
    vod_rows = np.flatnonzero(vod)
    publishing = np.unique(channel[vod_rows])
    if limit:
        publishing = publishing[np.argsort(-window.popularity[publishing], kind="stable")[:limit]]
    order = vod_rows[np.argsort(channel[vod_rows], kind="stable")]
    bounds = np.searchsorted(channel[order], np.stack([publishing, publishing + 1]))
    start = np.datetime64(datetime(day.year, day.month, day.day), "ms")
    for ch, lo, hi in zip(publishing.tolist(), *bounds.tolist(), strict=True):
        pick = order[lo:hi]
        vod_id = f"{day:%Y%m%d}{int(window.channel_ids[ch]) % 100_000:05d}"
        table = _presence(window, channel[pick], user[pick], "vod", vod_id, start, rng)
        lake.write_parquet(keys.vod_presence(day, vod_id), table)
    return len(publishing)


def write_raw_day(
    lake: Lake,
    window: SyntheticWindow,
    last_day: date,
    top: int = 5000,
    collectors: int = 2,
    parts: int = 2,
    max_vods: int = 200,
    hours: tuple[int, int] = (4, 16),
) -> dict[str, int]:
    """Write the window's last day as production raw input; return file and row counts.

    Each channel streams one block of ``hours`` (4 to 16 by default: about 10,
    so with 15,000 channels ~6,250 are live in an hour); each hour only the
    ``top`` most popular live channels are collected (the collector's top-N
    list), so the channel set churns hour by hour and the tail of the popularity
    law is collected only in the hours the bigger channels are off air. A chatter
    stays for a run of consecutive hours of the channel's block (~4 on average),
    so one (channel, user) pair is several raw rows; each hour is split over
    ``collectors`` collectors and ``parts`` incremental part files each. At most
    ``max_vods`` VODs (the most popular VOD channels) are written, as one VOD
    run downloads a bounded number.
    """
    index = window.spec.days - 1
    rng = np.random.default_rng(window.spec.seed + 3)
    n = window.spec.channels
    start, length = rng.integers(0, 24, n), rng.integers(hours[0], hours[1] + 1, n)
    live = (np.arange(24)[None, :] - start[:, None]) % 24 < length[:, None]
    score = np.where(live, window.popularity[:, None], -1.0)
    live &= np.argsort(np.argsort(-score, axis=0, kind="stable"), axis=0) < top
    channel, user, vod = window.days[index]
    ch, us = channel[~vod], user[~vod]
    stay = np.minimum(rng.geometric(0.2, len(ch)), length[ch])
    first = rng.integers(0, length[ch] - stay + 1)
    rep = np.repeat(np.arange(len(ch)), stay)
    step = np.arange(len(rep)) - np.repeat(np.cumsum(stay) - stay, stay)
    hour = (start[ch[rep]] + first[rep] + step) % 24
    keep = live[ch[rep], hour]
    rep, hour = rep[keep], hour[keep]
    file_of = (hour * collectors + window.channel_ids[ch[rep]] % collectors) * parts
    file_of += rng.integers(0, parts, len(rep))
    order = np.argsort(file_of, kind="stable")
    bounds = np.searchsorted(file_of[order], np.arange(24 * collectors * parts + 1))
    midnight = datetime(last_day.year, last_day.month, last_day.day)
    for number in range(24 * collectors * parts):
        pick = rep[order[bounds[number] : bounds[number + 1]]]
        h, rest = divmod(number, collectors * parts)
        name = f"collector-{rest // parts}-part-{rest % parts:04d}"
        at = np.datetime64(midnight + timedelta(hours=h), "ms")
        table = _presence(window, ch[pick], us[pick], "live", None, at, rng)
        lake.write_parquet(f"{keys.raw_live_hour_prefix(last_day, h)}{name}.parquet", table)
    vods = _write_vods(lake, window, index, last_day, rng, max_vods)
    return {"live_files": 24 * collectors * parts, "live_rows": len(rep), "vod_files": vods}


def write_daily_presence(lake: Lake, window: SyntheticWindow, last_day: date) -> int:
    """Write the window as already built daily presence (+ manifests); return rows written.

    What the presence step would produce, for benchmarks that start at the overlap.
    """
    rows = 0
    logins = {str(int(c)): f"chan_{int(c)}" for c in window.channel_ids}
    bots = {str(k): v for k, v in KNOWN_BOTS.items()}
    for index in range(window.spec.days):
        day = last_day - timedelta(days=window.spec.days - 1 - index)
        table = daily_presence_table(window, index, day)
        lake.write_parquet(keys.daily_presence(day), table)
        manifest = {"version": 1, "inputs": {}, "channels": logins, "known_bots": bots}
        lake.write_json(keys.daily_presence_manifest(day), manifest)
        rows += table.num_rows
    return rows


def write_metadata(lake: Lake, window: SyntheticWindow, last_day: date, hours: int = 24) -> None:
    """Write hourly channel metadata for every day of the window."""
    rng = np.random.default_rng(window.spec.seed + 2)
    for index in range(window.spec.days):
        day = last_day - timedelta(days=window.spec.days - 1 - index)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        for h in range(hours):
            table = _metadata(window, midnight + timedelta(hours=h), rng)
            lake.write_parquet(keys.channels_hourly(day, h), table)
