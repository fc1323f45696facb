"""Tracking on a real Twitch overlap graph: how stable are ids when nothing really changed?

Takes a Gephi-style edge list and channel list (e.g. the MIT-licensed "Twitch
Atlas" export by Kiran Gershenfeld, ``Source,Target,Weight`` and
``ID,Label,Count``; pass the paths) and makes two "days" of the same scene:
day 2 drops a share of channels at random (``--churn``), scales every overlap
by lognormal noise (``--jitter``), and runs community detection with another
seed. Everything the tracker then reports is detection noise, so the figures
are the false-event rate and the share of communities (and of audience) that
kept their id on real data.

    .venv/bin/python scripts/bench_tracking_real.py edges.csv labels.csv
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

import numpy as np
import pyarrow.csv as pacsv

from vieweratlas.communities import detect
from vieweratlas.schema import EVENT_TYPES
from vieweratlas.tracking import Day, Thresholds, track


def load(edges_csv: str, labels_csv: str):
    """Channel audiences and (src, dst, weight) over channel rows."""
    labels = pacsv.read_csv(labels_csv)
    names = labels["ID"].to_pylist()
    count = np.maximum(labels["Count"].to_numpy().astype(np.float64), 1.0)
    row = {name: k for k, name in enumerate(names)}
    edges = pacsv.read_csv(edges_csv)
    known = [
        (row.get(a), row.get(b))
        for a, b in zip(edges["Source"].to_pylist(), edges["Target"].to_pylist(), strict=True)
    ]
    keep = np.array([a is not None and b is not None for a, b in known])
    src = np.array([a for a, _ in known if a is not None and _ is not None], np.int64)
    dst = np.array([b for a, b in known if a is not None and b is not None], np.int64)
    weight = edges["Weight"].to_numpy().astype(np.float64)[keep]
    return count, src, dst, weight


def one_day(count, src, dst, weight, present, seed, rng, jitter) -> Day:
    """Communities of the channels ``present`` (cosine-weighted), as a tracker day."""
    rows = np.flatnonzero(present)
    new_row = np.full(len(present), -1)
    new_row[rows] = np.arange(len(rows))
    ok = present[src] & present[dst]
    w = weight[ok] * rng.lognormal(0.0, jitter, ok.sum())
    s, d = new_row[src[ok]], new_row[dst[ok]]
    score = w / np.sqrt(count[rows][s] * count[rows][d])
    found = detect(len(rows), s, d, score, "leiden", 1.0, seed)
    return Day(rows.astype(np.int64), np.asarray(found.membership, np.int64), count[rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("edges")
    parser.add_argument("labels")
    parser.add_argument("--churn", type=float, default=0.03)
    parser.add_argument("--jitter", type=float, default=0.1)
    parser.add_argument("--pairs", type=int, default=5, help="day pairs (seeds) to average")
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    count, src, dst, weight = load(args.edges, args.labels)
    totals = {k: 0 for k in EVENT_TYPES}
    kept = kept_audience = communities = seconds = 0.0
    for pair in range(args.pairs):
        rng = np.random.default_rng(pair)
        everyone = np.ones(len(count), bool)
        first = one_day(count, src, dst, weight, everyone, 2 * pair + 1, rng, args.jitter)
        start = track(None, first, "2021-10-01", Thresholds(), 40)
        first.uids, first.colors = start.uids, start.colors
        present = rng.random(len(count)) >= args.churn
        second = one_day(count, src, dst, weight, present, 2 * pair + 2, rng, args.jitter)
        clock = time.perf_counter()
        result = track(first, second, "2021-10-02", Thresholds(), 40)
        seconds += time.perf_counter() - clock
        for event in result.events:
            totals[event["event"]] += 1
        totals["move"] += len(result.moves["channel_id"])
        audience = first.audience()
        continued = np.isin(np.arange(first.size), result.matched[result.matched >= 0])
        kept += continued.mean()
        kept_audience += audience[continued].sum() / audience.sum()
        communities += first.size
    n = args.pairs
    report = {
        "channels": len(count),
        "edges": len(src),
        "communities_per_day": round(communities / n, 1),
        "events_per_day_pair": {k: round(v / n, 2) for k, v in totals.items()},
        "communities_keeping_id": round(kept / n, 4),
        "audience_keeping_id": round(kept_audience / n, 4),
        "track_seconds": round(seconds / n, 4),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
