"""Render every ViewerAtlas output from your own overlap graph (a Gephi edge list).

    .venv/bin/python scripts/import_overlap.py EDGES.csv LABELS.csv --out file:///tmp/atlas
    .venv/bin/python scripts/import_overlap.py tests/data/twitch-atlas-2021-10/edges.csv \\
        tests/data/twitch-atlas-2021-10/labels.csv --out file://$PWD/bench-out/atlas

EDGES.csv has ``Source,Target,Weight`` (shared audience per pair), LABELS.csv
``ID,Label,Count`` (each channel's audience). The outputs (map.html, map.png,
nodes/edges/communities/channel_neighbors CSVs, summary.json) land under
``analysis/daily/date=DATE/`` and ``analysis/latest/`` of the ``--out`` lake
(``file://`` or ``s3://``), as the daily DAG writes them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "include"), str(ROOT)]


def main(argv: list[str] | None = None) -> int:
    from vieweratlas.edgelist import analyse_imported
    from vieweratlas.params import AnalysisParams
    from vieweratlas.storage import Lake

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("edges", type=Path, help="CSV: Source,Target,Weight")
    parser.add_argument("labels", type=Path, help="CSV: ID,Label,Count")
    parser.add_argument("--out", required=True, help="lake root URL (file:///... or s3://...)")
    parser.add_argument("--date", default=date.today().isoformat(), help="partition date")
    parser.add_argument("--top-k", type=int, default=AnalysisParams().top_k)
    parser.add_argument("--min-shared", type=int, default=AnalysisParams().min_shared)
    parser.add_argument("--seed", type=int, default=AnalysisParams().seed)
    args = parser.parse_args(argv)
    params = AnalysisParams(top_k=args.top_k, min_shared=args.min_shared, seed=args.seed)
    summary = analyse_imported(
        Lake(args.out),
        date.fromisoformat(args.date).isoformat(),
        args.edges.read_bytes(),
        args.labels.read_bytes(),
        params,
    )
    print(json.dumps({"counts": summary["counts"], "outputs": summary["outputs"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
