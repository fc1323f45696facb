"""Overlap: exact shared-chatter counts for every channel pair, and a top-k backbone.

The window becomes a sparse channel × user matrix ``A`` (CSC: users are
columns) whose entries are the days a user was seen in a channel. Building it
takes one in-place sort of 64-bit (user, channel row) keys; no hashing of user ids.

For every user, every pair of its channels (a, b) adds to ``W[a, b]``:

- ``unique``: 1, so ``W`` counts shared chatters: ``W = B Bᵀ`` with ``B = (A ≥ 1)``;
- ``repeat``: ``min(days in a, days in b)``, exactly the loyalty weight. As
  ``min(x, y) = Σ_t [x ≥ t][y ≥ t]``, ``W = Σ_t B_t B_tᵀ`` with ``B_t = (A ≥ t)``,
  t = 1 … the longest run of days (most users are seen one day, so the extra
  levels are small).

``W`` is computed as sparse products, one block of channel rows at a time
(SciPy's sparse matrix product; no channel × channel array ever exists), so
memory is bounded by the block, whatever the channel count; time grows with
the number of (user, channel pair) incidences. Each block holds complete rows
of the symmetric ``W``, so each channel's top k by cosine
``W_ab / sqrt(W_aa · W_bb)`` (ties to the lower channel row) and its top
neighbours by shared weight are chosen in the same pass; the backbone is the
union of the top-k choices. The upper triangle (src < dst, weight ≥ min_shared)
streams out as the ``pairs`` work file.

The same selection runs from a ``pairs`` file (``top_from_pairs``): for an
imported edge list, or pair counts from another engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from vieweratlas.memory import release_memory

T = TypeVar("T")

#: (user, channel pair) incidences of one row block of ``W``, at most (see ``block_cells``).
BLOCK_CELLS = 1 << 23
MIN_BLOCK_CELLS = 1 << 16
#: Bytes a row block holds per incidence at most, and its share (1 / n) of the budget.
BYTES_PER_CELL = 48
BLOCK_SHARE = 6  # a block is being chosen from while the next one is counted
#: Sort/compaction chunk of the incidence build (bounds int64 temporaries).
CHUNK = 1 << 22
#: Neighbours listed per channel in ``channel_neighbors``.
NEIGHBORS = 20
#: Measured on 5,000-channel windows (docs/scaling.md): at 1.8 upper-triangle incidences per
#: possible pair whole rows took 0.91x the time and 0.72x the memory; at 9.1, 1.2x the time.
WHOLE_ROWS_INCIDENCES_PER_PAIR = 4
#: Entries of whole rows chosen from at a time (a few MB of arrays: cache-sized).
ROW_RUN = 1 << 17

PAIRS = pa.schema(
    [
        pa.field("src", pa.int32(), nullable=False),  # row of channels.parquet
        pa.field("dst", pa.int32(), nullable=False),  # row, always > src
        pa.field("weight", pa.float64(), nullable=False),  # exact shared (or repeat) weight
    ],
    metadata={"vieweratlas.schema": "pairs/1"},
)
"""The ``pairs`` work file: every channel pair with weight >= min_shared."""
#: How ``pairs`` is written: src and dst delta-encoded (src runs, dst ascending within a
#: run), weights dictionary-encoded; half the size of dictionary ids, faster both ways.
PAIRS_ENCODING = {
    "compression": "zstd",
    "use_dictionary": ["weight"],
    "column_encoding": {"src": "DELTA_BINARY_PACKED", "dst": "DELTA_BINARY_PACKED"},
}

NEIGHBOR_ROWS = pa.schema(
    [
        pa.field("channel", pa.int32(), nullable=False),  # row of channels.parquet
        pa.field("rank", pa.int16(), nullable=False),  # 1 = most shared
        pa.field("neighbor", pa.int32(), nullable=False),
        pa.field("shared", pa.float64(), nullable=False),
    ],
    metadata={"vieweratlas.schema": "neighbor_rows/1"},
)
"""The ``neighbors`` work file: each channel's top neighbours by shared weight (rows)."""


@dataclass
class Incidence:
    """The window as a sparse channel × user matrix of days seen (int16, CSC)."""

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

    def self_weight(self, weighting: str) -> np.ndarray:
        """Each channel's own weight (``W``'s diagonal): chatters, or days summed."""
        data = self.days.data if weighting == "repeat" else None
        return np.bincount(self.days.indices, weights=data, minlength=self.days.shape[0])


@dataclass
class Backbone:
    """Kept edges between channel rows (src < dst)."""

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


@dataclass
class Neighbors:
    """Each channel's top neighbours by shared weight (rows of channels.parquet)."""

    channel: np.ndarray  # int32
    rank: np.ndarray  # int16, 1 = most shared
    neighbor: np.ndarray  # int32
    shared: np.ndarray  # float64

    def table(self) -> pa.Table:
        columns = [self.channel, self.rank, self.neighbor, self.shared]
        return pa.table(columns, schema=NEIGHBOR_ROWS)


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


class PresenceBuffer:
    """The window's distinct (channel, user) pairs, day by day, in one int64 buffer.

    User ids go into one preallocated array (later turned into sort keys in
    place); channel ids are kept as runs. A day arrives in sorted batches
    (``add``, as daily presence is written sorted by channel then user) or
    whole (``add_day``, sorted here).
    """

    def __init__(self, capacity: int) -> None:
        self.users = np.empty(capacity, dtype=np.int64)
        self.size = 0
        self.channels: list[np.ndarray] = []
        self.lengths: list[np.ndarray] = []
        self._last = (-1, -1)
        self._mark = (0, 0)

    def start_day(self) -> None:
        self._last = (-1, -1)
        self._mark = (self.size, len(self.channels))

    def rollback_day(self) -> None:
        """Forget what ``add`` took of the current day (it turned out unsorted)."""
        self.size = self._mark[0]
        del self.channels[self._mark[1] :], self.lengths[self._mark[1] :]
        self._last = (-1, -1)

    def add(self, channel_id: np.ndarray, user_id: np.ndarray) -> bool:
        """Append a sorted batch of the current day; False (nothing taken) if unsorted."""
        if len(channel_id) == 0:
            return True
        c0, u0 = int(channel_id[0]), int(user_id[0])
        if (c0, u0) < self._last:
            return False
        dch, du = np.diff(channel_id), np.diff(user_id)
        if not bool(np.all((dch > 0) | ((dch == 0) & (du >= 0)))):
            return False
        run = np.empty(len(channel_id), dtype=bool)  # first row of a channel run
        run[0] = True
        np.not_equal(dch, 0, out=run[1:])
        keep = run.copy()  # rows repeating the row before (same channel and user) go
        keep[0] = (c0, u0) != self._last
        np.logical_or(keep[1:], du != 0, out=keep[1:])
        self._last = (int(channel_id[-1]), int(user_id[-1]))
        self._append(channel_id, user_id, run, None if keep.all() else keep)
        return True

    def add_day(self, channel_id: np.ndarray, user_id: np.ndarray) -> None:
        """Append a whole day in any order (sorted and de-duplicated here)."""
        self.start_day()
        channel_id, user_id = distinct_day_pairs(np.asarray(channel_id), np.asarray(user_id))
        run = np.empty(len(channel_id), dtype=bool)
        run[:1] = True
        np.not_equal(channel_id[1:], channel_id[:-1], out=run[1:])
        self._append(channel_id, user_id, run, None)

    def _append(self, channel_id, user_id, run: np.ndarray, keep: np.ndarray | None) -> None:
        """Rows of a sorted batch (``keep``: the distinct ones, None = all); ``run``
        marks each channel's first row (always kept unless it repeats the batch before)."""
        taken = len(user_id) if keep is None else int(np.count_nonzero(keep))
        if self.size + taken > len(self.users):
            grown = np.empty(max(2 * len(self.users), self.size + taken), np.int64)
            grown[: self.size] = self.users[: self.size]
            self.users = grown
        out = self.users[self.size : self.size + taken]
        if keep is None:
            out[:] = user_id
        else:
            np.compress(keep, user_id, out=out)
        self.size += taken
        starts = np.flatnonzero(run)
        if keep is None:
            lengths = np.diff(starts, append=len(user_id))
        else:  # kept rows per run; a run left empty (its one row repeated the batch before) goes
            lengths = np.add.reduceat(keep, starts, dtype=np.int64)
            starts, lengths = starts[lengths > 0], lengths[lengths > 0]
        self.channels.append(np.asarray(channel_id[starts], np.int64))
        self.lengths.append(lengths)


def build_incidence(days) -> Incidence:
    """The window's matrix from a ``PresenceBuffer`` or a list of (channel_id, user_id) days.

    The buffer is consumed: its user ids become (user, channel row) keys in place.
    """
    if isinstance(days, PresenceBuffer):
        window = days
    else:
        window = PresenceBuffer(sum(len(u) for _, u in days))
        for channel_id, user_id in days:
            window.add_day(np.asarray(channel_id, np.int64), np.asarray(user_id, np.int64))
    empty = np.zeros(0, np.int64)
    channel_ids = np.unique(np.concatenate([*window.channels, empty]))
    n = max(len(channel_ids), 1)
    total = window.size
    keys = window.users[:total]
    window.users = empty
    if total and keys.max() >= np.iinfo(np.int64).max // n:
        raise ValueError("user ids too large to key (user, channel) pairs")
    at = 0
    part = chunk = empty
    for values, lengths in zip(window.channels, window.lengths, strict=True):
        rows = np.repeat(np.searchsorted(channel_ids, values), lengths)
        part = keys[at : at + len(rows)]
        part *= n
        part += rows
        at += len(rows)
    window.channels, window.lengths = [], []
    keys.sort()
    repeats = 0  # keys equal to the one before, counted first: the outputs are allocated once
    for lo in range(0, total - 1, CHUNK):
        hi = min(lo + CHUNK, total - 1)
        repeats += int(np.count_nonzero(keys[lo + 1 : hi + 1] == keys[lo:hi]))
    unique = total - repeats
    index = np.int32 if unique < np.iinfo(np.int32).max else np.int64
    count = np.empty(unique, dtype=np.int16)  # days seen (<= window days)
    rows = np.empty(unique, dtype=np.int32)
    starts: list[np.ndarray] = []  # first entry of each user
    users: list[np.ndarray] = []
    done = lo = 0
    previous = -1
    while lo < total:  # chunks end where a key changes: runs never straddle two chunks
        hi = min(lo + CHUNK, total)
        while hi < total and keys[hi] == keys[hi - 1]:
            hi += 1
        chunk = keys[lo:hi]
        new = np.empty(len(chunk), dtype=bool)
        new[0] = True
        np.not_equal(chunk[1:], chunk[:-1], out=new[1:])
        first = np.flatnonzero(new)
        m = len(first)
        count[done : done + m] = np.diff(first, append=len(chunk))
        user, row = np.divmod(chunk[first], n)
        rows[done : done + m] = row
        new_user = np.empty(m, dtype=bool)
        new_user[0] = user[0] != previous
        np.not_equal(user[1:], user[:-1], out=new_user[1:])
        starts.append((np.flatnonzero(new_user) + done).astype(index))
        users.append(user[new_user])
        previous = user[-1]
        done += m
        lo = hi
    del keys, chunk, part  # views of the buffer: the last references to it
    col_start = np.concatenate([*starts, np.zeros(0, index)])
    user_ids = np.concatenate([*users, empty])
    indptr = np.append(col_start, unique).astype(index)
    matrix = sp.csc_matrix((count, rows, indptr), shape=(len(channel_ids), len(col_start)))
    return Incidence(channel_ids, user_ids, matrix)


def drop_users(incidence: Incidence, mask: np.ndarray) -> Incidence:
    """The matrix without the users in ``mask``; the count removed is ``nnz`` before - after."""
    entry_keep = np.repeat(~mask, np.diff(incidence.days.indptr))
    return _subset(incidence, entry_keep, np.ones(incidence.days.shape[0], bool), in_place=False)


def keep_channels(incidence: Incidence, min_chatters: int) -> Incidence:
    """Only channels with at least ``min_chatters`` unique chatters (users left empty dropped)."""
    keep = incidence.chatters >= min_chatters
    return _subset(incidence, keep[incidence.days.indices], keep, in_place=False)


def filter_window(incidence: Incidence, mask: np.ndarray, min_chatters: int) -> Incidence:
    """``keep_channels(drop_users(incidence, mask), min_chatters)``, compacted in place.

    The incidence passed in is consumed (its arrays are reused): the window is
    never held twice.
    """
    matrix = incidence.days
    per_user = np.diff(matrix.indptr)
    dropped = np.repeat(mask, per_user)
    chatters = incidence.chatters - np.bincount(matrix.indices[dropped], minlength=matrix.shape[0])
    keep = chatters >= min_chatters
    np.logical_not(dropped, out=dropped)
    dropped &= keep[matrix.indices]  # now: entries kept
    return _subset(incidence, dropped, keep, in_place=True)


def _subset(
    incidence: Incidence, entry_keep: np.ndarray, channel_keep: np.ndarray, in_place: bool
) -> Incidence:
    """The entries in ``entry_keep`` (none in a channel outside ``channel_keep``).

    Channels are renumbered, users left without entries dropped. ``in_place``
    compacts the matrix's own arrays chunk by chunk (the writes stay behind the reads).
    """
    matrix = incidence.days
    new_row = (np.cumsum(channel_keep) - 1).astype(np.int32)
    per_user = np.add.reduceat(entry_keep, matrix.indptr[:-1]) if matrix.nnz else None
    if per_user is None:
        per_user = np.zeros(matrix.shape[1], np.int64)
    per_user[np.diff(matrix.indptr) == 0] = 0  # reduceat's rule for empty columns
    users = per_user > 0
    indptr = np.concatenate([[0], np.cumsum(per_user[users])]).astype(matrix.indptr.dtype)
    if in_place:
        data, indices, at = matrix.data, matrix.indices, 0
        for lo in range(0, matrix.nnz, CHUNK):
            chosen = entry_keep[lo : lo + CHUNK]
            m = int(np.count_nonzero(chosen))
            data[at : at + m] = data[lo : lo + CHUNK][chosen]
            indices[at : at + m] = new_row[indices[lo : lo + CHUNK][chosen]]
            at += m
        data, indices = data[:at], indices[:at]
    else:
        data, indices = matrix.data[entry_keep], new_row[matrix.indices[entry_keep]]
    days = sp.csc_matrix((data, indices, indptr), shape=(int(channel_keep.sum()), int(users.sum())))
    return Incidence(incidence.channel_ids[channel_keep], incidence.user_ids[users], days)


@dataclass
class _Level:
    """One level ``B_t = (A >= t)`` both ways: channels per user and users per channel.

    Each (channel, user) entry of the channel-major side carries its position
    in the user's ascending channel list, so the channels after it (the strict
    upper triangle of ``W``) are one contiguous run; with ``full`` a row's
    incidences are all its users' channels instead (whole rows, diagonal included).
    """

    user_ptr: np.ndarray  # user j's channel rows: user_channels[user_ptr[j]:user_ptr[j + 1]]
    user_channels: np.ndarray  # int32, ascending within each user
    degree: np.ndarray  # int32: channels per user
    channel_ptr: np.ndarray  # int64: channel i's users: channel_users[channel_ptr[i]:...]
    channel_users: np.ndarray  # int32
    channel_pos: np.ndarray  # int16/int32: the channel's position in each user's list
    full: bool = False
    cells: np.ndarray = field(init=False)  # int64: per channel row, its pair incidences

    def __post_init__(self) -> None:
        self.cells = np.zeros(len(self.channel_ptr) - 1, np.int64)
        per_channel = np.diff(self.channel_ptr)
        for start, stop in row_blocks(per_channel, CHUNK, len(per_channel)):  # bounded temporaries
            lo, hi = self.channel_ptr[start], self.channel_ptr[stop]
            if hi > lo:
                per = self._after(self.channel_users[lo:hi], self.channel_pos[lo:hi])
                at = np.minimum(self.channel_ptr[start:stop] - lo, hi - lo - 1)
                self.cells[start:stop] = np.add.reduceat(per, at, dtype=np.int64)
        self.cells[per_channel == 0] = 0  # reduceat's rule for empty rows

    @classmethod
    def of(cls, matrix: sp.csc_matrix, full: bool = False) -> _Level:
        n, users = matrix.shape
        degree = np.diff(matrix.indptr).astype(np.int32)
        pos = np.ones(matrix.nnz, np.int16 if degree.max(initial=0) < 1 << 15 else np.int32)
        if matrix.nnz:  # 0, 1, 2 ... within each user: a cumulative sum reset at each user
            listed = degree > 0
            pos[matrix.indptr[:-1][listed][1:]] = 1 - degree[listed][:-1]
            pos[0] = 0
            np.cumsum(pos, out=pos)
        by_user = sp.csr_matrix((pos, matrix.indices, matrix.indptr), shape=(users, n))
        del pos
        by_channel = by_user.tocsc()  # a counting sort: users ascending within each channel
        return cls(
            matrix.indptr,
            matrix.indices.astype(np.int32, copy=False),
            degree,
            by_channel.indptr.astype(np.int64),
            by_channel.indices.astype(np.int32, copy=False),
            by_channel.data,
            full,
        )

    def _after(self, users: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """Channels after each (user, position) entry in the user's list (all, if ``full``)."""
        per = self.degree[users]
        if not self.full:
            per -= pos
            per -= 1
        return per

    def counts(self, start: int, stop: int, n: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows start..stop of ``B_t B_tᵀ`` above the diagonal: keys ``(row - start) * n + col``.

        Returns the sorted keys and their counts. Every (user, channel pair)
        incidence of the rows becomes one int32 key (gathered from the user's
        channel list after the row's channel), then one sort and a run-length
        count: no hashing, no 64-bit sort, output already ordered by (row, col).
        A single row above ``limit`` incidences is counted ``limit`` at a time
        into one length-n accumulator instead.
        """
        lo, hi = self.channel_ptr[start], self.channel_ptr[stop]
        users, pos = self.channel_users[lo:hi], self.channel_pos[lo:hi]
        if stop - start == 1 and self.cells[start] > limit:
            total = np.zeros(n, np.int64)
            for a, b in row_blocks(self._after(users, pos), limit, len(users)):
                total += np.bincount(self._later(users[a:b], pos[a:b]), minlength=n)
            found = np.flatnonzero(total)
            return found.astype(np.int32), total[found]
        keys = self._later(users, pos)
        if len(keys) == 0:
            return keys, np.zeros(0, np.int64)
        row_base = np.arange(stop - start, dtype=np.int32) * np.int32(n)
        keys += np.repeat(row_base, self.cells[start:stop])
        keys.sort()
        new = np.empty(len(keys), dtype=bool)
        new[0] = True
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        first = np.flatnonzero(new)
        del new
        return keys[first], np.diff(first, append=len(keys))

    def _later(self, users: np.ndarray, pos: np.ndarray) -> np.ndarray:
        """For each (user, position) entry, the user's channels after it, concatenated."""
        per = self._after(users, pos)
        total = int(per.sum(dtype=np.int64))
        small = len(self.user_channels) + total < np.iinfo(np.int32).max
        index = np.int32 if small else np.int64
        first_out = np.cumsum(per, dtype=np.int64) - per
        first_in = self.user_ptr[users] if self.full else self.user_ptr[users] + pos + 1
        at = np.repeat((first_in - first_out).astype(index), per)
        at += np.arange(total, dtype=index)
        return self.user_channels[at]


def _levels(incidence: Incidence, weighting: str, full: bool = False) -> list[_Level]:
    """``B_t = (A >= t)`` for each level t of the weighting (one level for ``unique``)."""
    matrix = incidence.days
    top = 1 if weighting == "unique" or matrix.nnz == 0 else int(matrix.data.max())
    levels = range(1, top + 1)
    return [_Level.of(matrix if t == 1 else _at_least(matrix, t), full) for t in levels]


def _at_least(matrix: sp.csc_matrix, t: int) -> sp.csc_matrix:
    keep = matrix.data >= t
    per_col = np.add.reduceat(keep, matrix.indptr[:-1]) if matrix.nnz else keep[:0]
    per_col[np.diff(matrix.indptr) == 0] = 0
    indptr = np.concatenate([[0], np.cumsum(per_col)]).astype(matrix.indptr.dtype)
    return sp.csc_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def block_cells(budget_mb: int) -> int:
    """Pair incidences a row block may hold for a task whose process may use ``budget_mb``.

    A block holds ``BYTES_PER_CELL`` per incidence at most (its int32 keys and
    offsets, then its entries and their selection temporaries); blocks get
    ``1 / BLOCK_SHARE`` of the budget, the window's matrix and the rest keep the
    remainder. Capped at ``BLOCK_CELLS``.
    """
    by_budget = budget_mb * (1 << 20) // BLOCK_SHARE // BYTES_PER_CELL
    return int(min(BLOCK_CELLS, max(MIN_BLOCK_CELLS, by_budget)))


def row_blocks(cells: np.ndarray, limit: int, max_rows: int) -> list[tuple[int, int]]:
    """Consecutive (start, stop) row ranges of at most ``limit`` cells and ``max_rows`` rows.

    A single row above ``limit`` is a block of its own.
    """
    cum = np.cumsum(cells)
    out: list[tuple[int, int]] = []
    start, n = 0, len(cells)
    while start < n:
        before = int(cum[start - 1]) if start else 0
        stop = int(np.searchsorted(cum, before + limit, side="right"))
        stop = min(max(stop, start + 1), start + max_rows, n)
        out.append((start, stop))
        start = stop
    return out


def weight_blocks(
    incidence: Incidence, weighting: str, cells: int | None = None, full: bool = False
) -> Iterable[tuple[int, sp.csr_matrix]]:
    """(first row, rows of ``W`` above the diagonal, or whole rows if ``full``) by blocks.

    Blocks hold at most ``cells`` (user, channel pair) incidences (default
    ``BLOCK_CELLS``; see :func:`block_cells`), so memory stays flat whatever the
    channel count and small channels share a block. Column indices are sorted;
    without ``full``, a row's entries left of the diagonal are in earlier blocks.
    """
    n = incidence.days.shape[0]
    if n == 0:
        return
    levels = _levels(incidence, weighting, full)
    max_rows = max(1, np.iinfo(np.int32).max // n)  # (row - start) * n + col fits int32
    limit = cells or BLOCK_CELLS
    for start, stop in row_blocks(levels[0].cells, limit, max_rows):
        keys, counts = levels[0].counts(start, stop, n, limit)
        for level in levels[1:]:  # B_t ⊂ B_1: its keys are a subset of level 1's
            more, extra = level.counts(start, stop, n, limit)
            counts[np.searchsorted(keys, more)] += extra
        indptr = np.searchsorted(keys, np.arange(stop - start + 1, dtype=np.int64) * n)
        offset = np.repeat(np.arange(stop - start, dtype=np.int32) * np.int32(n), np.diff(indptr))
        yield start, sp.csr_matrix((counts, keys - offset, indptr), shape=(stop - start, n))


def weights(incidence: Incidence, weighting: str) -> sp.csr_matrix:
    """Sparse symmetric ``W`` (channels × channels); the diagonal is each channel's own weight."""
    n = incidence.days.shape[0]
    blocks = [b for _, b in weight_blocks(incidence, weighting)]
    upper = sp.vstack(blocks).tocsr() if blocks else sp.csr_matrix((n, n), dtype=np.int64)
    own = sp.diags(incidence.self_weight(weighting).astype(np.int64), dtype=np.int64)
    return (upper + upper.T + own).tocsr()


def _row_runs(rows: np.ndarray) -> list[tuple[int, int]]:
    """Runs of whole rows of about ``ROW_RUN`` entries (``rows`` sorted): (start, stop).

    The dozen passes over a run's arrays then stay in the CPU's cache: about
    twice as fast as passes over a block of millions of entries.
    """
    ends = np.unique(np.searchsorted(rows, rows[ROW_RUN::ROW_RUN]))
    ends = ends[ends > 0].tolist()  # a run starts where its first row starts
    return list(zip([0, *ends], [*ends, len(rows)], strict=True))


def _row_top(rows: np.ndarray, cols: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's k largest ``key`` (>= 0; ties to the lower column), by row, rank.

    An exact sort of :func:`_row_candidates` (about k per row) picks the top k;
    sorting every entry exactly would cost several times more.
    """
    cand = _row_candidates(rows, key, k)[0]
    order = cand[_exact_order(rows[cand], cols[cand], np.asarray(key)[cand])]
    sorted_rows = rows[order]
    first = np.flatnonzero(np.diff(sorted_rows, prepend=sorted_rows[:1] - 1) != 0)
    rank = np.arange(len(order)) - np.repeat(first, np.diff(first, append=len(order)))
    return order[rank < k]


def _exact_order(rows: np.ndarray, cols: np.ndarray, key: np.ndarray) -> np.ndarray:
    """The order by row, then ``key`` (>= 0) descending, then column: ``np.lexsort``'s.

    One sort of packed (row, float32 key) integers; only runs that tie in
    float32 are then ordered exactly (float64 key, column), about 5x faster.
    """
    flipped = np.int64(0xFFFFFFFF) - np.asarray(key, np.float32).view(np.uint32)
    packed = (rows.astype(np.int64) << 32) | flipped
    order = np.argsort(packed, kind="stable")
    ranked = packed[order]
    tie = np.flatnonzero(ranked[1:] == ranked[:-1])
    if len(tie):
        mark = np.zeros(len(order), bool)
        mark[tie] = mark[tie + 1] = True
        at = np.flatnonzero(mark)
        runs = order[at]
        group = np.cumsum(np.diff(packed[runs], prepend=packed[runs[0]] - 1) != 0)
        same = np.diff(key[runs]) == 0
        if bool(np.all(same | (np.diff(group) != 0))):  # exact ties: by column alone
            width = np.int64(cols.max(initial=0)) + 1
            order[at] = runs[np.argsort(group * width + cols[runs])]
        else:
            order[at] = runs[np.lexsort((cols[runs], -key[runs], packed[runs]))]
    return order


def _row_candidates(rows: np.ndarray, key: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    """Indices of a superset of each row's k largest ``key`` (>= 0), ascending; floors.

    The floors are, for each row with k entries or more (returned with them),
    a float32 below which no key of that row can be among its top k.

    One sort of packed (row, key rounded down) integers finds each row's k-th
    largest rounded key; rounding keeps order, so every entry whose rounded key
    is at or above it is kept (each of the top k is: k entries above it would
    be strictly larger). The rounded key is the float32's bits, shifted right
    by as many bits as the row span needs so that the pair packs into an int32
    (a 64-bit pack for spans above 2^16 rows).
    """
    if len(rows) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    base = int(rows.min())
    span = int(rows.max()) - base + 1
    local = rows - np.asarray(base, rows.dtype)
    count = np.bincount(local, minlength=span)
    start = np.cumsum(count) - count
    shift = span.bit_length()
    wide = shift > 16
    packed_type = np.int64 if wide else np.int32
    key_bits = 31 if wide else 31 - shift
    inv = np.asarray(key, np.float32).view(np.int32)  # monotonic for keys >= 0
    if not wide:
        inv = inv >> shift
    top = (1 << key_bits) - 1
    inv = np.subtract(top, inv, dtype=packed_type)  # ascending = key descending
    packed = local.astype(packed_type)
    packed <<= key_bits
    packed |= inv
    packed.sort()
    limit = np.full(span, -1, packed_type)
    has = count > 0
    limit[has] = packed[start[has] + np.minimum(count[has], k) - 1] & top
    del packed
    full = np.flatnonzero(count >= k)
    lowest = np.subtract(top, limit[full], dtype=np.int64) << (0 if wide else shift)  # bucket start
    floors = lowest.astype(np.int32).view(np.float32)
    return np.flatnonzero(inv <= limit[local]), full + base, floors


@dataclass
class _Selection:
    """Candidates chosen so far: backbone and neighbours, as directed (row, col) entries.

    Pairs arrive in parts (row blocks, or batches of a ``pairs`` file); entries
    under their row's floor so far are dropped at once, each part's per-row
    candidates (a superset of its top k) are kept and reduced once they hold
    more than twice the final size (exactly if ties keep many), and at the
    end: the top k of a row is always among the union of its parts' top k (one
    total order: key descending, then column).
    """

    top_k: int
    neighbors: int
    own: np.ndarray
    bb: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    nb: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    pairs_with_overlap: int = 0
    complete: bool = True  # parts so far are whole rows, each row in one part, exact
    floors: tuple[np.ndarray, np.ndarray] = field(init=False)  # float32 per row: bb, nb

    def __post_init__(self) -> None:
        self.floors = (np.zeros(len(self.own), np.float32), np.zeros(len(self.own), np.float32))

    def _cosine(self, rows: np.ndarray, cols: np.ndarray, w: np.ndarray) -> np.ndarray:
        """``w / sqrt(own[rows] * own[cols])`` in one buffer (these arrays hold millions)."""
        product = self.own[rows]
        product *= self.own[cols]
        score = np.sqrt(product, dtype=np.float64)
        del product
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.divide(w, score, out=score)

    def add_rows(self, rows: np.ndarray, cols: np.ndarray, w: np.ndarray) -> None:
        """Whole rows (every entry of each row, weight >= min_shared): their exact top k."""
        score = self._cosine(rows, cols, w)
        for parts, k, key in ((self.bb, self.top_k, score), (self.nb, self.neighbors, w)):
            pick = _row_top(rows, cols, key, k)
            parts.append((rows[pick], cols[pick], w[pick], score[pick]))

    def add(self, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> None:
        """Offer pairs (src < dst, weight >= min_shared), in both directions."""
        self.complete = False
        score = self._cosine(src, dst, w)
        rows, cols = np.concatenate([src, dst]), np.concatenate([dst, src])
        w, score = np.concatenate([w, w]), np.concatenate([score, score])
        criteria = ((self.bb, self.top_k, score), (self.nb, self.neighbors, w))
        for (parts, k, key), floor in zip(criteria, self.floors, strict=True):
            # below a row's floor (the k-th best of a part before, rounded down): never top k
            offered = np.flatnonzero(key.astype(np.float32) >= floor[rows])
            pick, full, floors = _row_candidates(rows[offered], key[offered], k)
            np.maximum.at(floor, full, floors)
            pick = offered[pick]
            parts.append((rows[pick], cols[pick], w[pick], score[pick]))
        if self._held() > 2 * len(self.own) * (self.top_k + self.neighbors):
            self._merge(exact=False)
            if self._held() > len(self.own) * (self.top_k + self.neighbors):  # ties kept many
                self._merge(exact=True)

    def _held(self) -> int:
        return sum(len(p[0]) for p in self.bb + self.nb)

    def _merge(self, exact: bool = True) -> None:
        """The parts so far as one: each row's exact top k, or a superset of it."""
        pick_from = _row_top if exact else lambda r, c, key, k: _row_candidates(r, key, k)[0]
        for parts, k, by_score in ((self.bb, self.top_k, True), (self.nb, self.neighbors, False)):
            if parts:
                r, c, w, s = _joined(parts)
                pick = pick_from(r, c, s if by_score else w, k)
                parts[:] = [(r[pick], c[pick], w[pick], s[pick])]

    def backbone(self) -> Backbone:
        if not self.complete:
            self._merge(exact=True)
        r, c, w, s = _joined(self.bb)
        if not bool(np.all(s > 0)):
            keep = s > 0
            r, c, w, s = r[keep], c[keep], w[keep], s[keep]
        lo, hi = np.minimum(r, c), np.maximum(r, c)
        del r, c
        key = lo.astype(np.int64) * len(self.own) + hi
        order = np.argsort(key)  # an edge is chosen once or twice (by either end)
        key = key[order]
        again = np.empty(len(key), bool)  # no diff/prepend copies: this is the step's peak
        again[:1] = False
        np.equal(key[1:], key[:-1], out=again[1:])
        del key
        first = order[~again]
        del order, again
        return Backbone(
            lo[first].astype(np.int32),
            hi[first].astype(np.int32),
            w[first].astype(np.float64),
            s[first].astype(np.float64),
            self.pairs_with_overlap,
        )

    def neighbor_rows(self) -> Neighbors:
        if not self.complete:
            self._merge(exact=True)
        r, c, w, _ = _joined(self.nb)
        order = np.argsort(r, kind="stable")  # parts by row then rank
        r, c, w = r[order], c[order], w[order]
        first = np.flatnonzero(np.diff(r, prepend=-1) != 0)
        rank = np.arange(len(r)) - np.repeat(first, np.diff(first, append=len(r))) + 1
        return Neighbors(
            r.astype(np.int32), rank.astype(np.int16), c.astype(np.int32), w.astype(np.float64)
        )


def _joined(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """(rows, cols, weights, scores) of all parts, concatenated; empties ``parts``.

    One column at a time, each column's pieces freed once joined, so the parts
    and their union are never all held at once.
    """
    if not parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0), np.zeros(0)
    columns = [list(x) for x in zip(*parts, strict=True)]
    parts.clear()
    joined = []
    for pieces in columns:
        joined.append(np.concatenate(pieces))
        pieces.clear()
    return tuple(joined)


PairsSink = Callable[[pa.Table], None]


def whole_rows(incidence: Incidence, cells: int) -> bool:
    """Count whole rows of ``W`` (True) or only its upper triangle, whichever costs less.

    Whole rows count every (user, channel pair) incidence twice, but each row's
    top k is then picked once, from its own entries, a cache-sized run of rows
    at a time. The upper triangle counts each incidence once, but its pairs are
    offered in both directions block after block, floored and merged: more work
    per pair. So the upper triangle pays off when one block holds it all (no
    merges), or when incidences far outnumber pairs (a window of few channels
    and many shared users: ``WHOLE_ROWS_INCIDENCES_PER_PAIR``). Pairs are not
    known before counting; at most the incidences, or every pair of channels.
    """
    degree = np.diff(incidence.days.indptr).astype(np.int64)
    upper = int((degree * (degree - 1) // 2).sum())
    if upper <= cells:
        return False
    n = incidence.days.shape[0]
    pairs = min(upper, n * (n - 1) // 2)
    return upper <= WHOLE_ROWS_INCIDENCES_PER_PAIR * pairs


def _ahead(items: Iterable[T]) -> Iterator[T]:
    """``items``, each computed by a worker thread while the caller uses the one before.

    NumPy releases the GIL in sorts, gathers and arithmetic, so on two cores
    counting the next row block overlaps choosing from this one.
    """
    from concurrent.futures import ThreadPoolExecutor

    it = iter(items)
    done = object()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="row-blocks") as worker:
        following = worker.submit(next, it, done)
        while (item := following.result()) is not done:
            following = worker.submit(next, it, done)
            yield item  # type: ignore[misc]


def select(
    incidence: Incidence,
    weighting: str,
    top_k: int,
    min_shared: int = 1,
    on_pairs: PairsSink | None = None,
    neighbors: int = NEIGHBORS,
    cells: int | None = None,
) -> tuple[Backbone, Neighbors]:
    """Backbone and neighbours of the window; every pair >= min_shared goes to ``on_pairs``.

    ``cells`` bounds a row block (see :func:`block_cells`; default ``BLOCK_CELLS``).
    """
    own = incidence.self_weight(weighting)
    chosen = _Selection(top_k, neighbors, own)
    full = whole_rows(incidence, cells or BLOCK_CELLS)
    for start, block in _ahead(weight_blocks(incidence, weighting, cells, full)):
        rows = np.repeat(
            np.arange(start, start + block.shape[0], dtype=np.int32), np.diff(block.indptr)
        )
        cols = block.indices.astype(np.int32, copy=False)
        # whole rows: a cache-sized run of rows at a time (a row's top k needs only its row)
        for a, b in _row_runs(rows) if full else [(0, len(rows))]:
            r, c, w = rows[a:b], cols[a:b], block.data[a:b].astype(np.float64)
            keep = (c != r) & (w >= min_shared) if full else w >= min_shared
            chosen.pairs_with_overlap += int(np.count_nonzero(c > r))
            r, c, w = r[keep], c[keep], w[keep]
            up = c > r if full else slice(None)
            if on_pairs is not None:
                on_pairs(pa.table([r[up], c[up], w[up]], schema=PAIRS))
            if full:
                chosen.add_rows(r, c, w)
            else:
                chosen.add(r, c, w)
    release_memory()  # the blocks' arrays: the final picks below are the step's peak
    return chosen.backbone(), chosen.neighbor_rows()


def backbone(incidence: Incidence, weighting: str, top_k: int, min_shared: int = 1) -> Backbone:
    """Cosine scores of every channel pair and the union of each channel's top k."""
    return select(incidence, weighting, top_k, min_shared)[0]


def top_from_pairs(
    batches: Iterable[pa.RecordBatch | pa.Table],
    own: np.ndarray,
    top_k: int,
    min_shared: int = 1,
    neighbors: int = NEIGHBORS,
) -> tuple[Backbone, Neighbors]:
    """Backbone and neighbours from ``pairs`` batches (src < dst), streamed.

    Memory: the candidates kept (≤ channels × (top_k + neighbours)) plus one batch.
    """
    chosen = _Selection(top_k, neighbors, np.asarray(own, np.float64))
    for batch in batches:
        src = np.asarray(batch.column("src"), np.int32)
        dst = np.asarray(batch.column("dst"), np.int32)
        w = np.asarray(batch.column("weight"), np.float64)
        if np.any(src >= dst):
            raise ValueError("pairs must have src < dst")
        chosen.pairs_with_overlap += len(src)
        keep = w >= min_shared
        src, dst, w = src[keep], dst[keep], w[keep]
        chosen.add(src, dst, w)
    return chosen.backbone(), chosen.neighbor_rows()


def community_affinity(
    pairs: Iterable[pa.RecordBatch | pa.Table] | pa.Table,
    membership: np.ndarray,
    n_communities: int,
) -> np.ndarray:
    """Dense C × C float64: summed pair weights between communities (symmetric).

    ``M[c, d]`` (c != d) is the weight of all pairs with one channel in c and the
    other in d; ``M[c, c]`` the weight of pairs inside c (each pair once). Built
    from the full ``pairs`` (not only the backbone); channels whose community is
    negative or >= ``n_communities`` are left out.
    """
    membership = np.asarray(membership, np.int64)
    c = int(n_communities)
    total = np.zeros(c * c, dtype=np.float64)
    for batch in [pairs] if isinstance(pairs, pa.Table) else pairs:
        a = membership[np.asarray(batch.column("src"), np.int64)]
        b = membership[np.asarray(batch.column("dst"), np.int64)]
        w = np.asarray(batch.column("weight"), np.float64)
        ok = (a >= 0) & (a < c) & (b >= 0) & (b < c)
        lo, hi = np.minimum(a[ok], b[ok]), np.maximum(a[ok], b[ok])
        total += np.bincount(lo * c + hi, weights=w[ok], minlength=c * c)
    upper = total.reshape(c, c)
    return upper + np.triu(upper, 1).T
