"""The benchmark scripts' peak memory is the measured process's own, not its parent's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHILD = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from scripts.peak import peak_rss_mb; print(peak_rss_mb())"
)


def test_a_child_does_not_report_its_parents_peak():
    held = bytearray(400 * 2**20)
    held[::4096] = b"\x01" * len(held[::4096])  # touch every page: 400 MB resident
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(ROOT)], capture_output=True, text=True, check=True
    )
    assert 5 < float(out.stdout) < 200  # the child's interpreter, not the 400 MB held here
    del held
