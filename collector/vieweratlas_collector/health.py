"""Container HEALTHCHECK: exit 0 when the local heartbeat is fresh, else 1.

``python -m vieweratlas_collector.health [--spool DIR] [--max-age SECONDS]``
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vieweratlas_collector.heartbeat import age_seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--spool", type=Path, default=Path(os.environ.get("COLLECTOR_SPOOL_DIR", "spool"))
    )
    parser.add_argument("--max-age", type=float, default=180.0)
    args = parser.parse_args(argv)
    try:
        age = age_seconds(args.spool)
    except (OSError, ValueError, KeyError) as exc:
        print(f"unhealthy: no heartbeat ({exc})", file=sys.stderr)
        return 1
    if age > args.max_age:
        print(f"unhealthy: heartbeat {age:.0f}s old", file=sys.stderr)
        return 1
    print(f"healthy: heartbeat {age:.0f}s old")
    return 0


if __name__ == "__main__":
    sys.exit(main())
