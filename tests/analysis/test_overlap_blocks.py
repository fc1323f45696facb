"""Row blocks of the overlap step: bounded by the memory budget, exact against brute force."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from vieweratlas import overlap
from vieweratlas.bots import bot_user_mask


def random_window(seed: int, channels: int = 40, users: int = 300, rows: int = 1500, days: int = 4):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(days):
        # skewed channel sizes: channel 0 is far bigger than the rest (one "big row")
        c = np.minimum(rng.geometric(0.08, rows) - 1, channels - 1).astype(np.int64)
        u = rng.integers(0, users, rows).astype(np.int64) * 7919 + 10**9  # sparse, large ids
        out.append((c, u))
    return overlap.build_incidence(out)


def brute(inc: overlap.Incidence, weighting: str) -> np.ndarray:
    dense = inc.days.toarray().astype(np.int64)
    if weighting == "unique":
        b = (dense > 0).astype(np.int64)
        return b @ b.T
    return np.minimum(dense[:, None, :], dense[None, :, :]).sum(axis=2)


def test_the_budget_bounds_the_block_size():
    small, default = overlap.block_cells(300), overlap.block_cells(1200)
    assert overlap.MIN_BLOCK_CELLS <= small < default <= overlap.BLOCK_CELLS
    assert small * overlap.BYTES_PER_CELL * overlap.BLOCK_SHARE <= 300 * 2**20
    assert overlap.block_cells(10**6) == overlap.BLOCK_CELLS  # a cap, whatever the budget
    assert overlap.block_cells(1) == overlap.MIN_BLOCK_CELLS


def test_row_blocks_hold_at_most_the_limit_unless_one_row_exceeds_it():
    cells = np.array([5, 5, 5, 30, 1, 1, 9, 0, 2])
    blocks = overlap.row_blocks(cells, 10, max_rows=100)
    assert blocks == [(0, 2), (2, 3), (3, 4), (4, 6), (6, 8), (8, 9)]
    for start, stop in blocks:
        assert cells[start:stop].sum() <= 10 or stop - start == 1
    assert overlap.row_blocks(cells, 100, max_rows=4) == [(0, 4), (4, 8), (8, 9)]


@pytest.mark.parametrize("weighting", ["unique", "repeat"])
@pytest.mark.parametrize("cells", [overlap.BLOCK_CELLS, 200, 1])
def test_blocks_are_exact_and_within_the_limit(weighting, cells):
    inc = random_window(11)
    expected = np.triu(brute(inc, weighting), 1)
    level = overlap._levels(inc, weighting)[0]
    got = np.zeros_like(expected)
    for start, block in overlap.weight_blocks(inc, weighting, cells):
        rows = block.shape[0]
        assert level.cells[start : start + rows].sum() <= cells or rows == 1
        assert np.all(np.diff(block.indices[block.indptr[0] : block.indptr[1]]) > 0)
        coo = block.tocoo()
        got[coo.row + start, coo.col] += coo.data.astype(np.int64)
    assert np.array_equal(got, expected)
    assert level.cells.sum() == sum(  # upper pair incidences: d (d - 1) / 2 per user
        d * (d - 1) // 2 for d in np.diff(inc.days.indptr).tolist()
    )


@pytest.mark.parametrize("weighting", ["unique", "repeat"])
@pytest.mark.parametrize("row_run", [overlap.ROW_RUN, 5])  # whole rows chosen a few at a time
@pytest.mark.parametrize(
    ("rows", "paths"),
    [
        (300, [True, True, False]),  # sparse: whole rows unless one block holds the triangle
        (1500, [False, False, False]),  # dense (35 incidences a pair): the upper triangle
    ],
)
def test_backbone_and_neighbors_match_brute_force_with_tiny_blocks(
    weighting, row_run, rows, paths, monkeypatch
):
    monkeypatch.setattr(overlap, "ROW_RUN", row_run)
    inc = random_window(3, rows=rows)
    w = brute(inc, weighting).astype(float)
    own = np.diag(w).copy()
    off = w - np.diag(own)
    score = off / np.sqrt(np.outer(own, own))
    k = 3
    expected = set()
    for a in range(len(w)):
        order = sorted((c for c in range(len(w)) if off[a, c] > 0), key=lambda c: (-score[a, c], c))
        expected |= {(min(a, c), max(a, c)) for c in order[:k]}
    assert [overlap.whole_rows(inc, c) for c in (1, 50, 10**6)] == paths
    for cells in (1, 50, 10**6):
        kept, near = overlap.select(inc, weighting, top_k=k, cells=cells)
        assert set(zip(kept.src.tolist(), kept.dst.tolist(), strict=True)) == expected
        assert np.allclose(kept.score, score[kept.src, kept.dst])
        for a in (0, 1, 17):
            ranked = sorted(
                (c for c in range(len(w)) if off[a, c] > 0), key=lambda c: (-off[a, c], c)
            )
            assert near.neighbor[near.channel == a].tolist() == ranked[: overlap.NEIGHBORS]


def test_row_runs_cover_the_rows_and_never_split_one(monkeypatch):
    monkeypatch.setattr(overlap, "ROW_RUN", 7)
    rng = np.random.default_rng(5)
    rows = np.repeat(np.arange(150, dtype=np.int32), rng.integers(1, 6, 150))
    runs = overlap._row_runs(rows)
    assert runs[0][0] == 0 and runs[-1][1] == len(rows)
    assert all(b == c for (_, b), (c, _) in pairwise(runs))
    assert all(rows[a - 1] != rows[a] for a, _ in runs[1:])  # each run starts a row
    assert all(b - a < 7 + 5 for a, b in runs)  # about ROW_RUN entries (rows <= 5 long)
    assert overlap._row_runs(np.zeros(0, np.int32)) == [(0, 0)]


@pytest.mark.parametrize("rows_span", [50, 200_000])  # int32 pack, and the 64-bit one
def test_row_top_equals_an_exact_sort_with_ties(rows_span):
    rng = np.random.default_rng(rows_span)
    n = 20_000
    rows = rng.integers(0, rows_span, n).astype(np.int32)
    cols = rng.integers(0, 10_000, n).astype(np.int32)
    key = np.round(rng.random(n), 2)  # many exact ties
    key[::7] = key[::7] + 1e-12  # ties in float32 only: ordered by the float64 key
    pick = overlap._row_top(rows, cols, key, 4)
    order = np.lexsort((cols, -key, rows))
    first = np.flatnonzero(np.diff(rows[order], prepend=-1) != 0)
    rank = np.arange(n) - np.repeat(first, np.diff(first, append=n))
    assert pick.tolist() == order[rank < 4].tolist()
    assert np.array_equal(overlap._exact_order(rows, cols, key), order)


def test_filter_window_equals_drop_users_then_keep_channels():
    inc = random_window(5, channels=30, users=3000)
    mask, known, heuristic = bot_user_mask(
        inc.user_ids, inc.channels_per_user, 30, inc.user_ids[:3], 0.1
    )
    assert known == 3 and heuristic > 10
    expected = overlap.keep_channels(overlap.drop_users(inc, mask), 60)
    bots = inc.user_ids[mask]
    got = overlap.filter_window(inc, mask, 60)  # consumes inc
    assert not np.isin(bots, got.user_ids).any()
    assert 0 < len(got.channel_ids) < 30
    assert np.array_equal(got.channel_ids, expected.channel_ids)
    assert np.array_equal(got.user_ids, expected.user_ids)
    assert got.days.shape == expected.days.shape
    assert (got.days != expected.days).nnz == 0


@pytest.mark.parametrize("cells", [1, overlap.BLOCK_CELLS])
def test_tied_scores_keep_only_the_lowest_channels(cells):
    # Channel 0 shares one chatter with each of 1..4 (equal scores: a 4-way tie for its
    # top 1); each of 1..4 shares 5 chatters with its partner 5..8, which it keeps.
    c, u = [], []
    for leaf in range(1, 5):
        c += [0, leaf]
        u += [leaf, leaf]
        for j in range(5):
            c += [leaf, leaf + 4]
            u += [100 * leaf + j] * 2
    inc = overlap.build_incidence([(np.array(c, np.int64), np.array(u, np.int64))])
    kept, _ = overlap.select(inc, "unique", top_k=1, cells=cells)
    edges = sorted(zip(kept.src.tolist(), kept.dst.tolist(), strict=True))
    assert edges == [(0, 1), (1, 5), (2, 6), (3, 7), (4, 8)]
