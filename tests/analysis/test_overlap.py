"""Overlap: exact weights for both weightings, de-duplication, bots, the top-k backbone."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from vieweratlas.bots import blocklist, bot_user_mask
from vieweratlas.overlap import (
    _row_top,
    backbone,
    build_incidence,
    distinct_day_pairs,
    drop_users,
    keep_channels,
    weights,
)

# Three channels (ids 10, 20, 30); users 1-4; two days.
#   day 1: 10 {1, 2, 3}, 20 {1, 2}, 30 {3, 4}
#   day 2: 10 {1, 2},    20 {1},    30 {4}      (user 1 also on VOD in 10: same day, once)
DAY1 = ([10, 10, 10, 20, 20, 30, 30], [1, 2, 3, 1, 2, 3, 4])
DAY2 = ([10, 10, 10, 20, 30], [1, 1, 2, 1, 4])


def incidence():
    return build_incidence([tuple(np.array(a, np.int64) for a in d) for d in (DAY1, DAY2)])


def test_days_seen_counts_each_day_once():
    inc = incidence()
    assert inc.channel_ids.tolist() == [10, 20, 30]
    assert inc.user_ids.tolist() == [1, 2, 3, 4]
    assert inc.days.toarray().tolist() == [[2, 2, 1, 0], [2, 1, 0, 0], [0, 0, 1, 2]]
    assert inc.chatters.tolist() == [3, 2, 2]


def test_unique_weights_by_hand():
    # shared users: 10-20 {1, 2} = 2, 10-30 {3} = 1, 20-30 {} = 0; diagonal = chatters
    assert weights(incidence(), "unique").toarray().tolist() == [[3, 2, 1], [2, 2, 0], [1, 0, 2]]


def test_repeat_weights_by_hand():
    # 10-20: user 1 min(2, 2) + user 2 min(2, 1) = 3; 10-30: user 3 min(1, 1) = 1
    assert weights(incidence(), "repeat").toarray().tolist() == [[5, 3, 1], [3, 3, 0], [1, 0, 3]]


def test_repeat_weights_match_brute_force_on_random_data():
    rng = np.random.default_rng(3)
    days = []
    for _ in range(4):
        c = rng.integers(0, 8, 300).astype(np.int64)
        u = rng.integers(0, 60, 300).astype(np.int64)
        days.append((c, u))
    inc = build_incidence(days)
    dense = inc.days.toarray()
    expected = np.array(
        [
            [np.minimum(dense[a], dense[b]).sum() for b in range(len(dense))]
            for a in range(len(dense))
        ]
    )
    assert np.array_equal(weights(inc, "repeat").toarray(), expected)
    binary = (dense > 0).astype(int)
    assert np.array_equal(weights(inc, "unique").toarray(), binary @ binary.T)


def test_unsorted_day_is_deduplicated():
    c, u = distinct_day_pairs(np.array([30, 10, 10, 30]), np.array([4, 1, 1, 4]))
    assert list(zip(c.tolist(), u.tolist(), strict=True)) == [(10, 1), (30, 4)]


def test_scores_and_backbone_with_min_shared():
    kept = backbone(incidence(), "unique", top_k=5)
    edges = list(zip(kept.src.tolist(), kept.dst.tolist(), strict=True))
    assert edges == [(0, 1), (0, 2)]
    assert kept.weight.tolist() == [2.0, 1.0]
    assert kept.score.tolist() == pytest.approx([2 / np.sqrt(6), 1 / np.sqrt(6)])
    assert kept.pairs_with_overlap == 2
    raw = backbone(incidence(), "unique", top_k=5, min_shared=2)
    assert list(zip(raw.src.tolist(), raw.dst.tolist(), strict=True)) == [(0, 1)]


def test_top_k_ties_go_to_the_lowest_index():
    scores = np.array([[0.0, 0.5, 0.5, 0.5, 0.9], [0.1, 0.0, 0.1, 0.1, 0.0]])
    rows, cols = np.nonzero(scores)
    chosen = np.zeros(scores.shape, bool)
    pick = _row_top(rows, cols, scores[rows, cols], 2)
    chosen[rows[pick], cols[pick]] = True
    assert chosen.tolist() == [
        [False, True, False, False, True],
        [True, False, True, False, False],
    ]


def test_backbone_is_union_of_each_channels_top_k():
    # A star: channel 0 shares 1 user with each of 1..4; 1..4 share nothing else.
    c = np.array([0, 0, 0, 0, 1, 2, 3, 4], np.int64)
    u = np.array([1, 2, 3, 4, 1, 2, 3, 4], np.int64)
    kept = backbone(build_incidence([(c, u)]), "unique", top_k=1)
    # Channel 0's own top-1 is channel 1 (tie, lowest id), but every leaf keeps 0.
    assert list(zip(kept.src.tolist(), kept.dst.tolist(), strict=True)) == [
        (0, 1),
        (0, 2),
        (0, 3),
        (0, 4),
    ]


def test_bots_blocklist_and_heuristic():
    assert {"nightbot", "streamelements", "moobot", "fossabot", "sery_bot"} <= blocklist()
    # user 99 is in all 4 channels (heuristic), user 7 is a known bot in 1 channel
    c = np.array([1, 2, 3, 4, 1, 1, 2], np.int64)
    u = np.array([99, 99, 99, 99, 7, 5, 6], np.int64)
    inc = build_incidence([(c, u)])
    mask, known, heuristic = bot_user_mask(
        inc.user_ids, inc.channels_per_user, 4, np.array([7]), 0.5
    )
    assert (known, heuristic) == (1, 1)
    assert inc.user_ids[mask].tolist() == [7, 99]
    cleaned = drop_users(inc, mask)
    assert cleaned.user_ids.tolist() == [5, 6]
    assert inc.days.nnz - cleaned.days.nnz == 5
    assert keep_channels(cleaned, 1).channel_ids.tolist() == [1, 2]


def test_no_loop_over_pairs_needed_for_many_channels():
    # 40 channels, every pair shares exactly user 0 plus its own users.
    c = np.concatenate([np.arange(40), np.arange(40)]).astype(np.int64)
    u = np.concatenate([np.zeros(40), np.arange(1, 41)]).astype(np.int64)
    w = weights(build_incidence([(c, u)]), "unique").toarray()
    off = w[~np.eye(40, dtype=bool)]
    assert (off == 1).all() and len(off) == len(list(itertools.permutations(range(40), 2)))
