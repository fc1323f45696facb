"""Communities over time: match one day's communities to an earlier day's, find events.

Pure numpy/scipy, no I/O (:mod:`vieweratlas.history` reads and writes the lake).

Both days are given as one row per channel (channel id, community number,
audience weight = the channel's unique chatters in the window). The channels
present on both days give a sparse contingency matrix ``M[i, j]`` = audience
that was in earlier community ``i`` and is in community ``j`` today (mean of
the two days' chatters), built in one ``coo_matrix`` call; everything after that
works on its few non-zero cells, never on channels. With ``P[i]`` and ``C[j]``
the communities' whole audiences:

- ``jaccard = M / (P + C - M)``; identities are handed on greedily, highest
  Jaccard first, one-to-one, when at least ``match_jaccard``;
- a link ``i -> j`` is a *merge* link when ``M / P[i] >= link_share`` (most of
  ``i`` went into ``j``) and a *split* link when ``M / C[j] >= link_share`` and
  ``M / P[i] >= min_part`` (``j`` is mostly a sizeable part of ``i``);
  two or more merge links into one ``j`` are a ``merge``, two or more split
  links out of one ``i`` a ``split``;
- an unmatched community today that is no merge target or split part is a
  ``birth``; an unmatched earlier one that is no merge source or split source a
  ``death``; a matched pair outside merges and splits whose audience changed by
  a factor of at least ``1 + growth`` is ``grow`` / ``shrink``;
- a channel whose community changed between two communities that exist on both
  days is a ``move`` (changes explained by a merge, split, birth or death are not).

New ids are ``c<YYYYMMDD>-<nnn>`` (birth date, then rank by audience among that
day's new communities): they embed the only date that can create them, so they
are never reused, and re-tracking a day with the same inputs gives the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse


@dataclass(frozen=True)
class Thresholds:
    """Matching and event thresholds (the DAG's ``track_*`` params)."""

    match_jaccard: float = 0.3
    link_share: float = 0.5
    min_part: float = 0.15
    growth: float = 0.3


@dataclass
class Day:
    """One day's communities: a row per channel, and per community its id and colour."""

    channel_id: np.ndarray  # int64, one row per channel
    community: np.ndarray  # int32 community number per channel (0..n-1)
    weight: np.ndarray  # float64 audience per channel (unique chatters)
    uids: list[str] = field(default_factory=list)  # per community (tracked days only)
    colors: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))

    @property
    def size(self) -> int:
        return int(self.community.max()) + 1 if len(self.community) else 0

    def audience(self) -> np.ndarray:
        return np.bincount(self.community, weights=self.weight, minlength=self.size)

    def channels(self) -> np.ndarray:
        return np.bincount(self.community, minlength=self.size)


@dataclass
class Tracked:
    """Today's ids and colours, the events, and the flows between the two days."""

    uids: list[str]
    colors: np.ndarray  # int32 per community
    events: list[dict]  # community-level events (see schema.COMMUNITY_EVENTS)
    moves: dict[str, np.ndarray]  # channel moves: channel_id, from_c, to_c (community numbers)
    flows: dict[str, np.ndarray]  # prev community, cur community, shared audience
    matched: np.ndarray  # per current community: earlier community number or -1


def new_uid(day: str, seq: int) -> str:
    """The persistent id of the ``seq``-th community born on ``day`` (``YYYY-MM-DD``)."""
    return f"c{day.replace('-', '')}-{seq:03d}"


def contingency(prev: Day, cur: Day) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    """Shared audience per (earlier, current) community; rows of shared channels in each day."""
    order = np.argsort(prev.channel_id, kind="stable")
    pos = np.searchsorted(prev.channel_id, cur.channel_id, sorter=order)
    pos = np.minimum(pos, max(len(order) - 1, 0))
    both = len(order) > 0
    hit = prev.channel_id[order[pos]] == cur.channel_id if both else np.zeros(0, bool)
    cur_rows = np.flatnonzero(hit)
    prev_rows = order[pos[cur_rows]]
    shared = (prev.weight[prev_rows] + cur.weight[cur_rows]) / 2.0
    matrix = sparse.coo_matrix(
        (shared, (prev.community[prev_rows], cur.community[cur_rows])),
        shape=(prev.size, cur.size),
    ).tocsr()
    return matrix, prev_rows, cur_rows


def _greedy_match(i, j, jac, n_cur, threshold) -> np.ndarray:
    """One-to-one pairs, highest Jaccard first (ties: lower numbers); earlier index per current."""
    matched = np.full(n_cur, -1, np.int64)
    taken: set[int] = set()
    for k in np.lexsort((j, i, -jac)):  # few hundred non-zero cells, not channels
        if jac[k] < threshold:
            break
        if matched[j[k]] < 0 and int(i[k]) not in taken:
            matched[j[k]] = i[k]
            taken.add(int(i[k]))
    return matched


def assign_colors(previous: np.ndarray, audience: np.ndarray, palette_size: int) -> np.ndarray:
    """Colour index per community: kept while it persists, smallest free index otherwise.

    ``previous`` holds the earlier colour of a continuing community, -1 for new
    ones. New communities, biggest first, take the smallest index no other
    community holds; a continuing community whose index is past the palette
    (so drawn grey) moves onto a free palette colour when one is left.
    """
    colors = previous.astype(np.int64).copy()
    used = set(colors[colors >= 0].tolist())
    for c in np.lexsort((np.arange(len(audience)), -audience)):
        if colors[c] >= 0 and (colors[c] < palette_size):
            continue
        free = next(k for k in range(len(audience) + len(used) + 1) if k not in used)
        if colors[c] < 0 or free < palette_size:
            used.discard(int(colors[c]))
            colors[c] = free
            used.add(free)
    return colors.astype(np.int32)


def track(prev: Day | None, cur: Day, day: str, t: Thresholds, palette_size: int) -> Tracked:
    """Ids, colours, events and flows of ``cur`` given the earlier tracked day ``prev``."""
    n = cur.size
    audience = cur.audience()
    empty = np.zeros(0, np.int64)
    if prev is None or prev.size == 0:
        order = np.lexsort((np.arange(n), -audience))
        uids = [""] * n
        for seq, c in enumerate(order.tolist()):
            uids[c] = new_uid(day, seq)
        colors = assign_colors(np.full(n, -1), audience, palette_size)
        moves = {"channel_id": empty, "from_c": empty, "to_c": empty}
        flows = {"prev": empty, "cur": empty, "shared": np.zeros(0)}
        return Tracked(uids, colors, [], moves, flows, np.full(n, -1, np.int64))

    matrix, prev_rows, cur_rows = contingency(prev, cur)
    coo = matrix.tocoo()
    i, j, m = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    p_aud, c_aud = prev.audience(), audience
    jac = m / np.maximum(p_aud[i] + c_aud[j] - m, 1e-12)
    fwd = m / np.maximum(p_aud[i], 1e-12)  # share of the earlier community that went to j
    bwd = m / np.maximum(c_aud[j], 1e-12)  # share of today's community that came from i
    matched = _greedy_match(i, j, jac, n, t.match_jaccard)

    merge_link = fwd >= t.link_share
    split_link = (bwd >= t.link_share) & (fwd >= t.min_part)
    merges = {
        int(c): sorted(i[merge_link & (j == c)].tolist())
        for c in np.unique(j[merge_link])
        if np.count_nonzero(merge_link & (j == c)) >= 2
    }
    splits = {
        int(s): sorted(j[split_link & (i == s)].tolist())
        for s in np.unique(i[split_link])
        if np.count_nonzero(split_link & (i == s)) >= 2
    }

    # ids: continuing communities keep theirs, new ones get today's, biggest first
    uids = [prev.uids[k] if k >= 0 else "" for k in matched.tolist()]
    fresh = [c for c in np.lexsort((np.arange(n), -audience)).tolist() if matched[c] < 0]
    for seq, c in enumerate(fresh):
        uids[c] = new_uid(day, seq)
    previous_color = np.where(matched >= 0, prev.colors[np.maximum(matched, 0)], -1)
    colors = assign_colors(previous_color, audience, palette_size)

    p_channels, c_channels = prev.channels(), cur.channels()

    def row(kind, subject, before, after, sources, targets) -> dict:
        pb = float(p_aud[before]) if before is not None else 0.0
        ca = float(c_aud[after]) if after is not None else 0.0
        return {
            "event": kind,
            "community_uid": subject,
            "from_uids": [prev.uids[s] for s in sources],
            "to_uids": [uids[x] for x in targets],
            "chatters_before": round(float(pb)),
            "chatters_after": round(float(ca)),
            "channels_before": int(p_channels[before]) if before is not None else 0,
            "channels_after": int(c_channels[after]) if after is not None else 0,
            "change": (ca / pb - 1.0) if before is not None and after is not None and pb else None,
            "_cur": after,
        }

    events: list[dict] = []
    in_merge = {s for sources in merges.values() for s in sources}
    in_split = {t for targets in splits.values() for t in targets}
    for target, sources in sorted(merges.items()):
        events.append(row("merge", uids[target], None, target, sources, [target]))
        events[-1]["chatters_before"] = round(float(p_aud[sources].sum()))
        events[-1]["channels_before"] = int(p_channels[sources].sum())
    for source, targets in sorted(splits.items()):
        events.append(row("split", prev.uids[source], source, None, [source], targets))
        events[-1]["chatters_after"] = round(float(c_aud[targets].sum()))
        events[-1]["channels_after"] = int(c_channels[targets].sum())
    continued = set(matched[matched >= 0].tolist())
    for c in range(n):
        if matched[c] < 0 and c not in merges and c not in in_split:
            events.append(row("birth", uids[c], None, c, [], [c]))
    for s in range(prev.size):
        if s not in continued and s not in in_merge and s not in splits:
            events.append(row("death", prev.uids[s], s, None, [s], []))
    grow_limit = 1.0 + t.growth
    for c in np.flatnonzero(matched >= 0).tolist():
        s = int(matched[c])
        if c in merges or s in splits or c in in_split or s in in_merge:
            continue
        ratio = c_aud[c] / max(p_aud[s], 1e-12)
        if ratio >= grow_limit or ratio <= 1.0 / grow_limit:
            kind = "grow" if ratio >= grow_limit else "shrink"
            events.append(row(kind, uids[c], s, c, [s], [c]))

    # channel moves between communities that exist on both days
    from_c, to_c = prev.community[prev_rows], cur.community[cur_rows]
    alive_prev = np.zeros(prev.size, bool)
    alive_prev[matched[matched >= 0]] = True
    successor = np.full(prev.size, -1, np.int64)
    successor[matched[matched >= 0]] = np.flatnonzero(matched >= 0)
    moved = (successor[from_c] != to_c) & alive_prev[from_c] & (matched[to_c] >= 0)
    moves = {
        "channel_id": cur.channel_id[cur_rows[moved]],
        "from_c": from_c[moved].astype(np.int64),
        "to_c": to_c[moved].astype(np.int64),
        "chatters_before": prev.weight[prev_rows[moved]],
        "chatters_after": cur.weight[cur_rows[moved]],
    }
    flows = {"prev": i, "cur": j, "shared": m}
    return Tracked(uids, colors, events, moves, flows, matched)
