"""The analysis steps' modules load without DuckDB (only the presence build needs it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

INCLUDE = Path(__file__).resolve().parents[2] / "include"
CHECK = (
    "import sys; sys.path.insert(0, sys.argv[1]); import vieweratlas.pipeline; "
    "print('duckdb' in sys.modules)"
)


def test_the_pipeline_module_does_not_import_duckdb():
    out = subprocess.run(
        [sys.executable, "-c", CHECK, str(INCLUDE)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
