"""The bot heuristic's boundary: "more than a share of all channels", exactly."""

from __future__ import annotations

import numpy as np

from vieweratlas.bots import bot_user_mask


def test_a_user_at_exactly_the_share_is_kept_one_more_channel_is_a_bot():
    # 10 channels, share 0.2: the threshold is 2 channels; more than that is a bot
    user_ids = np.array([1, 2, 3, 4], np.int64)
    channels_per_user = np.array([1, 2, 3, 10], np.int64)
    mask, known, heuristic = bot_user_mask(user_ids, channels_per_user, 10, np.array([]), 0.2)
    assert user_ids[mask].tolist() == [3, 4]
    assert (known, heuristic) == (0, 2)


def test_the_boundary_holds_for_a_share_that_is_not_a_whole_channel_count():
    # 7 channels x 0.5 = 3.5: 3 channels is under, 4 is over
    mask, _, _ = bot_user_mask(np.array([1, 2]), np.array([3, 4]), 7, np.array([]), 0.5)
    assert mask.tolist() == [False, True]


def test_known_bots_are_found_whether_user_ids_are_sorted_or_not():
    rng = np.random.default_rng(1)
    users = np.unique(rng.integers(0, 10**9, 5000))
    known = np.concatenate([users[[0, 17, 4999]], users[[100]] + 1, [10**9 + 1]])  # 3 present
    for ids in (users, users[::-1].copy()):
        mask, found, _ = bot_user_mask(ids, np.ones(len(ids)), 10, known, 0.5)
        assert np.array_equal(mask, np.isin(ids, known)) and found == 3
