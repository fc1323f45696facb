"""Daily presence on both storage roots: de-duplication, bad inputs, reuse, known bots."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tests.analysis.conftest import presence_table

from vieweratlas import lake as keys
from vieweratlas.duck import local_files
from vieweratlas.presence import BadInputError, build_day, day_inputs
from vieweratlas.schema import DAILY_PRESENCE

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


def test_a_legacy_manifest_is_read_reused_and_moved_out_of_the_partition(lake):
    from vieweratlas.pipeline import read_window_meta
    from vieweratlas.presence import known_bots, read_manifest

    _write_day(lake)
    build_day(lake, DAY, 0.1)
    new, legacy = keys.daily_presence_manifest(DAY), keys.daily_presence_legacy_manifest(DAY)
    assert lake.list(keys.DAILY_PRESENCE.prefix) == [new, keys.daily_presence(DAY)]
    lake.write_bytes(legacy, lake.read_bytes(new))  # a lake written before the rename
    lake.delete([new])
    assert read_manifest(lake, DAY)["channels"] == {"100": "alpha", "200": "beta"}
    assert known_bots(lake, [DAY]) == [2]
    logins, bots, missing = read_window_meta(lake, [DAY, "2026-03-03"])
    assert (logins, bots.tolist(), missing) == (
        {"100": "alpha", "200": "beta"},
        [2],
        ["2026-03-03"],
    )
    assert build_day(lake, DAY, 0.1, force=False).status == "reused"
    assert not lake.exists(legacy) and lake.exists(new)
    lake.write_bytes(legacy, lake.read_bytes(new))
    assert build_day(lake, DAY, 0.1).status == "built"  # a rebuild removes it too
    assert lake.list(keys.DAILY_PRESENCE.prefix) == [new, keys.daily_presence(DAY)]


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


def test_part_files_of_one_hour_are_unioned_and_messages_summed(lake):
    import pyarrow as pa

    def part(rows, messages):
        table = presence_table(rows)
        return table.set_column(8, "message_count", pa.array(messages, pa.int32()))

    for number, messages in enumerate([3, 4, 5]):
        key = keys.raw_live_hour_prefix(DAY, 7) + f"c0-part-{number:04d}.parquet"
        lake.write_parquet(key, part([(100, "alpha", 1, "u1", "live")], [messages]))
    lake.write_parquet(
        keys.raw_live_snapshot(DAY, 8, "c1"), part([(100, "alpha", 1, "u1", "live")], [10])
    )
    result = build_day(lake, DAY, 0.1, memory_mb=300)
    assert (result.inputs, result.rows_in, result.rows_out) == (4, 4, 1)
    table = lake.read_parquet(keys.daily_presence(DAY))
    assert table["message_count"].to_pylist() == [22]
    assert table.schema.metadata == DAILY_PRESENCE.metadata


def test_a_broken_page_behind_a_good_footer_is_skipped_and_named(lake):
    import io

    import pyarrow.parquet as pq

    _write_day(lake)
    buffer = io.BytesIO()
    rows = [(300 + i, f"c{i}", i, f"u{i}", "live") for i in range(2000)]
    pq.write_table(presence_table(rows), buffer, compression="zstd")
    data = bytearray(buffer.getvalue())
    footer = int.from_bytes(data[-8:-4], "little") + 8
    data[4 : len(data) - footer] = bytes(len(data) - footer - 4)  # footer intact, pages garbled
    bad_key = keys.raw_live_snapshot(DAY, 13, "c0")
    lake.write_bytes(bad_key, bytes(data))
    result = build_day(lake, DAY, max_bad_input_share=0.5)
    assert result.bad_inputs == [bad_key]
    assert (result.rows_in, result.rows_out, result.channels) == (6, 5, 2)


def test_local_inputs_are_read_in_place_and_s3_inputs_downloaded(lake, data_root, tmp_path):
    _write_day(lake)
    inputs = list(day_inputs(lake, DAY))
    before = {key: lake.read_bytes(key) for key in inputs}
    paths = local_files(lake, inputs, str(tmp_path))
    if data_root.startswith("file://"):
        assert paths == {key: lake.path(key) for key in inputs}
        assert not (tmp_path / "inputs").exists()  # nothing copied
    else:
        assert all(path.startswith(str(tmp_path / "inputs")) for path in paths.values())
    assert {key: Path(path).read_bytes() for key, path in paths.items()} == before
    assert build_day(lake, DAY, max_bad_input_share=0.1).rows_out == 5
    assert {key: lake.read_bytes(key) for key in day_inputs(lake, DAY)} == before  # untouched


def _daily(lake, day, pairs):
    import pyarrow as pa

    table = pa.table(
        {
            "date": pa.array([date.fromisoformat(day)] * len(pairs), pa.date32()),
            "channel_id": [c for c, _ in pairs],
            "user_id": [u for _, u in pairs],
            "source": ["live"] * len(pairs),
            "message_count": [1] * len(pairs),
        }
    ).cast(DAILY_PRESENCE)
    lake.write_parquet(keys.daily_presence(day), table)


def test_community_audience_counts_each_chatter_once(lake):
    import numpy as np

    from vieweratlas.presence import community_audience

    days = ["2026-03-01", "2026-03-02", "2026-03-03"]  # the last day has no presence
    _daily(lake, days[0], [(100, 1), (100, 2), (100, 3), (100, 9), (200, 2), (200, 4), (300, 5)])
    _daily(lake, days[1], [(100, 1), (100, 6), (300, 2), (300, 7), (400, 8)])
    lake.write_json(keys.daily_presence_manifest(days[0]), {"known_bots": {"9": "nightbot"}})
    channels, community = np.array([100, 200, 300]), np.array([0, 0, 1])
    # community 0 = channels 100 + 200: {1, 2, 3, 4, 6, 9} (chatters summed: 5 + 2 = 7)
    assert community_audience(lake, days, channels, community).tolist() == [6, 3]
    # bots out: 9 is blocklisted; 2 is in 3 of the 4 channels seen (> 0.5 x 4)
    audience = community_audience(lake, days, channels, community, bot_share=0.5)
    assert audience.tolist() == [4, 2]
    assert audience.dtype == np.int64
