"""Parse time of every DAG file in each mode the bundle can deploy (fresh process each).

    python scripts/parse_time.py            # table: mode, file, seconds, peak RSS, heavy imports

Each file is parsed in a new Python process, after Airflow's authoring API and the
DAG defaults are imported (as the DAG processor has them loaded), with the
environment a deploy gives: ``local`` (no settings, `astro dev start`) and ``ecs``
(the settings deploy_mwaa.py writes into startup.sh from the stack outputs).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
#: Imports a DAG file must not pull in at parse time (each costs 0.1-0.6 s cold).
HEAVY = ("boto3", "botocore", "aiobotocore", "s3fs", "pandas", "numpy", "pyarrow", "scipy")
ECS_ENV = {
    "VIEWERATLAS_DATA_ROOT": "s3://vieweratlas-data-123456789012-us-east-1/lake",
    "VIEWERATLAS_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:vieweratlas-alerts",
    "VIEWERATLAS_DOWNLOAD_MODE": "ecs",
    "VIEWERATLAS_ECS_CLUSTER": "vieweratlas",
    "VIEWERATLAS_ECS_SUBNETS": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "VIEWERATLAS_ECS_SECURITY_GROUPS": "sg-0123456789abcdef0",
    "VIEWERATLAS_LOG_BASE_URL": "https://example.airflow.amazonaws.com",
}
MODES = {"local": {}, "ecs": ECS_ENV}

CHILD = """
import json, resource, sys, time
from airflow.sdk import dag, task  # noqa: F401  (loaded in the DAG processor already)
import vieweratlas.dag_defaults  # noqa: F401
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
before = set(sys.modules)
started = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
seconds = time.perf_counter() - started
new = {name.split(".")[0] for name in set(sys.modules) - before}
print(json.dumps({
    "seconds": seconds,
    "errors": {k: str(v).strip().splitlines()[-1] for k, v in bag.import_errors.items()},
    "dags": sorted(bag.dags),
    "heavy": sorted(new & set(sys.argv[2].split(","))),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def parse_in_fresh_process(path: Path, mode_env: dict[str, str]) -> dict:
    """Parse one DAG file in a new interpreter with only ``mode_env`` as settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIEWERATLAS_")}
    env.update(mode_env)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "include"), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), ",".join(HEAVY)],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    """Print one line per mode and DAG file."""
    print(f"{'mode':6} {'file':24} {'seconds':>8} {'peak RSS':>9}  heavy imports")
    for mode, mode_env in MODES.items():
        for path in sorted(DAGS.glob("*.py")):
            r = parse_in_fresh_process(path, mode_env)
            heavy = ", ".join(r["heavy"]) or "-"
            print(f"{mode:6} {path.name:24} {r['seconds']:8.3f} {r['peak_rss_mb']:7.0f}MB  {heavy}")
            for name, error in r["errors"].items():
                print(f"    IMPORT ERROR {name}: {error}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
