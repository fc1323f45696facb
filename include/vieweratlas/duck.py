"""Embedded DuckDB for the out-of-core analysis steps, bounded by the memory budget.

One connection per task: ``memory_limit`` is the budget minus what the Python
side of the task holds (Arrow batches, imported libraries), and anything beyond
it spills to a temporary directory on the worker's disk. DuckDB reads the lake
through the lake's own fsspec filesystem (``register_filesystem``), so ``file://``
and ``s3://`` go through one code path with the credentials the :class:`Lake`
already has (in Airflow: the AWS connection); no DuckDB extension is downloaded
at run time (MWAA workers may have no internet access).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from vieweratlas.storage import Lake

#: Memory the task's Python side needs next to DuckDB (interpreter, pyarrow, batches).
PYTHON_HEADROOM_MB = 400
MIN_DUCKDB_MB = 256


def duckdb_memory_mb(budget_mb: int) -> int:
    """DuckDB's ``memory_limit`` for a task whose whole process may use ``budget_mb``."""
    return max(MIN_DUCKDB_MB, budget_mb - PYTHON_HEADROOM_MB)


@contextmanager
def connect(lake: Lake, budget_mb: int) -> Iterator:
    """A DuckDB connection reading ``lake`` within ``budget_mb``, spilling to a temp dir."""
    import duckdb

    with tempfile.TemporaryDirectory(prefix="vieweratlas-duckdb-") as spill:
        con = duckdb.connect(
            config={
                "memory_limit": f"{duckdb_memory_mb(budget_mb)}MB",
                "temp_directory": spill,
                "preserve_insertion_order": False,
            }
        )
        try:
            con.register_filesystem(lake.fs)
            yield con
        finally:
            con.close()
