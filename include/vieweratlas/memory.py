"""Handing freed memory back to the system between the phases of a heavy step."""

from __future__ import annotations

import ctypes
from contextlib import suppress

import pyarrow as pa


def release_memory() -> None:
    """Hand freed memory back to the system (Arrow's pool, then glibc's heap, if glibc).

    Between the overlap step's phases: what one phase freed in small blocks
    (numpy arrays under glibc's mmap threshold, in the worker threads' arenas
    too) would otherwise stay in the process's peak under the next phase's arrays.
    """
    pa.default_memory_pool().release_unused()
    with suppress(OSError, AttributeError):  # not glibc: nothing to trim
        ctypes.CDLL("libc.so.6").malloc_trim(0)
