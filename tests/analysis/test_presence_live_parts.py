"""Daily presence over the collector's checkpoint parts: many files per collector and hour.

The live collector writes, every checkpoint, one part per hour holding only
the increments since the previous part (``lake.raw_live_part``). The presence
step must union every file of the day and sum message counts: a (channel,
user) seen in many parts, hours and collectors is one row with the exact total.
"""

from __future__ import annotations

import random
from collections import Counter

import pyarrow as pa
from tests.analysis.conftest import presence_table

from vieweratlas import lake as keys
from vieweratlas.presence import build_day
from vieweratlas.schema import PRESENCE

DAY = "2026-03-02"


def part_table(counts: Counter) -> pa.Table:
    rows = [(c, f"chan{c}", u, f"user{u}", "live") for (c, u) in counts]
    table = presence_table(rows, DAY)
    n = [counts[(c, u)] for c, _, u, _, _ in rows]
    return table.set_column(
        PRESENCE.get_field_index("message_count"), "message_count", pa.array(n, pa.int32())
    )


def test_parts_of_many_checkpoints_hours_and_collectors_sum_exactly(lake):
    rng = random.Random(13)
    total: Counter = Counter()
    written = 0
    for collector in ("shard-0-of-2", "shard-1-of-2"):
        for hour in (0, 7, 23):
            for seq in range(12):  # twelve checkpoints of this collector in this hour
                delta = Counter()
                for _ in range(rng.randint(1, 40)):
                    delta[(rng.randint(1, 6), rng.randint(1, 30))] += rng.randint(1, 3)
                part = f"18d2f0c1a2bx1f2e3d-{seq:08d}"
                lake.write_parquet(
                    keys.raw_live_part(DAY, hour, collector, part), part_table(delta)
                )
                total += delta
                written += 1
    # A whole-hour file of the previous collector version sits alongside.
    legacy = Counter({(1, 1): 5, (9, 99): 2})
    lake.write_parquet(keys.raw_live_snapshot(DAY, 5, "shard-0-of-2"), part_table(legacy))
    total += legacy

    result = build_day(lake, DAY, max_bad_input_share=0.0)
    assert result.inputs == written + 1 and not result.bad_inputs
    table = lake.read_parquet(keys.daily_presence(DAY))
    got = {
        (c, u): n
        for c, u, s, n in zip(
            *(table[k].to_pylist() for k in ("channel_id", "user_id", "source", "message_count")),
            strict=True,
        )
        if s == "live"
    }
    assert got == dict(total)  # one row per pair, counts summed over every part, never twice


def test_part_keys_stay_under_the_hour_prefix():
    key = keys.raw_live_part("2026-03-02", 7, "shard-0-of-2", "18d2f0c1a2bx1f2e3d-00000003")
    assert key.startswith(keys.raw_live_hour_prefix("2026-03-02", 7))
    assert key.endswith("/shard-0-of-2.18d2f0c1a2bx1f2e3d-00000003.parquet")
