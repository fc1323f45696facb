"""Embedded DuckDB for the out-of-core analysis steps, bounded by the memory budget.

One connection per task: ``memory_limit`` is the budget minus what the Python
side of the task holds (Arrow batches, imported libraries), and anything beyond
it spills to a temporary directory on the worker's disk. DuckDB scans local
files natively, in parallel (:func:`local_files`, one code path for ``file://``
and ``s3://``): a local lake's files in place (copying the 296 files of a
production day cost ~1 s wall and 3 s of system CPU), other lakes' objects
downloaded to that directory first through the lake's own fsspec filesystem
(the credentials the :class:`Lake` already has, concurrent downloads on S3).
Measured: DuckDB scanning through a registered fsspec filesystem instead failed
intermittently with "Out of buffer" on a production day (29 M rows, 296 files),
and DuckDB's own S3 reader (httpfs) is an extension downloaded at run time,
which MWAA workers without internet access cannot do.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vieweratlas.storage import Lake

#: Memory the task's Python side needs next to DuckDB (interpreter, pyarrow, batches).
PYTHON_HEADROOM_MB = 400
MIN_DUCKDB_MB = 256


def duckdb_memory_mb(budget_mb: int, headroom_mb: int = PYTHON_HEADROOM_MB) -> int:
    """DuckDB's ``memory_limit`` for a task whose whole process may use ``budget_mb``."""
    return max(MIN_DUCKDB_MB, budget_mb - headroom_mb)


@contextmanager
def connect(budget_mb: int, headroom_mb: int = PYTHON_HEADROOM_MB) -> Iterator[tuple]:
    """``(connection, work dir)``: DuckDB within ``budget_mb``, spilling to the work dir.

    ``headroom_mb`` is what the rest of the process needs next to DuckDB's buffers.
    """
    import duckdb

    with tempfile.TemporaryDirectory(prefix="vieweratlas-duckdb-") as work:
        con = duckdb.connect(
            config={
                "memory_limit": f"{duckdb_memory_mb(budget_mb, headroom_mb)}MB",
                "temp_directory": str(Path(work) / "spill"),
                "preserve_insertion_order": False,
            }
        )
        try:
            yield con, work
        finally:
            con.close()


def local_files(lake: Lake, keys: list[str], work: str) -> dict[str, str]:
    """``{key: local path}``: a local lake's files in place, others downloaded into ``work``.

    The paths are only read (footer checks, DuckDB), never written or deleted; the
    downloads run concurrently on S3.
    """
    found = {key: lake.local_path(key) for key in keys}
    fetch = [key for key, path in found.items() if path is None]
    downloads = {
        key: str(Path(work) / "inputs" / f"{n:06d}.parquet") for n, key in enumerate(fetch)
    }
    paths = {key: found[key] or downloads[key] for key in keys}
    if fetch:
        (Path(work) / "inputs").mkdir(exist_ok=True)
        lake.fs.get([lake.path(key) for key in fetch], [paths[key] for key in fetch])
    return paths
