"""The presence step and the community audience against brute force on hand-made data.

A random day (many hour files and VODs, renamed channels, blocklisted accounts
in a few rows only, invalid rows) is built and its presence file, manifest
logins, blocklisted accounts and dropped-row count compared with plain Python.
A random window's distinct chatters per community are compared with Python
sets, bots removed by the overlap step's own rule (``bots.bot_user_mask``).
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date

import numpy as np
import pyarrow as pa
from tests.analysis.conftest import presence_table

from vieweratlas import lake as keys
from vieweratlas.bots import bot_user_mask
from vieweratlas.presence import build_day, community_audience
from vieweratlas.schema import DAILY_PRESENCE, PRESENCE

DAY = "2026-03-02"
BOTS = {7001: "nightbot", 7002: "streamelements"}


def _random_day(lake, rng: random.Random) -> list[dict]:
    """Write a day of raw files; return every row written (valid or not)."""
    written = []
    files = [keys.raw_live_snapshot(DAY, h, f"c{c}") for h in range(0, 24, 3) for c in (0, 1)]
    files += [keys.vod_presence(DAY, str(900 + v)) for v in range(3)]
    for number, key in enumerate(files):
        source = "vod" if "vod_presence" in key else "live"
        rows = []
        for _ in range(rng.randint(20, 120)):
            channel = rng.randint(1, 12)
            login = f"chan{channel}" if number < 8 or channel % 3 else f"renamed{channel}"
            user = rng.randint(1, 60)
            rows.append((channel, login, user, f"u{user}", source))
        if number in (4, 16):  # blocklisted accounts, in two files only
            rows += [
                (3, "chan3", 7001, "nightbot", source),
                (5, "chan5", 7002, "streamelements", source),
            ]
        if number == 6:  # invalid rows: a bad source, a negative id (a bot login among them)
            rows += [(2, "chan2", 5, "u5", "tv"), (2, "chan2", -1, "moobot", source)]
        table = presence_table(rows, DAY)
        counts = [rng.randint(1, 9) for _ in rows]
        table = table.set_column(
            PRESENCE.get_field_index("message_count"), "message_count", pa.array(counts, pa.int32())
        )
        lake.write_parquet(key, table)
        written += [
            {"channel": c, "login": cl, "user": u, "user_login": ul, "source": s, "messages": n}
            for (c, cl, u, ul, s), n in zip(rows, counts, strict=True)
        ]
    return written


def test_presence_manifest_and_bots_equal_brute_force(lake):
    rows = _random_day(lake, random.Random(5))
    result = build_day(lake, DAY, max_bad_input_share=0.0)

    valid = [r for r in rows if r["user"] >= 0 and r["source"] in ("live", "vod")]
    expected = Counter()
    for r in valid:
        expected[(r["channel"], r["user"], r["source"])] += r["messages"]
    logins: dict[str, str] = {}
    for r in valid:
        logins[str(r["channel"])] = max(logins.get(str(r["channel"]), ""), r["login"])
    table = lake.read_parquet(keys.daily_presence(DAY))
    got = list(
        zip(*(table[c].to_pylist() for c in ("channel_id", "user_id", "source")), strict=True)
    )
    assert got == sorted(expected)  # sorted by (channel, user, source), one row each
    assert table["message_count"].to_pylist() == [expected[k] for k in got]
    assert set(table["date"].to_pylist()) == {date.fromisoformat(DAY)}

    manifest = lake.read_json(keys.daily_presence_manifest(DAY))
    assert manifest["channels"] == dict(sorted(logins.items()))
    assert manifest["known_bots"] == {str(k): v for k, v in BOTS.items()}  # not moobot (id -1)
    assert (result.rows_in, result.rows_dropped, result.rows_out) == (
        len(rows),
        len(rows) - len(valid),
        len(expected),
    )
    assert (result.channels, result.known_bots) == (len(logins), 2)

    schema = table.schema
    assert [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in DAILY_PRESENCE]
    assert schema.metadata == DAILY_PRESENCE.metadata


def test_presence_is_written_in_sorted_row_groups(lake):
    rows = [(c, f"chan{c}", u, f"u{u}", "live") for c in (30, 10, 20) for u in range(50, 0, -1)]
    lake.write_parquet(keys.raw_live_snapshot(DAY, 1, "c0"), presence_table(rows, DAY))
    build_day(lake, DAY, max_bad_input_share=0.0)
    file = lake.parquet_file(keys.daily_presence(DAY))
    pairs = [
        (c, u)
        for batch in file.iter_batches(batch_size=7, columns=["channel_id", "user_id"])
        for c, u in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True)
    ]
    assert pairs == sorted((c, u) for c, _, u, _, _ in rows)


def _daily(lake, day: str, rows: list[tuple[int, int, str]]) -> None:
    table = pa.table(
        {
            "date": pa.array([date.fromisoformat(day)] * len(rows), pa.date32()),
            "channel_id": [c for c, _, _ in rows],
            "user_id": [u for _, u, _ in rows],
            "source": [s for _, _, s in rows],
            "message_count": [1] * len(rows),
        }
    ).cast(DAILY_PRESENCE)
    lake.write_parquet(keys.daily_presence(day), table)


def test_community_audience_equals_brute_force_with_the_overlap_steps_bot_rule(lake):
    rng = np.random.default_rng(11)
    days = ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]
    channels = np.arange(100, 140)
    pairs: set[tuple[int, int]] = set()
    for day in days[:3]:  # the last day has no presence
        rows = []
        for _ in range(400):
            c, u = int(rng.choice(channels)), int(rng.integers(1, 400))
            rows += [(c, u, "live")] + ([(c, u, "vod")] if rng.random() < 0.3 else [])
        rows += [(int(c), 999, "live") for c in channels[:9]]  # in 9 of 40 channels: a bot
        rows += [(int(c), 998, s) for c in channels[:8] for s in ("live", "vod")]  # 8: not one
        rows += [(101, 7001, "live")]  # blocklisted (manifest)
        pairs.update((c, u) for c, u, _ in rows)
        _daily(lake, day, sorted(rows))
    lake.write_json(keys.daily_presence_manifest(days[0]), {"known_bots": {"7001": "nightbot"}})
    kept = channels[rng.permutation(len(channels))[:30]]  # channels the overlap step kept
    community = rng.integers(0, 5, len(kept))

    users = np.array(sorted({u for _, u in pairs}), np.int64)
    per_user = Counter(u for _, u in pairs)
    seen = len({c for c, _ in pairs})
    mask, _, heuristic = bot_user_mask(
        users, np.array([per_user[u] for u in users.tolist()]), seen, np.array([7001]), 0.2
    )
    assert heuristic >= 1 and 999 in users[mask] and 998 not in users[mask]
    bots = set(users[mask].tolist())
    of = dict(zip(kept.tolist(), community.tolist(), strict=True))
    members: dict[int, set[int]] = defaultdict(set)
    for c, u in pairs:
        if c in of and u not in bots:
            members[of[c]].add(u)
    expected = [len(members[k]) for k in range(int(community.max()) + 1)]

    assert community_audience(lake, days, kept, community, bot_share=0.2).tolist() == expected
    everyone: dict[int, set[int]] = defaultdict(set)
    for c, u in pairs:
        if c in of:
            everyone[of[c]].add(u)
    unfiltered = community_audience(lake, days, kept, community)
    assert unfiltered.tolist() == [len(everyone[k]) for k in range(int(community.max()) + 1)]
