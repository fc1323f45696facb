"""Community tracking: accuracy against planted evolution, and the cost of the track task.

Accuracy: ``vieweratlas.synthetic_evolution`` plants merges, splits, births,
deaths, growth, shrinkage and channel moves over ``--days`` days (plus churn,
chatter jitter and border noise), the tracker replays the days in order, and
each event type's precision and recall and the share of persisting communities
that kept their id are printed (summed over ``--seeds`` seeds).

Cost: the same days are written to a temporary ``file://`` lake as the labels
step writes them (``graph_nodes`` + ``communities``), and ``history.track_step``
runs for each day in order, as the DAG's ``track`` task does: seconds for
reading the two days' small tables + matching + events (``track``), writing
(``track_write``) and the timeline PNG + HTML (``timeline``), then the process's
peak RSS. The first day is reported apart (nothing to match, cold imports).

    .venv/bin/python scripts/bench_tracking.py [--channels 5000 --communities 100 --days 10]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

import numpy as np

from vieweratlas.history import track_step
from vieweratlas.params import AnalysisParams
from vieweratlas.schema import EVENT_TYPES
from vieweratlas.storage import Lake
from vieweratlas.synthetic_evolution import (
    EvolutionSpec,
    evaluate,
    evolve,
    replay,
    write_day,
)
from vieweratlas.tracking import Thresholds


def accuracy(spec: EvolutionSpec, seeds: int) -> dict:
    """Event precision/recall and ids kept, summed over seeds."""
    totals = {k: [0, 0, 0] for k in EVENT_TYPES}  # true positives, reported, planted
    kept = persisting = 0.0
    for seed in range(seeds):
        evolution = evolve(EvolutionSpec(**{**spec.__dict__, "seed": seed}))
        scores = evaluate(evolution, replay(evolution, Thresholds()))
        for kind, s in scores["events"].items():
            totals[kind][0] += s["found"]
            totals[kind][1] += s["reported"]
            totals[kind][2] += s["planted"]
        kept += scores["ids_kept"] * scores["persisting"]
        persisting += scores["persisting"]
    return {
        "events": {
            k: {
                "planted": p,
                "reported": r,
                "precision": round(tp / r, 4) if r else None,
                "recall": round(tp / p, 4) if p else None,
            }
            for k, (tp, r, p) in totals.items()
        },
        "ids_kept": round(kept / max(persisting, 1), 4),
        "persisting": int(persisting),
    }


def cost(spec: EvolutionSpec) -> dict:
    """Seconds of the track step per day on a file:// lake, and peak RSS."""
    evolution = evolve(spec)
    days = [(date(2026, 1, 1) + timedelta(days=k)).isoformat() for k in range(spec.days)]
    params = AnalysisParams()
    with tempfile.TemporaryDirectory() as root:
        lake = Lake(Path(root).as_uri())
        for planted, day in zip(evolution.days, days, strict=True):
            write_day(lake, planted, day)
        steps = []
        for day in days:
            clock = time.perf_counter()
            stats = track_step(lake, day, params)
            steps.append({**stats["seconds"], "wall": time.perf_counter() - clock})
    later = steps[1:]

    def summary(key: str) -> dict:
        values = np.array([s[key] for s in later])
        return {"median": round(float(np.median(values)), 3), "max": round(float(values.max()), 3)}

    return {
        "channels_per_day": int(np.mean([len(d.channel_id) for d in evolution.days])),
        "communities_per_day": int(np.mean([len(np.unique(d.label)) for d in evolution.days])),
        "first_day_seconds": {k: round(v, 3) for k, v in steps[0].items()},
        "later_days_seconds": {k: summary(k) for k in ("track", "track_write", "timeline", "wall")},
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=5000)
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--days", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    spec = EvolutionSpec(channels=args.channels, communities=args.communities, days=args.days)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    report = {"spec": spec.__dict__, "accuracy": accuracy(spec, args.seeds), "cost": cost(spec)}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
