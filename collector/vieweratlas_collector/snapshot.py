"""Hourly snapshots: spool to local disk first, upload, delete only once confirmed.

A finished (or, at shutdown, partial) hour is written to the spool directory
as ``<date>T<hour>~<collector_id>~<part>.parquet`` (temporary name + rename).
The :class:`Uploader` sends spooled files in hour order to
``lake.raw_live_snapshot``. When that key already exists (the process was
restarted within the hour) the part is merged with it first; the merged table
is spooled as ``...~merged-<part>.parquet`` before the part is deleted, so a retry
after any crash re-uploads the same bytes and nothing is counted twice. While
the data lake is unreachable, files stay spooled and uploads retry with
jittered exponential backoff; a new process uploads what an old one left.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import random
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from vieweratlas import lake as keys
from vieweratlas.schema import PRESENCE
from vieweratlas.storage import Lake
from vieweratlas_collector.presence import hour_start

log = logging.getLogger(__name__)
MERGED = "merged-"  # prefix of a merged file's part name


@dataclass(frozen=True, order=True)
class Spooled:
    """One spooled file: which hour, which part."""

    hour: int
    is_part: bool  # merged files sort first within an hour
    part: str
    path: Path


def parquet_bytes(table: pa.Table) -> bytes:
    """Snapshot Parquet: zstd like ``Lake.write_parquet``, row groups bounding peak memory."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd", row_group_size=100_000)
    return buffer.getvalue()


def merge(old: pa.Table, new: pa.Table) -> pa.Table:
    """Combine two snapshots of one hour: one row per (channel, user)."""
    both = pa.concat_tables([old.cast(PRESENCE), new.cast(PRESENCE)])
    grouped = both.group_by(["channel_id", "user_id"]).aggregate(
        [
            ("channel_login", "max"),
            ("user_login", "max"),
            ("first_seen", "min"),
            ("last_seen", "max"),
            ("message_count", "sum"),
        ]
    )
    n = grouped.num_rows
    columns = {
        "channel_id": grouped["channel_id"],
        "channel_login": grouped["channel_login_max"],
        "user_id": grouped["user_id"],
        "user_login": grouped["user_login_max"],
        "source": pa.array(["live"] * n),
        "content_id": pa.nulls(n, pa.string()),
        "first_seen": grouped["first_seen_min"],
        "last_seen": grouped["last_seen_max"],
        "message_count": grouped["message_count_sum"],
    }
    table = pa.table({f.name: columns[f.name] for f in PRESENCE}).cast(PRESENCE)
    return table.sort_by([("channel_id", "ascending"), ("user_id", "ascending")])


class Spool:
    """The local directory of snapshots not yet confirmed uploaded."""

    def __init__(self, directory: Path, collector_id: str) -> None:
        self.directory = Path(directory)
        self.collector_id = keys.safe_token(collector_id)
        self.directory.mkdir(parents=True, exist_ok=True)

    def path_for(self, hour: int, part: str) -> Path:
        stamp = hour_start(hour).strftime("%Y-%m-%dT%H")
        return self.directory / f"{stamp}~{self.collector_id}~{part}.parquet"

    def put(self, hour: int, table: pa.Table, part: str | None = None) -> Path:
        """Spool ``table`` for ``hour`` durably (fsync, then rename into place)."""
        path = self.path_for(hour, part or uuid.uuid4().hex)
        tmp = path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            handle.write(parquet_bytes(table))
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        return path

    def pending(self) -> list[Spooled]:
        """Spooled files of this collector, oldest hour first."""
        found = []
        for path in self.directory.glob(f"*~{self.collector_id}~*.parquet"):
            stamp, _, part = path.stem.split("~")
            hour = int(datetime.strptime(stamp, "%Y-%m-%dT%H").replace(tzinfo=UTC).timestamp())
            found.append(Spooled(hour // 3600, not part.startswith(MERGED), part, path))
        return sorted(found)


class Uploader:
    """Moves spooled snapshots to the data lake, in hour order, exactly once each."""

    def __init__(
        self, lake: Lake, spool: Spool, backoff_base: float = 1.0, backoff_max: float = 60.0
    ) -> None:
        self.lake = lake
        self.spool = spool
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.last_upload_at: datetime | None = None
        self.last_uploaded_key: str | None = None
        self.failures = 0
        self.wake = asyncio.Event()
        self._lock = threading.Lock()

    def key(self, hour: int) -> str:
        return keys.raw_live_snapshot(
            hour_start(hour), hour_start(hour).hour, self.spool.collector_id
        )

    def drain(self) -> int:
        """Upload every spooled file (blocking); return how many; raise on failure."""
        with self._lock:  # the background uploader and shutdown may both drain
            return self._drain()

    def _drain(self) -> int:
        done = 0
        for item in self.spool.pending():
            if not item.path.exists():
                continue
            if item.is_part:  # a merged copy sorts first and removes its part: none exists here
                merged = self.spool.path_for(item.hour, MERGED + item.part)
                self._merge_part(item, merged)
            else:
                merged = item.path
                self.spool.path_for(item.hour, item.part.removeprefix(MERGED)).unlink(
                    missing_ok=True
                )
            self._upload(item.hour, merged)
            done += 1
        return done

    def _merge_part(self, item: Spooled, merged: Path) -> None:
        """Fold the lake's copy of the hour (if any) into the part, spooled as ``merged``."""
        key = self.key(item.hour)
        table = pq.read_table(item.path)
        if self.lake.exists(key):
            table = merge(self.lake.read_parquet(key), table)
        self.spool.put(item.hour, table, part=merged.stem.split("~")[2])
        item.path.unlink()

    def _upload(self, hour: int, path: Path) -> None:
        data = path.read_bytes()
        key = self.key(hour)
        self.lake.write_bytes(key, data)
        if self.lake.size(key) != len(data):
            raise OSError(f"upload of {key} not confirmed (size mismatch)")
        path.unlink()
        self.last_upload_at = datetime.now(UTC)
        self.last_uploaded_key = key
        log.info("snapshot uploaded", extra={"key": key, "bytes": len(data)})

    async def run(self) -> None:
        """Upload whenever woken; on failure retry with jittered exponential backoff."""
        attempt = 0
        while True:
            self.wake.clear()
            try:
                await asyncio.to_thread(self.drain)
                attempt = 0
                await self.wake.wait()
            except Exception as exc:  # noqa: BLE001 - any storage error: keep spooling, retry
                self.failures += 1
                delay = random.uniform(0, min(self.backoff_max, self.backoff_base * 2**attempt))  # noqa: S311
                attempt += 1
                log.warning(
                    "upload failed; will retry",
                    extra={"error": repr(exc)[:300], "retry_in_s": round(delay, 2)},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), delay)
