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

``--production``: one production day from raw input instead (see
:func:`production`): the last day as the collector writes it (hourly part files
of the top 5,000 live channels, churning hour by hour, out of 15,000) plus VOD
files, the 6 days before it as daily presence (generating those from raw too
would take far longer than the analysis); then presence -> overlap ->
communities -> labels -> publish through the library, each stage in a fresh
process (peak RSS = that stage's alone), next to plain DuckDB doing the
presence group-by and the pair counts in SQL on the same files, in the same run.
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
    from scripts.peak import peak_rss_mb

    return peak_rss_mb()


def spec_for(users: int, channels: int = 5000, days: int = 7):
    """The benchmark's planted window (also ``bench_scale.py``'s, at other sizes)."""
    from vieweratlas.synthetic import SyntheticSpec

    return SyntheticSpec(
        channels=channels,
        users=users,
        communities=max(10, channels // 50),
        in_community=0.3,
        days=days,
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


PRODUCTION_STAGES = ("presence", "overlap", "communities", "labels", "publish")
BASELINES = ("duckdb_presence", "duckdb_pairs")


def production_spec():
    """The production window: 15,000 channels (top 5,000 per hour), 5.3 M users, hard setting.

    5.3 M users give the last day ~42 M raw rows (live + VOD) from ~12,000 of the
    channels (each hour's top 5,000 churn), the size of a production day.
    """
    from vieweratlas.synthetic import hard_spec

    return hard_spec(
        channels=15_000, users=5_300_000, communities=150, days=7, repeat=0.3, lurkers=20, seed=7
    )


def write_production(lake) -> dict:
    """Generate the production window into ``lake`` unless it is already there."""
    from dataclasses import asdict

    from vieweratlas.synthetic import generate, write_daily_presence, write_metadata, write_raw_day

    marker = "bench/production.json"
    spec = production_spec()
    if lake.exists(marker) and lake.read_json(marker).get("spec") == asdict(spec):
        return lake.read_json(marker)
    clock = time.perf_counter()
    window = generate(spec)
    write_daily_presence(lake, window, DAY)  # the last day is rebuilt from raw by the benchmark
    raw = write_raw_day(lake, window, DAY)
    write_metadata(lake, window, DAY)
    info = {"spec": asdict(spec), "raw": raw, "seconds": round(time.perf_counter() - clock, 1)}
    lake.write_json(marker, info)
    return info


def run_stage(root: str, stage: str, memory_mb: int) -> dict:
    """One stage of the production run or of the DuckDB baseline (in a child process)."""
    from vieweratlas import pipeline
    from vieweratlas.params import AnalysisParams
    from vieweratlas.publish import publish_step
    from vieweratlas.storage import Lake

    lake, day, params = Lake(root), DAY.isoformat(), AnalysisParams()
    steps_key = "bench/steps.json"
    clock = time.perf_counter()
    if stage == "presence":
        from vieweratlas.presence import build_day

        out = build_day(lake, day, params.max_bad_input_share, memory_mb=memory_mb).as_dict()
    elif stage == "overlap":
        out = pipeline.overlap_step(lake, day, params)
    elif stage == "communities":
        out = pipeline.communities_step(lake, day, params)
    elif stage == "labels":
        out = pipeline.labels_step(lake, day, params)
    elif stage == "publish":
        steps = lake.read_json(steps_key)
        out = publish_step(lake, day, params, {**steps, "presence": [steps["presence"]]})
    else:
        out = duckdb_baseline(lake, stage, params)
    seconds = time.perf_counter() - clock
    if stage in PRODUCTION_STAGES:
        steps = lake.read_json(steps_key) if lake.exists(steps_key) else {}
        lake.write_json(steps_key, {**steps, stage: out})
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = round(usage.ru_utime + usage.ru_stime, 2)
    return {
        "seconds": round(seconds, 2),
        "cpu_seconds": cpu,
        "peak_rss_mb": round(_rss_mb()),
        "out": out,
    }


def duckdb_baseline(lake, stage: str, params) -> dict:
    """Plain DuckDB (no memory limit) doing the presence group-by or the pair counts."""
    import duckdb

    from vieweratlas import lake as keys
    from vieweratlas.pipeline import window

    con = duckdb.connect()
    if stage == "duckdb_presence":
        files = [lake.path(k) for k in lake.list(keys.raw_live_day_prefix(DAY))]
        files += [lake.path(k) for k in lake.list(keys.vod_presence_day_prefix(DAY))]
        out = str(ROOT / "bench-out" / "duckdb-presence.parquet")
        con.execute(
            "COPY (SELECT channel_id, user_id, source, sum(message_count)::INTEGER AS messages "
            "FROM read_parquet($files, union_by_name = true) GROUP BY ALL ORDER BY ALL) "
            "TO '" + out + "' (FORMAT parquet, COMPRESSION zstd)",
            {"files": files},
        )
        return {"files": len(files)}
    days = [lake.path(keys.daily_presence(d)) for d in window(DAY.isoformat(), params.window_days)]
    found = con.execute(
        """
        WITH p AS (SELECT DISTINCT channel_id, user_id FROM read_parquet($days)),
        broad AS (SELECT user_id FROM p GROUP BY user_id
                  HAVING count(*) > $share * (SELECT count(DISTINCT channel_id) FROM p)),
        q AS (SELECT * FROM p ANTI JOIN broad USING (user_id))
        SELECT count(*) AS pairs, sum(n) AS shared FROM (
            SELECT a.channel_id, b.channel_id, count(*) AS n FROM q a JOIN q b USING (user_id)
            WHERE a.channel_id < b.channel_id GROUP BY ALL)
        """,
        {"days": days, "share": params.bot_channel_share},
    ).fetchone()
    return {"pairs": int(found[0]), "shared": int(found[1])}


def production(args) -> int:
    """``--production``: the library's stages next to plain DuckDB, each in its own process."""
    from vieweratlas.settings import load_settings
    from vieweratlas.storage import Lake

    root = (Path(args.out) / "production").resolve().as_uri()
    lake = Lake(root)
    info = write_production(lake)
    print(f"production window in {root} (generated in {info['seconds']} s): {info['raw']}")
    memory_mb = args.memory_mb or load_settings().analysis_memory_mb
    if lake.exists("bench/steps.json"):
        lake.delete(["bench/steps.json"])
    results = {}
    for stage in PRODUCTION_STAGES + BASELINES:
        command = [sys.executable, __file__, "--stage", stage, "--analyse", root,
                   "--memory-mb", str(memory_mb)]  # fmt: skip
        child = subprocess.run(command, capture_output=True, text=True, check=False)
        if child.returncode:
            print(child.stderr, file=sys.stderr)
            return 1
        results[stage] = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"  {stage:<16} {results[stage]['seconds']:8.2f} s  "
              f"(CPU {results[stage]['cpu_seconds']:7.2f} s, process incl. imports)  "
              f"peak RSS {results[stage]['peak_rss_mb']:>6,} MB", flush=True)  # fmt: skip
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    presence, overlap = results["presence"]["out"], results["overlap"]["out"]
    print(f"\n== production day (load {load} on {os.cpu_count()} cores; budget {memory_mb} MB) ==")
    print(f"  raw rows {presence['rows_in']:,} in {presence['inputs']:,} files -> "
          f"presence rows {presence['rows_out']:,}, channels {presence['channels']:,}")  # fmt: skip
    print(f"  window: presence rows {overlap['presence_rows']:,}, channels seen "
          f"{overlap['channels_seen']:,}, kept {overlap['channels']:,}, "
          f"edges {overlap['edges']:,}")  # fmt: skip
    print(f"  {'stage':<12} {'ViewerAtlas':>22} {'plain DuckDB':>22}")
    pairs = {"presence": "duckdb_presence", "overlap": "duckdb_pairs"}
    for stage in PRODUCTION_STAGES:
        ours = results[stage]
        line = f"  {stage:<12} {ours['seconds']:8.2f} s {ours['peak_rss_mb']:>7,} MB"
        if stage in pairs:
            base = results[pairs[stage]]
            line += f"   {base['seconds']:8.2f} s {base['peak_rss_mb']:>7,} MB"
            line += f"   time x{ours['seconds'] / base['seconds']:.2f}"
        print(line)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="ViewerAtlas analysis benchmark")
    parser.add_argument("--large", action="store_true", help="~50 M rows instead of ~10 M")
    parser.add_argument("--weighting", default="unique", choices=["unique", "repeat"])
    parser.add_argument("--algorithm", default="leiden", choices=["leiden", "louvain"])
    parser.add_argument("--skip-seed-louvain", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "bench-out"))
    parser.add_argument("--production", action="store_true", help="one production day from raw")
    parser.add_argument("--memory-mb", type=int, default=0, help="analysis memory budget")
    parser.add_argument("--analyse", help=argparse.SUPPRESS)  # child mode: lake root
    parser.add_argument("--stage", help=argparse.SUPPRESS)  # child mode: production stage
    args = parser.parse_args()
    if args.stage:
        print(json.dumps(run_stage(args.analyse, args.stage, args.memory_mb), default=str))
        return 0
    if args.production:
        return production(args)
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
    window = generate(spec_for(10_000_000 if args.large else 2_000_000))
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
