"""Overlap: exact shared-chatter counts for every channel pair, and a top-k backbone.

The window becomes a sparse channel × user matrix ``A`` (CSC: users are
columns) whose entries are the days a user was seen in a channel. Building it
takes one sort of 64-bit (user, channel) keys; no hashing of user ids.

For every user, every pair of its channels (a, b) adds to ``W[a, b]``:

- ``unique``: 1, so ``W`` counts shared chatters;
- ``repeat``: ``min(days in a, days in b)``, exactly the loyalty weight.

Pairs are enumerated by offset (entry p with entry p+k of the same user
column, k = 1, 2, ...), all users at once, and summed with ``np.bincount``:
the work is the number of (user, channel pair) incidences, and no Python loop
ever runs over pairs or users. The diagonal is each channel's own weight, so
the cosine score is ``W_ab / sqrt(W_aa · W_bb)`` for both weightings (for
``repeat`` it is at most 1 because min(a, b) <= sqrt(a·b)). Each channel keeps
its ``k`` best neighbours (ties broken by the lower channel id); the backbone is
the union of those choices. ``W`` is dense: channels² × 8 bytes (200 MB at 5,000).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

BLOCK_ROWS = 512
BINCOUNT_CHUNK = 16_000_000


@dataclass
class Incidence:
    """The window as a sparse channel × user matrix of days seen (int32, CSC)."""

    channel_ids: np.ndarray  # int64, sorted; row i
    user_ids: np.ndarray  # int64, sorted; column j
    days: sp.csc_matrix  # canonical: channel rows ascending within each user column

    @property
    def chatters(self) -> np.ndarray:
        """Unique chatters per channel."""
        return np.bincount(self.days.indices, minlength=self.days.shape[0]).astype(np.int64)

    @property
    def channels_per_user(self) -> np.ndarray:
        """Distinct channels each user was seen in."""
        return np.diff(self.days.indptr)


@dataclass
class Backbone:
    """Kept edges between rows of an :class:`Incidence` (src < dst)."""

    src: np.ndarray  # int32
    dst: np.ndarray  # int32
    weight: np.ndarray  # float64: shared chatters, or repeat weight
    score: np.ndarray  # float64: cosine
    pairs_with_overlap: int  # channel pairs sharing at least one chatter (before the backbone)

    def table(self) -> pa.Table:
        from vieweratlas.schema import GRAPH_EDGES

        return pa.table(
            {"src": self.src, "dst": self.dst, "weight": self.weight, "score": self.score},
            schema=GRAPH_EDGES,
        )


def distinct_day_pairs(channel_id: np.ndarray, user_id: np.ndarray) -> tuple[np.ndarray, ...]:
    """One day's distinct (channel, user) pairs, sorted by channel then user.

    Daily presence is written sorted by (channel, user, source), so a user seen
    live and on VOD the same day sits in adjacent rows and one comparison with
    the previous row finds it; unsorted input is sorted first.
    """
    if len(channel_id) == 0:
        return channel_id, user_id
    dch, du = np.diff(channel_id), np.diff(user_id)
    if not bool(np.all((dch > 0) | ((dch == 0) & (du >= 0)))):
        order = np.lexsort((user_id, channel_id))
        return distinct_day_pairs(channel_id[order], user_id[order])
    keep = np.empty(len(channel_id), dtype=bool)
    keep[0] = True
    keep[1:] = (dch != 0) | (du != 0)
    if keep.all():
        return channel_id, user_id
    return channel_id[keep], user_id[keep]


def build_incidence(days: list[tuple[np.ndarray, np.ndarray]]) -> Incidence:
    """The window's matrix from per-day (channel_id, user_id) int64 arrays of daily presence."""
    pairs = [distinct_day_pairs(np.asarray(c, np.int64), np.asarray(u, np.int64)) for c, u in days]
    runs = []  # per day: the channel id of each run of equal channel ids, and its length
    for channel_id, _ in pairs:
        starts = np.flatnonzero(np.diff(channel_id, prepend=-1) != 0)
        runs.append((channel_id[starts], np.diff(starts, append=len(channel_id))))
    channel_ids = np.unique(np.concatenate([r[0] for r in runs] + [np.zeros(0, np.int64)]))
    n = max(len(channel_ids), 1)
    if any(len(u) and u.max() >= np.iinfo(np.int64).max // n for _, u in pairs):
        raise ValueError("user ids too large to key (user, channel) pairs")
    keys = np.empty(sum(len(u) for _, u in pairs), dtype=np.int64)  # user * n + row, in place
    at = 0
    for (_, user_id), (values, lengths) in zip(pairs, runs, strict=True):
        part = keys[at : at + len(user_id)]
        np.multiply(user_id, n, out=part)
        part += np.repeat(np.searchsorted(channel_ids, values), lengths)
        at += len(user_id)
    del pairs
    keys.sort()
    first = np.flatnonzero(np.diff(keys, prepend=-1) != 0)
    count = np.diff(first, append=len(keys)).astype(np.int32)
    keys = keys[first]
    user, channel = keys // n, (keys % n).astype(np.int32)
    del keys
    col_start = np.flatnonzero(np.diff(user, prepend=-1) != 0)
    indptr = np.append(col_start, len(user)).astype(np.int64)
    matrix = sp.csc_matrix((count, channel, indptr), shape=(len(channel_ids), len(col_start)))
    return Incidence(channel_ids, user[col_start], matrix)


def drop_users(incidence: Incidence, mask: np.ndarray) -> Incidence:
    """The matrix without the users in ``mask``; the count removed is ``nnz`` before - after."""
    keep = ~mask
    matrix = incidence.days
    entry_keep = np.repeat(keep, np.diff(matrix.indptr))
    indptr = np.concatenate([[0], np.cumsum(np.diff(matrix.indptr)[keep])])
    days = sp.csc_matrix(
        (matrix.data[entry_keep], matrix.indices[entry_keep], indptr),
        shape=(matrix.shape[0], int(keep.sum())),
    )
    return Incidence(incidence.channel_ids, incidence.user_ids[keep], days)


def keep_channels(incidence: Incidence, min_chatters: int) -> Incidence:
    """Only channels with at least ``min_chatters`` unique chatters (users left empty dropped)."""
    keep = incidence.chatters >= min_chatters
    matrix = incidence.days
    new_row = np.cumsum(keep) - 1
    entry_keep = keep[matrix.indices]
    column = np.repeat(np.arange(matrix.shape[1]), np.diff(matrix.indptr))
    per_user = np.bincount(column[entry_keep], minlength=matrix.shape[1])
    users = per_user > 0
    indptr = np.concatenate([[0], np.cumsum(per_user[users])])
    days = sp.csc_matrix(
        (matrix.data[entry_keep], new_row[matrix.indices[entry_keep]].astype(np.int32), indptr),
        shape=(int(keep.sum()), int(users.sum())),
    )
    return Incidence(incidence.channel_ids[keep], incidence.user_ids[users], days)


def upper_weights(incidence: Incidence, weighting: str) -> tuple[np.ndarray, np.ndarray]:
    """``W`` above the diagonal (dense, channels × channels, zero elsewhere), and its diagonal."""
    matrix = incidence.days
    n, nnz = matrix.shape[0], matrix.nnz
    indices, data = matrix.indices.astype(np.int64), matrix.data
    own = np.bincount(indices, weights=data if weighting == "repeat" else None, minlength=n)
    later = np.repeat(matrix.indptr[1:], np.diff(matrix.indptr)) - np.arange(nnz) - 1
    flat: np.ndarray | None = None
    batch_keys: list[np.ndarray] = []
    batch_w: list[np.ndarray] = []

    def flush(flat: np.ndarray | None) -> np.ndarray | None:
        if batch_keys:
            w = np.concatenate(batch_w) if weighting == "repeat" else None
            counts = np.bincount(np.concatenate(batch_keys), weights=w, minlength=n * n)
            flat = counts if flat is None else np.add(flat, counts, out=flat)
            batch_keys.clear()
            batch_w.clear()
        return flat

    active, offset, pending = np.flatnonzero(later >= 1), 1, 0
    while active.size:
        batch_keys.append(indices[active] * n + indices[active + offset])
        if weighting == "repeat":
            batch_w.append(np.minimum(data[active], data[active + offset]))
        pending += active.size
        if pending >= BINCOUNT_CHUNK:
            flat, pending = flush(flat), 0
        offset += 1
        active = active[later[active] >= offset]
    flat = flush(flat)
    if flat is None:
        flat = np.zeros(n * n, dtype=np.float64)
    return flat.reshape(n, n), own.astype(np.float64)


def weights(incidence: Incidence, weighting: str) -> np.ndarray:
    """Dense symmetric ``W`` (channels × channels); the diagonal is each channel's own weight."""
    upper, own = upper_weights(incidence, weighting)
    full = (upper + upper.T).astype(np.float64)
    full[np.arange(len(own)), np.arange(len(own))] = own
    return full


def _top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Mask of each row's k highest positive scores, ties to the lowest column."""
    n = scores.shape[1]
    if k >= n:
        return scores > 0
    kth = np.partition(scores, n - k, axis=1)[:, n - k][:, None]
    above = scores > kth
    tied = scores == kth
    room = k - above.sum(axis=1, keepdims=True)
    chosen = above | (tied & (np.cumsum(tied, axis=1) <= room))
    return chosen & (scores > 0)


def backbone(incidence: Incidence, weighting: str, top_k: int, min_shared: int = 1) -> Backbone:
    """Cosine scores of every channel pair and the union of each channel's top k."""
    upper, own = upper_weights(incidence, weighting)
    n = len(own)
    pairs = int(np.count_nonzero(upper))
    empty = np.zeros(0, np.int64)
    found: list[tuple[np.ndarray, ...]] = [(empty, empty, np.zeros(0), np.zeros(0))]
    for start in range(0, n, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, n)
        block = upper[start:stop] + upper[:, start:stop].T  # rows of the symmetric W
        block[block < min_shared] = 0
        with np.errstate(divide="ignore", invalid="ignore"):
            scores = np.where(block > 0, block / np.sqrt(own[start:stop, None] * own), 0.0)
        r, c = np.nonzero(_top_k(scores, top_k))
        found.append((r + start, c, block[r, c], scores[r, c]))
    del upper
    src, dst, weight, score = (np.concatenate(x) for x in zip(*found, strict=True))
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    _, first = np.unique(lo.astype(np.int64) * n + hi, return_index=True)
    return Backbone(
        src=lo[first].astype(np.int32),
        dst=hi[first].astype(np.int32),
        weight=weight[first].astype(np.float64),
        score=score[first].astype(np.float64),
        pairs_with_overlap=pairs,
    )
