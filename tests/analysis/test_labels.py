"""Labels: viewer-weighted game and language, missing metadata, duplicate labels."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyarrow as pa

from vieweratlas import lake as keys
from vieweratlas.labels import community_table, node_table, read_metadata
from vieweratlas.schema import CHANNEL_METADATA


def _metadata(rows):
    at = datetime(2026, 3, 2, 12, tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {
                "observed_at": at,
                "rank": 1,
                "channel_id": c,
                "login": login,
                "display_name": login.title(),
                "game_name": game,
                "language": lang,
                "viewer_count": viewers,
            }
            for c, login, game, lang, viewers in rows
        ],
        schema=CHANNEL_METADATA,
    )


def test_labels_weighted_by_viewers_and_robust_to_missing_metadata():
    ids = np.array([1, 2, 3, 4, 5, 6], np.int64)
    membership = np.array([0, 0, 0, 1, 1, 2], np.int32)
    chatters = np.array([50, 40, 30, 20, 10, 5])
    metadata = _metadata(
        [
            # community 0: two small Chess channels lose to one big Just Chatting channel
            (1, "big", "Just Chatting", "es", 9000),
            (1, "big", "Just Chatting", "es", 11000),
            (2, "small1", "Chess", "en", 100),
            (3, "small2", "Chess", "en", 100),
            # community 1: viewers unknown -> weighted by chatters; no language known
            (4, "c4", "Rust", None, None),
            (5, "c5", "Minecraft", None, None),
        ]
    )  # channel 6 has no metadata at all
    nodes = node_table(ids, {"6": "lonely"}, chatters, membership, metadata)
    assert nodes["login"].to_pylist() == ["big", "small1", "small2", "c4", "c5", "lonely"]
    assert nodes["viewers"].to_pylist() == [10000, 100, 100, None, None, None]
    table = community_table(nodes)
    assert table["label"].to_pylist() == [
        "Just Chatting · Spanish: Big, Small1, Small2",  # top channels by display name
        "Rust: C4, C5",
        "lonely",  # no metadata: the channels people know
    ]
    assert table["top_channels"].to_pylist()[0] == ["big", "small1", "small2"]
    assert table["chatters"].to_pylist() == [120, 30, 5]


def test_weak_game_majority_is_mixed_and_equal_labels_are_told_apart():
    ids = np.arange(1, 7, dtype=np.int64)
    membership = np.array([0, 0, 0, 1, 1, 2], np.int32)
    metadata = _metadata(
        [
            (1, "a", "Chess", "en", 100),
            (2, "b", "Rust", "en", 90),
            (3, "c", "Art", "en", 80),
            (4, "d", "Art", "de", 10),
            (5, "e", "Art", "de", 10),
            (6, "f", "Art", "de", 10),
        ]
    )
    nodes = node_table(ids, {}, np.array([9, 8, 7, 6, 5, 4]), membership, metadata)
    labels = community_table(nodes)["label"].to_pylist()
    assert labels == ["Mixed games · English: A, B, C", "Art · German: D, E", "Art · German: F"]
    more = pa.concat_tables([metadata, _metadata([(7, "g", "Art", "de", 10)])])
    same = node_table(
        np.arange(1, 8), {}, np.arange(9, 2, -1), np.array([0, 0, 0, 1, 1, 2, 2]), more
    )
    same = same.set_column(2, "display_name", pa.array(["x"] * 7))
    assert community_table(same)["label"].to_pylist() == [
        "Mixed games · English: x, x, x",
        "Art · German: x, x (d)",  # equal labels told apart by the biggest login
        "Art · German: x, x (f)",
    ]


def test_read_metadata_skips_unreadable_files(lake):
    good = _metadata([(1, "a", "Chess", "en", 5)])
    lake.write_parquet(keys.channels_hourly("2026-03-02", 1), good)
    lake.write_bytes(keys.channels_hourly("2026-03-02", 2), b"junk")
    table, bad = read_metadata(lake, ["2026-03-01", "2026-03-02"])
    assert table.num_rows == 1
    assert bad == [keys.channels_hourly("2026-03-02", 2)]
