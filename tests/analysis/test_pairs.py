"""The pairs work file, neighbours, community affinity: by hand and against brute force."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from vieweratlas import lake as keys
from vieweratlas import overlap, pipeline
from vieweratlas.params import AnalysisParams
from vieweratlas.publish import channel_neighbors
from vieweratlas.synthetic import SyntheticSpec, generate, write_daily_presence

# Three channels (rows 0, 1, 2); unique weights 0-1: 2, 0-2: 1, 1-2: 0; chatters 3, 2, 2.
DAY1 = ([10, 10, 10, 20, 20, 30, 30], [1, 2, 3, 1, 2, 3, 4])
DAY2 = ([10, 10, 10, 20, 30], [1, 1, 2, 1, 4])


def incidence():
    return overlap.build_incidence([tuple(np.array(a, np.int64) for a in d) for d in (DAY1, DAY2)])


def collect(inc, weighting, min_shared=1, top_k=5):
    parts: list[pa.Table] = []
    kept, near = overlap.select(inc, weighting, top_k, min_shared, on_pairs=parts.append)
    pairs = pa.concat_tables([overlap.PAIRS.empty_table(), *parts])
    return kept, near, pairs


def test_pairs_neighbors_and_shares_by_hand():
    _, near, pairs = collect(incidence(), "unique")
    assert pairs.to_pylist() == [
        {"src": 0, "dst": 1, "weight": 2.0},
        {"src": 0, "dst": 2, "weight": 1.0},
    ]
    rows = near.table()
    assert rows.to_pylist() == [
        {"channel": 0, "rank": 1, "neighbor": 1, "shared": 2.0},
        {"channel": 0, "rank": 2, "neighbor": 2, "shared": 1.0},
        {"channel": 1, "rank": 1, "neighbor": 0, "shared": 2.0},
        {"channel": 2, "rank": 1, "neighbor": 0, "shared": 1.0},
    ]
    nodes = pa.table(
        {
            "channel_id": pa.array([10, 20, 30], pa.int64()),
            "login": ["a", "b", "=c"],
            "community": pa.array([0, 0, 1], pa.int32()),
        }
    )
    table = channel_neighbors(nodes, pa.array([3.0, 2.0, 2.0]), rows)
    got = [
        (r["login"], r["rank"], r["neighbor_login"], r["shared"], r["neighbor_community"])
        for r in table.to_pylist()
    ]
    assert got == [
        ("a", 1, "b", 2, 0),
        ("a", 2, "=c", 1, 1),
        ("b", 1, "a", 2, 0),
        ("=c", 1, "a", 1, 0),
    ]
    assert table["share_of_channel"].to_pylist() == pytest.approx([2 / 3, 1 / 3, 1, 1 / 2])
    assert table["share_of_neighbor"].to_pylist() == pytest.approx([1, 1 / 2, 2 / 3, 1 / 3])


def test_min_shared_drops_pairs_but_counts_overlap():
    kept, _, pairs = collect(incidence(), "unique", min_shared=2)
    assert pairs.to_pylist() == [{"src": 0, "dst": 1, "weight": 2.0}]
    assert kept.pairs_with_overlap == 2


def test_community_affinity_by_hand():
    pairs = pa.table(
        {"src": [0, 0, 1, 2], "dst": [1, 2, 3, 3], "weight": [2.0, 1.0, 5.0, 7.0]},
    )
    # communities: 0 -> {0, 1}, 1 -> {2}, 2 -> {3}
    m = overlap.community_affinity(pairs, np.array([0, 0, 1, 2]), 3)
    assert m.tolist() == [[2.0, 1.0, 5.0], [1.0, 0.0, 7.0], [5.0, 7.0, 0.0]]
    batches = pairs.to_batches(max_chunksize=1)
    assert np.array_equal(overlap.community_affinity(batches, np.array([0, 0, 1, 2]), 3), m)


def brute(inc, weighting):
    dense = inc.days.toarray().astype(np.int64)
    if weighting == "unique":
        b = (dense > 0).astype(np.int64)
        return b @ b.T
    return np.minimum(dense[:, None, :], dense[None, :, :]).sum(axis=2)


@pytest.mark.parametrize("weighting", ["unique", "repeat"])
def test_blocks_match_brute_force(weighting, monkeypatch):
    rng = np.random.default_rng(5)
    days = [
        (rng.integers(0, 30, 900).astype(np.int64), rng.integers(0, 200, 900).astype(np.int64))
        for _ in range(5)
    ]
    inc = overlap.build_incidence(days)
    monkeypatch.setattr(overlap, "BLOCK_CELLS", 7 * 30)  # many small row blocks
    expected = brute(inc, weighting)
    _, near, pairs = collect(inc, weighting, min_shared=2)
    got = np.zeros_like(expected)
    got[pairs["src"].to_numpy(), pairs["dst"].to_numpy()] = pairs["weight"].to_numpy()
    upper = np.triu(expected, 1)
    assert np.array_equal(got, np.where(upper >= 2, upper, 0))
    # neighbours: each row's 20 largest off-diagonal weights, ties to the lower row
    off = expected - np.diag(np.diag(expected))
    for row in (0, 7, 29):
        mine = near.neighbor[near.channel == row].tolist()
        order = sorted((c for c in range(30) if off[row, c] >= 2), key=lambda c: (-off[row, c], c))
        assert mine == order[:20]


@pytest.mark.parametrize("weighting", ["unique", "repeat"])
def test_backbone_from_pairs_file_equals_inline(weighting, tmp_path, monkeypatch):
    from vieweratlas.storage import Lake

    lake = Lake(tmp_path.as_uri())
    spec = SyntheticSpec(channels=60, users=4_000, communities=5, days=3, lurkers=0, seed=2)
    write_daily_presence(lake, generate(spec), date(2026, 3, 3))
    params = AnalysisParams(window_days=3, weighting=weighting, top_k=4, min_chatters=5)
    monkeypatch.setattr(pipeline, "PAIRS_ROW_GROUP", 50)  # many row groups, streamed merge
    monkeypatch.setattr(overlap, "BLOCK_CELLS", 10 * 60)
    step = pipeline.overlap_step(lake, "2026-03-03", params)
    edges = lake.read_parquet(keys.analysis_file("2026-03-03", "edges.parquet"))
    near = lake.read_parquet(keys.analysis_file("2026-03-03", "neighbors.parquet"))
    pairs = lake.parquet_file(keys.analysis_file("2026-03-03", "pairs.parquet"))
    assert pairs.metadata.num_row_groups > 1
    assert pairs.metadata.num_rows == step["pairs"] > 0
    first = pairs.metadata.row_group(0)  # src, dst delta-encoded (half the size of ids)
    assert [("DELTA_BINARY_PACKED" in first.column(i).encodings) for i in range(3)] == [
        True,
        True,
        False,
    ]
    again = pipeline.backbone_from_pairs(lake, "2026-03-03", params)
    assert again["edges"] == step["edges"]
    assert lake.read_parquet(keys.analysis_file("2026-03-03", "edges.parquet")).equals(edges)
    assert lake.read_parquet(keys.analysis_file("2026-03-03", "neighbors.parquet")).equals(near)


def test_presence_buffer_streams_sorted_batches_and_rejects_unsorted():
    window = overlap.PresenceBuffer(2)  # grows as needed
    window.start_day()
    assert window.add(np.array([10, 10, 20]), np.array([1, 2, 5]))
    assert window.add(np.array([20, 20, 30]), np.array([5, 6, 1]))  # (20, 5) again: once
    assert not window.add(np.array([30, 10]), np.array([2, 1]))  # unsorted: not taken
    assert not window.add(np.array([5]), np.array([1]))  # before the previous batch
    window.start_day()
    assert window.add(np.array([10]), np.array([1]))  # another day: counted again
    inc = overlap.build_incidence(window)
    assert inc.channel_ids.tolist() == [10, 20, 30]
    assert inc.user_ids.tolist() == [1, 2, 5, 6]
    assert inc.days.toarray().tolist() == [[2, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 0]]


def test_read_window_sorts_an_unsorted_day(tmp_path):
    from vieweratlas.schema import DAILY_PRESENCE
    from vieweratlas.storage import Lake

    lake = Lake(tmp_path.as_uri())
    rows = {"channel_id": [30, 10, 10, 30, 20], "user_id": [4, 1, 1, 4, 2]}
    table = pa.table(
        {
            "date": pa.array([date(2026, 3, 3)] * 5, pa.date32()),
            **rows,
            "source": ["live", "live", "vod", "vod", "live"],
            "message_count": pa.array([1] * 5, pa.int32()),
        },
        schema=DAILY_PRESENCE,
    )
    lake.write_parquet(keys.daily_presence("2026-03-03"), table)
    window, _, _, missing = pipeline.read_window(lake, ["2026-03-02", "2026-03-03"])
    assert missing == ["2026-03-02"]
    inc = overlap.build_incidence(window)
    assert inc.channel_ids.tolist() == [10, 20, 30]
    assert inc.days.toarray().tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
