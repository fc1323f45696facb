"""`make demo`: synthetic Twitch days into the data root, then the real daily_analysis DAG.

Uses a project-local Airflow home (``.demo/airflow``, SQLite, git-ignored),
migrates its metadata DB, writes a few synthetic days into
``VIEWERATLAS_DATA_ROOT`` (default ``./data``) in exactly the collector's,
VOD pipeline's and channel refresh's formats, runs ``daily_analysis`` for
yesterday through Airflow (``dag.test``: every task really runs, with XCom and
params), and prints where the maps and summary are.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HOME = ROOT / ".demo" / "airflow"


def _airflow_env() -> None:
    HOME.mkdir(parents=True, exist_ok=True)
    os.environ.update(
        {
            "AIRFLOW_HOME": str(HOME),
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{HOME}/airflow.db",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(HOME / "logs"),
            "PYTHONPATH": os.pathsep.join([str(ROOT / "include"), str(ROOT)]),
        }
    )
    sys.path[:0] = [str(ROOT / "include"), str(ROOT)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=3, help="synthetic days (= window)")
    parser.add_argument("--channels", type=int, default=400)
    parser.add_argument("--users", type=int, default=60_000)
    args = parser.parse_args()
    started = time.perf_counter()
    _airflow_env()

    from vieweratlas import lake as keys
    from vieweratlas.settings import load_settings
    from vieweratlas.storage import Lake
    from vieweratlas.synthetic import SyntheticSpec, generate, write_snapshots

    logical = datetime.now(UTC).replace(hour=0, minute=30, second=0, microsecond=0)
    logical -= timedelta(days=1)
    day = logical.date()
    settings = load_settings()
    lake = Lake(settings.data_root)
    spec = SyntheticSpec(channels=args.channels, users=args.users, communities=12, days=args.days)
    print(f"Writing {args.days} synthetic days ending {day} into {settings.data_root} ...")
    files = write_snapshots(lake, generate(spec), day)
    print(f"  {files} snapshot files ({time.perf_counter() - started:.0f}s)")

    print(f"Migrating the Airflow metadata DB in {HOME} ...")
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils import db

    db.initdb()
    bag = DagBag(dag_folder=str(ROOT / "dags" / "daily_analysis.py"))
    if bag.import_errors:
        print(bag.import_errors, file=sys.stderr)
        return 1
    print(f"Running daily_analysis for {day} through Airflow (dag.test) ...")
    run = bag.dags["daily_analysis"].test(logical_date=logical, run_conf={"window_days": args.days})
    if str(run.state) != "success":
        print(
            f"daily_analysis ended {run.state}; task logs are in {HOME / 'logs'}", file=sys.stderr
        )
        return 1
    summary = lake.read_json(keys.analysis_latest("summary.json"))
    counts = summary["counts"]
    print(
        f"\nDone in {time.perf_counter() - started:.0f}s: {counts['channels']} channels, "
        f"{counts['chatters']} chatters, {counts['edges']} edges, "
        f"{counts['communities']} communities (modularity {summary['modularity']})."
    )
    for row in summary["top_communities"][:5]:
        print(f"  #{row['community']} {row['label']}: {row['channels']} channels")
    print("\nOutputs (this date, and the latest copy):")
    print(f"  static map   {lake.url(keys.analysis_latest('map.png'))}")
    print(f"  interactive  {lake.url(keys.analysis_latest('map.html'))}")
    print(f"  timeline     {lake.url(keys.analysis_latest('timeline.html'))} (+ events.csv)")
    print(f"  summary      {lake.url(keys.analysis_latest('summary.json'))}")
    print(f"  Gephi CSVs   {lake.url(keys.analysis_latest('nodes.csv'))} (+ edges.csv)")
    print(f"  this date    {lake.url(keys.analysis_prefix(day))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
