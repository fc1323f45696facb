"""Read and write the data lake, identically on ``file://`` and ``s3://``.

One :class:`Lake` wraps an fsspec filesystem and the data root. Keys are the
relative paths named in :mod:`vieweratlas.lake`. Writes are atomic: a local
file is written to a temporary name and renamed into place, an S3 object is
only visible once its upload completes (fsspec's ``autocommit=False``), so a
reader never sees half an object.

No Airflow import here: the collector and the VOD downloader use it too. Inside
Airflow, :func:`vieweratlas.airflow_glue.open_lake` builds the S3 filesystem
from the Airflow AWS connection.
"""

from __future__ import annotations

import builtins
import io
import json
import logging
import posixpath
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem

log = logging.getLogger(__name__)


class Lake:
    """The data lake under one root URL."""

    def __init__(self, root_url: str, fs: AbstractFileSystem | None = None) -> None:
        if fs is None:
            fs, _ = fsspec.url_to_fs(root_url)
        self.root_url = root_url.rstrip("/")
        self.fs = fs
        self._root = fs._strip_protocol(self.root_url).rstrip("/")

    def __repr__(self) -> str:
        return f"Lake({self.root_url!r})"

    # -- paths ---------------------------------------------------------------------

    def path(self, key: str) -> str:
        """The filesystem path of ``key`` (no protocol)."""
        clean = posixpath.normpath(key.lstrip("/"))
        if clean.startswith("..") or clean == ".":
            raise ValueError(f"key escapes the data root: {key!r}")
        return f"{self._root}/{clean}" + ("/" if key.endswith("/") else "")

    def local_path(self, key: str) -> str | None:
        """The path of ``key`` on this machine's disk if the lake is local, else None.

        For readers that only need a local file (DuckDB, pyarrow): no copy of a
        ``file://`` object, a download for any other filesystem.
        """
        return self.path(key) if isinstance(self.fs, LocalFileSystem) else None

    def url(self, key: str) -> str:
        """The full URL of ``key`` (for logs, XCom and links)."""
        return f"{self.root_url}/{key.lstrip('/')}"

    def key_of(self, path: str) -> str:
        """The key of a filesystem path returned by ``fs`` listings."""
        stripped = self.fs._strip_protocol(path)
        return stripped[len(self._root) :].lstrip("/")

    # -- bytes -----------------------------------------------------------------------

    def write_bytes(self, key: str, data: bytes) -> str:
        """Write ``data`` to ``key`` atomically; return the key's URL."""
        with self.open_write(key) as handle:
            handle.write(data)
        return self.url(key)

    def write_file(self, key: str, local_path: str) -> str:
        """Stream the local file ``local_path`` to ``key`` atomically; return the key's URL."""
        path = self.path(key)
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        with open(local_path, "rb") as source:
            with self.fs.open(path, "wb", autocommit=False) as handle:
                shutil.copyfileobj(source, handle, 8 << 20)
            handle.commit()
        return self.url(key)

    def read_bytes(self, key: str) -> bytes:
        """The content of ``key``; raises FileNotFoundError when absent."""
        return self.fs.cat_file(self._fresh(self.path(key)))

    def _fresh(self, path: str) -> str:
        """Drop fsspec's cached listings for ``path``: other processes write the lake too."""
        self.fs.invalidate_cache(path)
        return path

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists (never answered from a stale listing cache)."""
        return self.fs.exists(self._fresh(self.path(key)))

    def size(self, key: str) -> int:
        """Size of ``key`` in bytes."""
        return int(self.fs.size(self._fresh(self.path(key))))

    def list(self, prefix: str) -> list[str]:
        """Keys of all files under ``prefix``, sorted; empty if none."""
        path = self._fresh(self.path(prefix.rstrip("/") + "/"))
        try:
            found = self.fs.find(path)
        except FileNotFoundError:
            return []
        return sorted(self.key_of(item) for item in found)

    def list_with_sizes(self, prefix: str) -> dict[str, int]:
        """Keys under ``prefix`` with their sizes in bytes."""
        path = self._fresh(self.path(prefix.rstrip("/") + "/"))
        try:
            found = self.fs.find(path, detail=True)
        except FileNotFoundError:
            return {}
        return {self.key_of(p): int(info.get("size") or 0) for p, info in sorted(found.items())}

    def delete(self, keys: Iterable[str]) -> int:
        """Delete ``keys``; return how many were asked for.

        s3fs sends one DeleteObjects per 1,000 keys (the S3 limit) by itself.
        """
        paths = [self.path(key) for key in keys]
        if paths:
            self.fs.rm(paths)
        return len(paths)

    def copy(self, src_key: str, dst_key: str) -> None:
        """Copy one object to another key without reading it here.

        S3: one server-side CopyObject (the new object appears whole). ``file://``: a
        plain file copy, not atomic; only ``publish`` copies (into ``latest/``).
        """
        dst = self.path(dst_key)
        self.fs.makedirs(posixpath.dirname(dst), exist_ok=True)
        self.fs.copy(self._fresh(self.path(src_key)), dst)

    # -- JSON and Parquet --------------------------------------------------------------

    def write_json(self, key: str, value: Any) -> str:
        """Write ``value`` as UTF-8 JSON."""
        data = json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)
        return self.write_bytes(key, data.encode("utf-8"))

    def read_json(self, key: str) -> Any:
        """Parse the JSON at ``key``."""
        return json.loads(self.read_bytes(key))

    def write_parquet(self, key: str, table: Any) -> str:
        """Write a ``pyarrow.Table`` as Parquet (zstd)."""
        import pyarrow.parquet as pq

        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd")
        return self.write_bytes(key, buffer.getvalue())

    @contextmanager
    def open_write(self, key: str) -> Iterator[Any]:
        """A binary handle that writes ``key`` atomically when the block ends without error."""
        path = self.path(key)
        self.fs.makedirs(posixpath.dirname(path), exist_ok=True)
        handle = self.fs.open(path, "wb", autocommit=False)
        try:
            with handle:
                yield handle
        except BaseException:
            handle.discard()  # drop the temp file / abort the multipart upload
            raise
        handle.commit()

    def parquet_file(self, key: str) -> Any:
        """A ``pyarrow.parquet.ParquetFile`` on ``key`` (read row group by row group)."""
        import pyarrow.parquet as pq

        return pq.ParquetFile(self.fs.open(self._fresh(self.path(key)), "rb"))

    def read_parquet(self, key: str, columns: builtins.list[str] | None = None) -> Any:
        """Read the Parquet file at ``key`` as a ``pyarrow.Table``."""
        import pyarrow.parquet as pq

        return pq.read_table(io.BytesIO(self.read_bytes(key)), columns=columns)
