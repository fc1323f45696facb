"""Checkpoint parts: spool to local disk first, upload, delete only once confirmed.

Every checkpoint turns what was seen since the previous one into one part
per UTC hour it touched, spooled as ``<date>T<hour>~<collector_id>~<part>.parquet``
(temporary name, fsync, rename). ``<part>`` is ``<run>-<sequence>``: unique
per process run and ordered within it. The :class:`Uploader` sends parts in
that order to ``lake.raw_live_part`` (a key derived from the file name, so a
retry after any crash rewrites the same key with the same bytes) and deletes
a part only once the object exists with the same size. Each part holds
increments only, so a part is counted once and a restarted process, which
starts from nothing, never re-sends what an earlier one checkpointed. While
the lake is unreachable, parts stay spooled and uploads retry with backoff;
a new process on the same disk uploads what an old one left.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vieweratlas import lake as keys
from vieweratlas.storage import Lake
from vieweratlas_collector.backoff import Backoff
from vieweratlas_collector.presence import hour_start

log = logging.getLogger(__name__)
LEGACY_MERGED = "merged-"  # whole-hour files spooled by collector 0.1


@dataclass(frozen=True, order=True)
class Spooled:
    """One spooled part: its name (upload order), hour and path."""

    part: str
    hour: int
    path: Path


def parquet_bytes(table: pa.Table) -> bytes:
    """Part Parquet: zstd like ``Lake.write_parquet``, row groups bounding peak memory."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=100_000)
    return buffer.getvalue()


class Spool:
    """The local directory of parts not yet confirmed uploaded."""

    def __init__(self, directory: Path, collector_id: str) -> None:
        self.directory = Path(directory)
        self.collector_id = keys.safe_token(collector_id)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, hour: int, part: str) -> Path:
        stamp = hour_start(hour).strftime("%Y-%m-%dT%H")
        return self.directory / f"{stamp}~{self.collector_id}~{keys.safe_token(part)}.parquet"

    def put(self, hour: int, table: pa.Table, part: str) -> Path:
        """Spool ``table`` for ``hour`` durably (fsync, then rename into place)."""
        path = self.path_for(hour, part)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(parquet_bytes(table))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        return path

    def pending(self) -> list[Spooled]:
        """Spooled parts of this collector, in upload order."""
        found = []
        for path in self.directory.glob(f"*~{self.collector_id}~*.parquet"):
            stamp, _, part = path.stem.split("~")
            hour = int(datetime.strptime(stamp, "%Y-%m-%dT%H").replace(tzinfo=UTC).timestamp())
            found.append(Spooled(part, hour // 3600, path))
        return sorted(found)


class Uploader:
    """Moves spooled parts to the data lake, in order, exactly once each."""

    def __init__(self, lake: Lake, spool: Spool, backoff: Backoff) -> None:
        self.lake = lake
        self.spool = spool
        self.backoff = backoff
        self.last_upload_at: datetime | None = None
        self.last_uploaded_key: str | None = None
        self.failures = 0
        self.wake = asyncio.Event()
        self._lock = threading.Lock()

    def key(self, item: Spooled) -> str:
        day, cid = hour_start(item.hour), self.spool.collector_id
        if item.part.startswith(LEGACY_MERGED):  # 0.1's merged whole hour replaces its key
            return keys.raw_live_snapshot(day, day.hour, cid)
        return keys.raw_live_part(day, day.hour, cid, item.part)

    def drain(self) -> int:
        """Upload every spooled part (blocking); return how many; raise on failure."""
        with self._lock:  # the background uploader and shutdown may both drain
            done = 0
            for item in self.spool.pending():
                if item.path.exists():
                    self._upload(item)
                    done += 1
            return done

    def _upload(self, item: Spooled) -> None:
        data = item.path.read_bytes()
        key = self.key(item)
        self.lake.write_bytes(key, data)
        if self.lake.size(key) != len(data):
            raise OSError(f"upload of {key} not confirmed (size mismatch)")
        item.path.unlink()
        self.last_upload_at = datetime.now(UTC)
        self.last_uploaded_key = key
        log.info("part uploaded", extra={"key": key, "bytes": len(data)})

    async def run(self) -> None:
        """Upload whenever woken; on failure retry with jittered exponential backoff."""
        while True:
            self.wake.clear()
            try:
                await asyncio.to_thread(self.drain)
                self.backoff.reset()
                await self.wake.wait()
            except Exception as exc:  # noqa: BLE001 - any storage error: keep spooling, retry
                self.failures += 1
                delay = self.backoff.next()
                log.warning(
                    "upload failed; will retry",
                    extra={"error": repr(exc)[:300], "retry_in_s": round(delay, 2)},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), delay)
