"""Daily presence on both storage roots: de-duplication, bad inputs, reuse, known bots."""

from __future__ import annotations

import pytest
from tests.analysis.conftest import presence_table

from vieweratlas import lake as keys
from vieweratlas.presence import BadInputError, build_day

DAY = "2026-03-02"


def _write_day(lake):
    # hour 10 and hour 11 (two collectors) repeat user 1 in channel 100; VOD repeats it too.
    lake.write_parquet(
        keys.raw_live_snapshot(DAY, 10, "c0"),
        presence_table([(100, "alpha", 1, "u1", "live"), (100, "alpha", 2, "nightbot", "live")]),
    )
    lake.write_parquet(
        keys.raw_live_snapshot(DAY, 11, "c1"),
        presence_table([(100, "alpha", 1, "u1", "live"), (200, "beta", 1, "u1", "live")]),
    )
    lake.write_parquet(
        keys.vod_presence(DAY, "123"),
        presence_table([(100, "alpha", 1, "u1", "vod"), (100, "alpha", 3, "u3", "vod")]),
    )


def test_dedupes_across_hours_and_keeps_sources_apart(lake):
    _write_day(lake)
    result = build_day(lake, DAY, max_bad_input_share=0.1)
    assert (result.inputs, result.rows_in, result.rows_out, result.channels) == (3, 6, 5, 2)
    table = lake.read_parquet(keys.daily_presence(DAY))
    rows = list(
        zip(
            *(table[c].to_pylist() for c in ("channel_id", "user_id", "source", "message_count")),
            strict=True,
        )
    )
    assert rows == [
        (100, 1, "live", 2),
        (100, 1, "vod", 1),
        (100, 2, "live", 1),
        (100, 3, "vod", 1),
        (200, 1, "live", 1),
    ]
    manifest = lake.read_json(keys.daily_presence_manifest(DAY))
    assert manifest["channels"] == {"100": "alpha", "200": "beta"}
    assert manifest["known_bots"] == {"2": "nightbot"}


def test_reuses_a_built_day_until_its_inputs_change(lake):
    _write_day(lake)
    assert build_day(lake, DAY, 0.1).status == "built"
    assert build_day(lake, DAY, 0.1, force=False).status == "reused"
    lake.write_parquet(
        keys.vod_presence(DAY, "456"), presence_table([(300, "gamma", 4, "u4", "vod")])
    )
    again = build_day(lake, DAY, 0.1, force=False)
    assert (again.status, again.channels) == ("built", 3)


def test_corrupt_inputs_are_skipped_and_named_or_fail_the_day(lake):
    _write_day(lake)
    bad_key = keys.raw_live_snapshot(DAY, 12, "c0")
    lake.write_bytes(bad_key, b"PAR1 this is not parquet")
    with pytest.raises(BadInputError, match="hour=12"):
        build_day(lake, DAY, max_bad_input_share=0.1)  # 1 of 4 = 25% > 10%
    result = build_day(lake, DAY, max_bad_input_share=0.5)
    assert result.bad_inputs == [bad_key]
    assert result.rows_out == 5


def test_wrong_schema_and_bad_rows(lake):
    import pyarrow as pa

    lake.write_parquet(keys.raw_live_snapshot(DAY, 1, "c0"), pa.table({"x": [1]}))
    good = presence_table([(100, "alpha", 1, "u1", "live"), (100, "alpha", 2, "u2", "tv")])
    lake.write_parquet(keys.raw_live_snapshot(DAY, 2, "c0"), good)
    result = build_day(lake, DAY, max_bad_input_share=0.5)
    assert result.bad_inputs == [keys.raw_live_snapshot(DAY, 1, "c0")]
    assert (result.rows_dropped, result.rows_out) == (1, 1)


def test_empty_day_builds_an_empty_file(lake):
    result = build_day(lake, DAY, 0.1)
    assert (result.inputs, result.rows_out) == (0, 0)
    assert lake.read_parquet(keys.daily_presence(DAY)).num_rows == 0
