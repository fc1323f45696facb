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

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

#: A row block's product holds at most this many cells (bounds the block's memory).
BLOCK_CELLS = 1 << 20
#: Sort/compaction chunk of the incidence build (bounds int64 temporaries).
CHUNK = 1 << 22
#: Neighbours listed per channel in ``channel_neighbors``.
NEIGHBORS = 20

PAIRS = pa.schema(
    [
        pa.field("src", pa.int32(), nullable=False),  # row of channels.parquet
        pa.field("dst", pa.int32(), nullable=False),  # row, always > src
        pa.field("weight", pa.float64(), nullable=False),  # exact shared (or repeat) weight
    ],
    metadata={"vieweratlas.schema": "pairs/1"},
)
"""The ``pairs`` work file: every channel pair with weight >= min_shared."""

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
        keep = np.empty(len(channel_id), dtype=bool)
        keep[0] = (c0, u0) != self._last
        np.logical_or(dch != 0, du != 0, out=keep[1:])
        self._last = (int(channel_id[-1]), int(user_id[-1]))
        self._append(channel_id[keep], user_id[keep])
        return True

    def add_day(self, channel_id: np.ndarray, user_id: np.ndarray) -> None:
        """Append a whole day in any order (sorted and de-duplicated here)."""
        self.start_day()
        self._append(*distinct_day_pairs(np.asarray(channel_id), np.asarray(user_id)))

    def _append(self, channel_id: np.ndarray, user_id: np.ndarray) -> None:
        if self.size + len(user_id) > len(self.users):
            grown = np.empty(max(2 * len(self.users), self.size + len(user_id)), np.int64)
            grown[: self.size] = self.users[: self.size]
            self.users = grown
        self.users[self.size : self.size + len(user_id)] = user_id
        self.size += len(user_id)
        starts = np.flatnonzero(np.diff(channel_id, prepend=channel_id[:1] - 1) != 0)
        self.channels.append(np.asarray(channel_id[starts], np.int64))
        self.lengths.append(np.diff(starts, append=len(channel_id)))


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
    for values, lengths in zip(window.channels, window.lengths, strict=True):
        rows = np.repeat(np.searchsorted(channel_ids, values), lengths)
        part = keys[at : at + len(rows)]
        part *= n
        part += rows
        at += len(rows)
    window.channels, window.lengths = [], []
    keys.sort()
    count = np.empty(total, dtype=np.int16)  # days seen (<= window days), compacted below
    unique = 0
    lo = 0
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
        count[unique : unique + m] = np.diff(first, append=len(chunk))
        keys[unique : unique + m] = chunk[first]  # in place: the write stays behind the reads
        unique += m
        lo = hi
    count = count[:unique].copy()
    keys = keys[:unique]
    rows = np.empty(unique, dtype=np.int32)
    new_user = np.empty(unique, dtype=bool)
    previous = -1
    for lo in range(0, unique, CHUNK):
        user, row = np.divmod(keys[lo : lo + CHUNK], n)
        rows[lo : lo + len(row)] = row
        new_user[lo] = user[0] != previous
        np.not_equal(user[1:], user[:-1], out=new_user[lo + 1 : lo + len(row)])
        previous = user[-1]
    col_start = np.flatnonzero(new_user)
    del new_user
    user_ids = keys[col_start] // n
    del keys
    index = np.int32 if unique < np.iinfo(np.int32).max else np.int64
    indptr = np.append(col_start, unique).astype(index)
    matrix = sp.csc_matrix((count, rows, indptr), shape=(len(channel_ids), len(col_start)))
    return Incidence(channel_ids, user_ids, matrix)


def drop_users(incidence: Incidence, mask: np.ndarray) -> Incidence:
    """The matrix without the users in ``mask``; the count removed is ``nnz`` before - after."""
    keep = ~mask
    matrix = incidence.days
    entry_keep = np.repeat(keep, np.diff(matrix.indptr))
    indptr = np.concatenate([[0], np.cumsum(np.diff(matrix.indptr)[keep])])
    days = sp.csc_matrix(
        (matrix.data[entry_keep], matrix.indices[entry_keep], indptr.astype(matrix.indptr.dtype)),
        shape=(matrix.shape[0], int(keep.sum())),
    )
    return Incidence(incidence.channel_ids, incidence.user_ids[keep], days)


def keep_channels(incidence: Incidence, min_chatters: int) -> Incidence:
    """Only channels with at least ``min_chatters`` unique chatters (users left empty dropped)."""
    keep = incidence.chatters >= min_chatters
    matrix = incidence.days
    new_row = (np.cumsum(keep) - 1).astype(np.int32)
    entry_keep = keep[matrix.indices]
    per_user = np.add.reduceat(entry_keep, matrix.indptr[:-1]) if matrix.nnz else None
    if per_user is None:
        per_user = np.zeros(matrix.shape[1], np.int64)
    per_user[np.diff(matrix.indptr) == 0] = 0  # reduceat's rule for empty columns
    users = per_user > 0
    indptr = np.concatenate([[0], np.cumsum(per_user[users])]).astype(matrix.indptr.dtype)
    days = sp.csc_matrix(
        (matrix.data[entry_keep], new_row[matrix.indices[entry_keep]], indptr),
        shape=(int(keep.sum()), int(users.sum())),
    )
    return Incidence(incidence.channel_ids[keep], incidence.user_ids[users], days)


def _levels(incidence: Incidence, weighting: str) -> list[tuple[sp.csr_matrix, sp.csr_matrix]]:
    """(B_t as channel-row CSR, B_tᵀ as user-row CSR) for each level t of the weighting."""
    matrix = incidence.days
    top = 1 if weighting == "unique" or matrix.nnz == 0 else int(matrix.data.max())
    out = []
    for t in range(1, top + 1):
        level = matrix if t == 1 else _at_least(matrix, t)
        ones = np.ones(level.nnz, dtype=np.int32)
        users_rows = sp.csr_matrix((ones, level.indices, level.indptr), shape=level.shape[::-1])
        channel_rows = users_rows.T.tocsr()  # CSC of a CSR = the transpose, rows = channels
        out.append((channel_rows, users_rows))
    return out


def _at_least(matrix: sp.csc_matrix, t: int) -> sp.csc_matrix:
    keep = matrix.data >= t
    per_col = np.add.reduceat(keep, matrix.indptr[:-1]) if matrix.nnz else keep[:0]
    per_col[np.diff(matrix.indptr) == 0] = 0
    indptr = np.concatenate([[0], np.cumsum(per_col)]).astype(matrix.indptr.dtype)
    return sp.csc_matrix((matrix.data[keep], matrix.indices[keep], indptr), shape=matrix.shape)


def weight_blocks(incidence: Incidence, weighting: str) -> Iterable[tuple[int, sp.csr_matrix]]:
    """(first row, rows of the symmetric ``W``) block by block; the diagonal included.

    Blocks are cut so that each product holds about ``BLOCK_CELLS`` entries at
    most (bounded per row by min(channels, its pair incidences)), so memory
    stays flat whatever the channel count and small channels share a block.
    """
    n = incidence.days.shape[0]
    levels = _levels(incidence, weighting)
    if n == 0:
        return
    per_user = np.diff(incidence.days.indptr).astype(np.int64)
    bound = np.minimum(levels[0][0] @ per_user, n)
    cum = np.cumsum(bound)
    cuts = np.searchsorted(cum, np.arange(BLOCK_CELLS, cum[-1], BLOCK_CELLS), side="right")
    edges = np.unique(np.concatenate([[0], cuts, [n]]))
    for start, stop in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        block = None
        for channel_rows, users_rows in levels:
            part = channel_rows[start:stop] @ users_rows
            block = part if block is None else block + part
        block = block.tocsr()
        block.sort_indices()  # pairs come out ordered by (src, dst)
        yield start, block


def weights(incidence: Incidence, weighting: str) -> sp.csr_matrix:
    """Sparse symmetric ``W`` (channels × channels); the diagonal is each channel's own weight."""
    blocks = [b for _, b in weight_blocks(incidence, weighting)]
    n = incidence.days.shape[0]
    return sp.vstack(blocks).tocsr() if blocks else sp.csr_matrix((n, n))


def _row_top(rows: np.ndarray, cols: np.ndarray, key: np.ndarray, k: int) -> np.ndarray:
    """Indices of each row's k largest ``key`` (>= 0; ties to the lower column), by row, rank.

    One sort of packed (row, float32 key) integers finds each row's k-th largest
    key in float32; rounding to float32 keeps order, so every entry at or above
    it is a candidate, and an exact sort of the candidates (about k per row)
    picks the top k. Sorting every entry exactly would cost several times more.
    """
    if len(rows) == 0:
        return np.zeros(0, np.int64)
    low = np.int64(0xFFFFFFFF)
    bits = np.asarray(key, np.float32).view(np.uint32).astype(np.int64)  # monotonic for >= 0
    packed = np.sort((rows.astype(np.int64) << 32) | (low - bits))
    start = np.flatnonzero(np.diff(packed >> 32, prepend=-1) != 0)
    count = np.diff(start, append=len(packed))
    limit = np.full(int(rows.max()) + 1, -1, np.int64)
    limit[packed[start] >> 32] = packed[start + np.minimum(count, k) - 1] & low
    del packed
    cand = np.flatnonzero(low - bits <= limit[rows])
    order = cand[np.lexsort((cols[cand], -np.asarray(key)[cand], rows[cand]))]
    sorted_rows = rows[order]
    first = np.flatnonzero(np.diff(sorted_rows, prepend=-1) != 0)
    rank = np.arange(len(order)) - np.repeat(first, np.diff(first, append=len(order)))
    return order[rank < k]


@dataclass
class _Selection:
    """Candidates chosen so far: backbone and neighbours, as directed (row, col) entries."""

    top_k: int
    neighbors: int
    own: np.ndarray
    bb: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    nb: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    pairs_with_overlap: int = 0

    def add(self, rows: np.ndarray, cols: np.ndarray, w: np.ndarray, merge: bool) -> None:
        """Offer entries (row != col, weight >= min_shared); ``merge`` when rows recur."""
        with np.errstate(divide="ignore", invalid="ignore"):
            score = w / np.sqrt(self.own[rows] * self.own[cols])
        for parts, k, by_score in ((self.bb, self.top_k, True), (self.nb, self.neighbors, False)):
            r, c, ww, ss = (
                _joined([*parts, (rows, cols, w, score)]) if merge else (rows, cols, w, score)
            )
            pick = _row_top(r, c, ss if by_score else ww, k)
            if merge:
                parts.clear()
            parts.append((r[pick], c[pick], ww[pick], ss[pick]))

    def backbone(self) -> Backbone:
        r, c, w, s = _joined(self.bb)
        keep = s > 0
        r, c, w, s = r[keep], c[keep], w[keep], s[keep]
        lo, hi = np.minimum(r, c).astype(np.int64), np.maximum(r, c).astype(np.int64)
        _, first = np.unique(lo * len(self.own) + hi, return_index=True)
        return Backbone(
            lo[first].astype(np.int32),
            hi[first].astype(np.int32),
            w[first].astype(np.float64),
            s[first].astype(np.float64),
            self.pairs_with_overlap,
        )

    def neighbor_rows(self) -> Neighbors:
        r, c, w, _ = _joined(self.nb)
        order = np.argsort(r, kind="stable")  # parts arrive by row, each part row-sorted
        r, c, w = r[order], c[order], w[order]
        first = np.flatnonzero(np.diff(r, prepend=-1) != 0)
        rank = np.arange(len(r)) - np.repeat(first, np.diff(first, append=len(r))) + 1
        return Neighbors(
            r.astype(np.int32), rank.astype(np.int16), c.astype(np.int32), w.astype(np.float64)
        )


def _joined(parts: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """(rows, cols, weights, scores) of all parts, concatenated."""
    if not parts:
        return np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0), np.zeros(0)
    return tuple(np.concatenate(x) for x in zip(*parts, strict=True))


PairsSink = Callable[[pa.Table], None]


def select(
    incidence: Incidence,
    weighting: str,
    top_k: int,
    min_shared: int = 1,
    on_pairs: PairsSink | None = None,
    neighbors: int = NEIGHBORS,
) -> tuple[Backbone, Neighbors]:
    """Backbone and neighbours of the window; every pair >= min_shared goes to ``on_pairs``."""
    own = incidence.self_weight(weighting)
    chosen = _Selection(top_k, neighbors, own)
    for start, block in weight_blocks(incidence, weighting):
        rows = np.repeat(
            np.arange(start, start + block.shape[0], dtype=np.int32), np.diff(block.indptr)
        )
        cols, w = block.indices.astype(np.int32), block.data
        upper = cols > rows
        chosen.pairs_with_overlap += int(np.count_nonzero(upper))
        keep = (cols != rows) & (w >= min_shared)
        rows, cols, w = rows[keep], cols[keep], w[keep].astype(np.float64)
        if on_pairs is not None:
            up = cols > rows
            on_pairs(pa.table([rows[up], cols[up], w[up]], schema=PAIRS))
        chosen.add(rows, cols, w, merge=False)
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
        chosen.add(np.concatenate([src, dst]), np.concatenate([dst, src]), np.tile(w, 2), True)
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
