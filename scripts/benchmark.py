"""`make bench`: the daily analysis at Twitch scale, against the seeds' method.

1. Generates a synthetic 7-day window (5,000 channels, ~2 M users, ~10 M daily
   presence rows; ``--large``: ~10 M users, ~50 M rows) with planted
   communities at in-community probability 0.3, and writes it under
   ``bench-out/`` as daily presence + hourly channel metadata (local lake).
2. Runs the analysis steps the DAG runs (read -> bots -> overlap backbone ->
   communities -> labels -> layout -> PNG + HTML -> write) in a fresh child
   process, so its peak RSS is the analysis's alone; prints per-step wall time,
   peak RSS, edges kept, modularity and NMI against the planted communities.
3. Times the seeds' method on the same data: Python sets per channel, all-pairs
   intersections (timed on a random sample of pairs and EXTRAPOLATED to all
   pairs), then python-louvain on the unsparsified graph (every pair sharing a
   chatter; timed for real unless ``--skip-seed-louvain``), and prints the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]
DAY = date(2026, 3, 7)
SAMPLE_PAIRS = 20_000


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spec_for(large: bool):
    from vieweratlas.synthetic import SyntheticSpec

    users = 10_000_000 if large else 2_000_000
    return SyntheticSpec(
        channels=5000,
        users=users,
        communities=100,
        in_community=0.3,
        days=7,
        visits=4.0,
        repeat=0.05,
        zipf=0.6,
        lurkers=20,
        seed=7,
    )


def analyse(root: str, weighting: str, algorithm: str) -> dict:
    """The DAG's steps on the lake at ``root`` (run in a child process)."""
    from vieweratlas import pipeline
    from vieweratlas.params import AnalysisParams
    from vieweratlas.publish import publish_step
    from vieweratlas.storage import Lake

    lake = Lake(root)
    params = AnalysisParams(weighting=weighting, algorithm=algorithm)
    started = time.perf_counter()
    steps = {"presence": []}
    steps["overlap"] = pipeline.overlap_step(lake, DAY.isoformat(), params)
    steps["communities"] = pipeline.communities_step(lake, DAY.isoformat(), params)
    steps["labels"] = pipeline.labels_step(lake, DAY.isoformat(), params)
    summary = publish_step(lake, DAY.isoformat(), params, steps)
    summary["seconds"].pop("presence", None)
    summary["total_seconds"] = round(time.perf_counter() - started, 2)
    summary["peak_rss_mb"] = round(_rss_mb())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    summary["cpu_seconds"] = round(usage.ru_utime + usage.ru_stime, 2)
    return summary


def seeds_method(lake, window, skip_louvain: bool) -> dict:
    """All-pairs set intersections (sampled, extrapolated) + Louvain on the full graph."""
    import numpy as np
    import scipy.sparse as sp

    from vieweratlas import pipeline
    from vieweratlas.bots import bot_user_mask
    from vieweratlas.overlap import build_incidence, drop_users, keep_channels, weights
    from vieweratlas.params import AnalysisParams

    out: dict[str, float] = {}
    clock = time.perf_counter()
    sets: dict[int, set[int]] = {}
    for channel, user, _ in window.days:
        order = np.argsort(channel, kind="stable")
        channel, user = channel[order], user[order]
        bounds = np.flatnonzero(np.diff(channel, prepend=-1, append=-1) != 0)
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            sets.setdefault(int(channel[a]), set()).update(user[a:b].tolist())
    out["build_sets"] = time.perf_counter() - clock
    names = sorted(sets)
    n = len(names)
    total_pairs = n * (n - 1) // 2
    rng = random.Random(0)
    sample = [tuple(rng.sample(names, 2)) for _ in range(SAMPLE_PAIRS)]
    clock = time.perf_counter()
    for a, b in sample:
        len(sets[a] & sets[b])
    per_pair = (time.perf_counter() - clock) / SAMPLE_PAIRS
    out["pair_loop_extrapolated"] = per_pair * total_pairs
    out["pairs"] = total_pairs
    del sets

    # The full graph: every pair sharing a chatter once bots are removed as ours are
    # (with them, the lurker accounts make it complete: 12.5 M edges, too big for RAM).
    arrays, _, known, _ = pipeline.read_window(lake, pipeline.window(DAY.isoformat(), 7))
    incidence = build_incidence(arrays)
    params = AnalysisParams()
    mask, _, _ = bot_user_mask(
        incidence.user_ids, incidence.channels_per_user, n, known, params.bot_channel_share
    )
    incidence = keep_channels(drop_users(incidence, mask), params.min_chatters)
    w = weights(incidence, "unique")  # sparse
    upper = sp.triu(w, 1).tocoo()
    src, dst = upper.row, upper.col
    out["unsparsified_edges"] = len(src)
    if skip_louvain:
        return out
    import community as community_louvain
    import networkx as nx

    clock = time.perf_counter()
    graph = nx.Graph()
    graph.add_nodes_from(range(w.shape[0]))
    graph.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), upper.data.tolist(), strict=True))
    del w
    out["graph_build"] = time.perf_counter() - clock
    clock = time.perf_counter()
    found = community_louvain.best_partition(graph, weight="weight", random_state=42)
    out["louvain"] = time.perf_counter() - clock
    out["membership"] = [found[i] for i in range(len(found))]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description="ViewerAtlas analysis benchmark")
    parser.add_argument("--large", action="store_true", help="~50 M rows instead of ~10 M")
    parser.add_argument("--weighting", default="unique", choices=["unique", "repeat"])
    parser.add_argument("--algorithm", default="leiden", choices=["leiden", "louvain"])
    parser.add_argument("--skip-seed-louvain", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench-out"))
    parser.add_argument("--analyse", help=argparse.SUPPRESS)  # child mode: lake root
    args = parser.parse_args()
    if args.analyse:
        print(json.dumps(analyse(args.analyse, args.weighting, args.algorithm)))
        return 0

    import numpy as np

    from vieweratlas import lake as keys
    from vieweratlas.communities import normalized_mutual_info
    from vieweratlas.storage import Lake
    from vieweratlas.synthetic import generate, write_daily_presence, write_metadata

    root = (Path(args.out) / ("large" if args.large else "standard")).resolve().as_uri()
    lake = Lake(root)
    clock = time.perf_counter()
    window = generate(spec_for(args.large))
    rows = write_daily_presence(lake, window, DAY)
    write_metadata(lake, window, DAY)
    print(
        f"generated {rows:,} presence rows, {window.spec.channels:,} channels, "
        f"{window.spec.users:,} users in {time.perf_counter() - clock:.1f}s -> {root}"
    )

    command = [sys.executable, __file__, "--analyse", root, "--weighting", args.weighting,
               "--algorithm", args.algorithm]  # fmt: skip
    child = subprocess.run(command, capture_output=True, text=True, check=False)
    if child.returncode:
        print(child.stderr, file=sys.stderr)
        return 1
    summary = json.loads(child.stdout.strip().splitlines()[-1])
    channels = lake.read_parquet(keys.analysis_file(DAY, "channels.parquet"))["channel_id"]
    found = lake.read_parquet(keys.analysis_file(DAY, "membership.parquet"))["community"]
    planted = window.planted[np.searchsorted(window.channel_ids, channels.to_numpy())]
    nmi = normalized_mutual_info(planted, found.to_numpy())
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n== ViewerAtlas analysis (fresh process; load {load} on {os.cpu_count()} cores) ==")
    for step, seconds in summary["seconds"].items():
        print(f"  {step:<12} {seconds:8.2f} s")
    total = summary["total_seconds"]
    print(f"  {'TOTAL':<12} {total:8.2f} s   peak RSS {summary['peak_rss_mb']:,} MB")
    print(f"  (CPU time of the analysis process, imports included: {summary['cpu_seconds']:.2f} s)")
    counts = summary["counts"]
    print(
        f"  channels {counts['channels']:,}  chatters {counts['chatters']:,}  "
        f"pairs with overlap {counts['pairs_with_overlap']:,}  edges kept {counts['edges']:,}"
    )
    print(
        f"  communities {counts['communities']}  modularity {summary['modularity']:.4f}  "
        f"NMI vs planted {nmi:.4f}"
    )

    print("\n== Seeds' method (Python sets, all pairs; python-louvain on the full graph) ==")
    seeds = seeds_method(lake, window, args.skip_seed_louvain)
    print(f"  build sets            {seeds['build_sets']:8.2f} s")
    print(
        f"  pair loop             {seeds['pair_loop_extrapolated']:8.2f} s  "
        f"(EXTRAPOLATED from {SAMPLE_PAIRS:,} random pairs to {seeds['pairs']:,})"
    )
    print(f"  unsparsified edges    {seeds['unsparsified_edges']:,}")
    seed_total = seeds["build_sets"] + seeds["pair_loop_extrapolated"]
    if "louvain" in seeds:
        seed_nmi = normalized_mutual_info(
            window.planted[np.searchsorted(window.channel_ids, channels.to_numpy())],
            np.asarray(seeds["membership"]),
        )
        print(f"  networkx graph        {seeds['graph_build']:8.2f} s")
        print(f"  python-louvain        {seeds['louvain']:8.2f} s  (NMI vs planted {seed_nmi:.4f})")
        seed_total += seeds["graph_build"] + seeds["louvain"]
        label = "pairs (extrapolated) + Louvain (measured)"
    else:
        label = "pairs only (extrapolated); Louvain skipped, so the ratio is a lower bound"
    print(f"  TOTAL                 {seed_total:8.2f} s  [{label}]")
    ours = summary["seconds"]
    core = sum(ours[k] for k in ("read", "incidence", "bots", "overlap", "communities"))
    print(
        f"\nspeed-up, like for like (edges + communities: {core:.2f} s): "
        f"{seed_total / core:,.0f}x;  against our full run incl. maps: {seed_total / total:,.0f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
