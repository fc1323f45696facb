"""Scale curve of the overlap step: presence rows and channels -> time and peak memory.

For each channel count, writes (once, cached under ``--out``) a synthetic
7-day window of daily presence with the same users, then runs
``pipeline.overlap_step`` in a fresh child process and prints its wall time,
user and system CPU time and peak RSS (``scripts/peak.py``), with the pairs and
edges it wrote, the load average and the memory budget the step ran with
(``--memory-mb``, default the ``VIEWERATLAS_ANALYSIS_MEMORY_MB`` setting)::

    .venv/bin/python scripts/bench_scale.py --users 2000000 --channels 5000 10000 20000
    .venv/bin/python scripts/bench_scale.py --users 10000000 --channels 5000   # ~51 M rows
    .venv/bin/python scripts/bench_scale.py --lake bench-out/production   # any existing window

The figures in docs/scaling.md come from this script.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]
DAY = date(2026, 3, 7)


def lake_for(out: Path, users: int, channels: int, days: int) -> Path:
    """The cached lake of one (users, channels, days) window; generated when absent."""
    from scripts.benchmark import spec_for

    from vieweratlas.storage import Lake
    from vieweratlas.synthetic import generate, write_daily_presence

    folder = out / f"u{users}-c{channels}-d{days}"
    done = folder / "rows.json"
    if not done.exists():
        spec = spec_for(users, channels, days)
        rows = write_daily_presence(Lake(folder.as_uri()), generate(spec), DAY)
        done.write_text(json.dumps({"rows": rows}))
    return folder


def run(root: str, days: int, weighting: str) -> dict:
    """The overlap step on the lake at ``root`` (child mode)."""
    from scripts.peak import peak_rss_mb

    from vieweratlas import pipeline
    from vieweratlas.params import AnalysisParams
    from vieweratlas.storage import Lake

    params = AnalysisParams(window_days=days, weighting=weighting)
    started = time.perf_counter()
    step = pipeline.overlap_step(Lake(Path(root).as_uri()), DAY.isoformat(), params)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "user_s": round(usage.ru_utime, 2),
        "sys_s": round(usage.ru_stime, 2),
        "peak_rss_mb": round(peak_rss_mb()),
        "presence_rows": step["presence_rows"],
        "channels": step["channels"],
        "pairs": step["pairs"],
        "edges": step["edges"],
        "steps": step["seconds"],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=2_000_000)
    parser.add_argument("--channels", type=int, nargs="+", default=[5000, 10000, 20000])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--weighting", default="unique", choices=["unique", "repeat"])
    parser.add_argument("--out", default=str(ROOT / "bench-out" / "scale"))
    parser.add_argument("--lake", help="measure an existing lake folder instead (last day 03-07)")
    parser.add_argument("--memory-mb", type=int, default=0, help="analysis memory budget")
    parser.add_argument("--run", help=argparse.SUPPRESS)  # child mode: lake folder
    args = parser.parse_args()
    if args.run:
        print(json.dumps(run(args.run, args.days, args.weighting)))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.memory_mb:
        env["VIEWERATLAS_ANALYSIS_MEMORY_MB"] = str(args.memory_mb)
    budget = env.get("VIEWERATLAS_ANALYSIS_MEMORY_MB", "default")
    print(
        "| presence rows | channels | pairs | edges | time s | CPU s (user + sys) | peak RSS MB"
        " | load avg | budget MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    folders = [Path(args.lake).resolve()] if args.lake else []
    folders += [] if args.lake else [lake_for(out, args.users, c, args.days) for c in args.channels]
    for folder in folders:
        child = [sys.executable, __file__, "--run", str(folder), "--days", str(args.days)]
        result = subprocess.run(
            [*child, "--weighting", args.weighting],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        r = json.loads(result.stdout.strip().splitlines()[-1])
        load = os.getloadavg()[0]
        print(
            f"| {r['presence_rows']:,} | {r['channels']:,} | {r['pairs']:,} | {r['edges']:,}"
            f" | {r['seconds']} | {r['cpu_s']} ({r['user_s']} + {r['sys_s']})"
            f" | {r['peak_rss_mb']:,} | {load:.1f} | {budget} |",
            flush=True,
        )
        print(f"<!-- steps: {json.dumps(r['steps'])} -->", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
