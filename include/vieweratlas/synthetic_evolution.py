"""Planted community evolution over days, and how well tracking recovers it.

Day 0 has ``communities`` communities of Zipf-sized channels (audience weights as
in :mod:`vieweratlas.synthetic`). Each later day plants, on distinct communities
of at least ``min_size`` channels (the clear cases): merges (the smaller
audience joins the larger), splits (two halves of similar audience; the larger
keeps the id), births (a group of new channels), deaths (every channel leaves),
growth (new channels until the audience is x1.8), shrinkage (channels leave
until it is x0.5), and channel moves between untouched communities. Background
noise on every day: each channel's chatters vary (lognormal ``jitter``), a
``churn`` share of channels leaves the list and as many new ones join random
communities, and a ``noise`` share of small channels is reassigned at random
(as community detection does at the borders; these count as planted moves).

:func:`replay` runs :func:`vieweratlas.tracking.track` day after day on the
planted memberships; :func:`evaluate` scores its events and ids against the
truth; :func:`write_day` writes a day as the labels step would (``graph_nodes``
and ``communities``), for tests and the benchmark of the ``track`` task.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from vieweratlas import lake as keys
from vieweratlas.schema import EVENT_TYPES
from vieweratlas.storage import Lake
from vieweratlas.synthetic import CHANNEL_ID0
from vieweratlas.tracking import Day, Thresholds, Tracked, track


@dataclass(frozen=True)
class EvolutionSpec:
    """Knobs of a planted evolution (event counts are per day)."""

    channels: int = 5000
    communities: int = 100
    days: int = 10
    merges: int = 2
    splits: int = 2
    births: int = 2
    deaths: int = 2
    grows: int = 2
    shrinks: int = 2
    moves: int = 20
    noise: float = 0.005
    churn: float = 0.01
    jitter: float = 0.1
    zipf: float = 0.55
    min_size: int = 15
    seed: int = 0


@dataclass
class PlantedDay:
    """One day: a row per channel with its planted community label and chatters."""

    channel_id: np.ndarray  # int64
    label: np.ndarray  # int64 planted community (persistent across days)
    chatters: np.ndarray  # int64


@dataclass
class Evolution:
    spec: EvolutionSpec
    days: list[PlantedDay]
    truth: list[set] = field(default_factory=list)  # per day: planted event keys (see module doc)


class _State:
    def __init__(self, spec: EvolutionSpec, rng: np.random.Generator) -> None:
        self.spec, self.rng = spec, rng
        self.next_channel = CHANNEL_ID0
        self.next_label = spec.communities
        sizes = rng.dirichlet(np.full(spec.communities, 2.0)) * (
            spec.channels - spec.communities * 5
        )
        counts = 5 + np.floor(sizes).astype(np.int64)
        self.label = np.repeat(np.arange(spec.communities), counts)
        self.base = self.new_weights(len(self.label))
        self.ids = self.new_ids(len(self.label))

    def new_ids(self, n: int) -> np.ndarray:
        ids = self.next_channel + np.arange(n, dtype=np.int64) * 7
        self.next_channel += 7 * n
        return ids

    def new_weights(self, n: int, smallest: float = 0.0) -> np.ndarray:
        """Chatters: Zipf-like over a rank drawn out of ``spec.channels`` (or its tail)."""
        low = 1 + int(smallest * self.spec.channels)
        rank = self.rng.integers(low, self.spec.channels + 1, n).astype(np.float64)
        return 20.0 + 50_000.0 * rank**-self.spec.zipf

    def add(self, n: int, label: int, smallest: float = 0.0) -> np.ndarray:
        ids = self.new_ids(n)
        self.ids = np.concatenate([self.ids, ids])
        self.label = np.concatenate([self.label, np.full(n, label)])
        self.base = np.concatenate([self.base, self.new_weights(n, smallest)])
        return ids

    def drop(self, rows: np.ndarray) -> None:
        keep = np.ones(len(self.ids), bool)
        keep[rows] = False
        self.ids, self.label, self.base = self.ids[keep], self.label[keep], self.base[keep]

    def members(self, label: int) -> np.ndarray:
        return np.flatnonzero(self.label == label)

    def audience(self, label: int) -> float:
        return float(self.base[self.label == label].sum())


def _step(s: _State) -> set:
    """Plant one day's events into the state; the truth keys."""
    spec, rng = s.spec, s.rng
    labels, counts = np.unique(s.label, return_counts=True)
    big = labels[counts >= spec.min_size]
    wanted = 2 * spec.merges + spec.splits + spec.deaths + spec.grows + spec.shrinks
    if len(big) < wanted + 2:
        raise ValueError(f"{len(big)} communities of {spec.min_size}+ channels; {wanted} needed")
    pick = iter(rng.permutation(big)[:wanted].tolist())
    truth: set = set()
    touched: set[int] = set()
    for _ in range(spec.merges):
        a, b = next(pick), next(pick)
        keep, gone = (a, b) if s.audience(a) >= s.audience(b) else (b, a)
        s.label[s.label == gone] = keep
        truth.add(("merge", frozenset((a, b))))
        touched |= {a, b}
    for _ in range(spec.splits):
        src = next(pick)
        rows = s.members(src)
        rows = rows[np.argsort(-s.base[rows], kind="stable")]
        new = s.next_label
        s.next_label += 1
        s.label[rows[1::2]] = new  # every other channel by size: similar audiences
        if s.audience(new) > s.audience(src):
            swap = s.members(src)
            s.label[s.members(new)] = src
            s.label[swap] = new
        truth.add(("split", src, frozenset((src, new))))
        touched |= {src, new}
    for _ in range(spec.deaths):
        dead = next(pick)
        s.drop(s.members(dead))
        truth.add(("death", dead))
        touched.add(dead)
    for _ in range(spec.grows):
        g = next(pick)
        target = 1.8 * s.audience(g)
        while s.audience(g) < target:
            s.add(max(2, len(s.members(g)) // 4), g)
        truth.add(("grow", g))
        touched.add(g)
    for _ in range(spec.shrinks):
        h = next(pick)
        total = s.audience(h)
        rows = rng.permutation(s.members(h)).tolist()
        gone, left = [], total
        for row in rows:  # a few dozen channels: leave until ~half the audience is gone
            if left - s.base[row] >= 0.4 * total:
                gone.append(row)
                left -= s.base[row]
            if left <= 0.55 * total:
                break
        s.drop(np.asarray(gone, np.int64))
        truth.add(("shrink", h))
        touched.add(h)
    for _ in range(spec.births):
        new = s.next_label
        s.next_label += 1
        s.add(int(rng.integers(spec.min_size, 3 * spec.min_size)), new)
        truth.add(("birth", new))
        touched.add(new)

    # background: churn, then moves and detection noise between untouched communities
    labels, counts = np.unique(s.label, return_counts=True)
    calm = labels[(counts >= spec.min_size) & ~np.isin(labels, list(touched))]
    leaving = rng.choice(len(s.ids), int(spec.churn * len(s.ids)), replace=False)
    leaving = leaving[np.isin(s.label[leaving], calm) & (s.base[leaving] < np.median(s.base))]
    s.drop(leaving)
    for label in rng.choice(calm, len(leaving)).tolist():
        s.add(1, label, smallest=0.5)  # channels entering the top list are small ones
    movable = np.flatnonzero(np.isin(s.label, calm))
    small = movable[s.base[movable] < np.median(s.base[movable])]
    count = min(len(small), spec.moves + int(spec.noise * len(s.ids)))
    chosen = np.sort(rng.choice(small, count, replace=False))
    for row in chosen.tolist():
        before = int(s.label[row])
        after = int(rng.choice(calm[calm != before]))
        s.label[row] = after
        truth.add(("move", int(s.ids[row]), before, after))
    return truth


def _snapshot(s: _State) -> PlantedDay:
    factor = s.rng.lognormal(0.0, s.spec.jitter, len(s.base))
    return PlantedDay(s.ids.copy(), s.label.copy(), np.round(s.base * factor).astype(np.int64))


def evolve(spec: EvolutionSpec) -> Evolution:
    """A planted evolution of ``spec.days`` days."""
    state = _State(spec, np.random.default_rng(spec.seed))
    out = Evolution(spec, [_snapshot(state)], [set()])
    for _ in range(1, spec.days):
        out.truth.append(_step(state))
        out.days.append(_snapshot(state))
    return out


def as_day(planted: PlantedDay) -> tuple[Day, np.ndarray]:
    """The tracker's view of a day (community numbers, biggest first) and number -> label."""
    labels, inverse = np.unique(planted.label, return_inverse=True)
    audience = np.bincount(inverse, weights=planted.chatters)
    order = np.lexsort((labels, -audience))  # community 0 = largest, as the analysis numbers them
    number = np.empty(len(labels), np.int64)
    number[order] = np.arange(len(labels))
    day = Day(planted.channel_id, number[inverse], planted.chatters.astype(np.float64))
    return day, labels[order]


def replay(evolution: Evolution, t: Thresholds, palette_size: int = 40) -> list[Tracked]:
    """Track every day in order, in memory (what the ``track`` task does, minus the lake)."""
    first = date(2026, 1, 1)
    out: list[Tracked] = []
    prev: Day | None = None
    for k, planted in enumerate(evolution.days):
        day, _ = as_day(planted)
        result = track(prev, day, (first + timedelta(days=k)).isoformat(), t, palette_size)
        day.uids, day.colors = result.uids, result.colors
        out.append(result)
        prev = day
    return out


def _reported(result: Tracked, prev_label: dict, cur_label: dict) -> set:
    """The tracker's events as truth keys (planted labels instead of ids)."""
    keys_: set = set()
    for e in result.events:
        kind, uid = e["event"], e["community_uid"]
        if kind in ("birth", "grow", "shrink"):
            keys_.add((kind, cur_label[uid]))
        elif kind == "death":
            keys_.add((kind, prev_label[uid]))
        elif kind == "merge":
            keys_.add((kind, frozenset(prev_label[u] for u in e["from_uids"])))
        elif kind == "split":
            parts = frozenset(cur_label[u] for u in e["to_uids"])
            keys_.add((kind, prev_label[uid], parts))
    number_label = {n: cur_label[u] for n, u in enumerate(result.uids)}
    moves = zip(result.moves["channel_id"].tolist(), result.moves["to_c"].tolist(), strict=True)
    keys_ |= {("move", int(cid), None, number_label[to]) for cid, to in moves}
    return keys_


def evaluate(evolution: Evolution, results: list[Tracked]) -> dict:
    """Precision and recall per event type, and the share of persisting ids kept."""
    found = {k: [0, 0, 0] for k in EVENT_TYPES}  # true positives, reported, planted
    kept = persisting = 0
    prev_label: dict[str, int] = {}
    for k, (planted, result) in enumerate(zip(evolution.days, results, strict=True)):
        _, number_label = as_day(planted)
        cur_label = {u: int(number_label[n]) for n, u in enumerate(result.uids)}
        cur_uid = {v: u for u, v in cur_label.items()}
        if k > 0:
            truth = evolution.truth[k]
            prev_uids_day = {v: u for u, v in prev_label.items()}
            # moves: compare channel and destination; the origin is the channel's earlier label
            reported = _reported(result, prev_label, cur_label)
            planted_moves = {(m[0], m[1], None, m[3]) for m in truth if m[0] == "move"}
            truth = {m for m in truth if m[0] != "move"} | planted_moves
            for kind in EVENT_TYPES:
                r = {e for e in reported if e[0] == kind}
                p = {e for e in truth if e[0] == kind}
                found[kind][0] += len(r & p)
                found[kind][1] += len(r)
                found[kind][2] += len(p)
            merged_away = {
                label for e in evolution.truth[k] if e[0] == "merge" for label in e[1]
            } - set(cur_uid)
            for label, uid in prev_uids_day.items():
                if label in cur_uid and label not in merged_away:
                    persisting += 1
                    kept += cur_uid[label] == uid
        prev_label = cur_label
    scores = {
        kind: {
            "planted": p,
            "reported": r,
            "found": tp,
            "precision": round(tp / r, 4) if r else (1.0 if not p else 0.0),
            "recall": round(tp / p, 4) if p else 1.0,
        }
        for kind, (tp, r, p) in found.items()
    }
    return {
        "events": scores,
        "ids_kept": round(kept / max(persisting, 1), 4),
        "persisting": persisting,
    }


def write_day(lake: Lake, planted: PlantedDay, day: str) -> None:
    """``graph_nodes`` and ``communities`` of a planted day, as the labels step writes them."""
    from vieweratlas.labels import community_table, node_table
    from vieweratlas.schema import CHANNEL_METADATA

    tracked, _ = as_day(planted)
    logins = {str(c): f"chan_{c}" for c in planted.channel_id.tolist()}
    empty = pa.schema(
        [CHANNEL_METADATA.field(n) for n in ("channel_id", "login", "display_name")]
        + [CHANNEL_METADATA.field(n) for n in ("game_name", "language", "viewer_count")]
    ).empty_table()
    nodes = node_table(
        planted.channel_id, logins, planted.chatters, tracked.community.astype(np.int32), empty
    )
    lake.write_parquet(keys.analysis_file(day, "graph_nodes.parquet"), nodes)
    lake.write_parquet(keys.analysis_file(day, "communities.parquet"), community_table(nodes))
