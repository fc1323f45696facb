"""The VOD ledger (``lake.VOD_LEDGER``): one record per VOD, so none is downloaded twice.

A VOD enters as ``discovered``; each download attempt ends as ``downloaded``
or ``failed`` with ``attempts`` counted. A failed VOD is tried again on a
later run until ``vod_max_attempts``, unless the failure was permanent
(deleted, sub-only, malformed chat). Only ``vod_discovery`` writes the ledger,
one run at a time (``max_active_runs=1``), as a whole Parquet file.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

import pyarrow as pa

from vieweratlas import lake
from vieweratlas.schema import VOD_LEDGER
from vieweratlas.storage import Lake

DISCOVERED, DOWNLOADED, FAILED = "discovered", "downloaded", "failed"


@dataclass(frozen=True)
class VodRecord:
    """One VOD's line in the ledger."""

    vod_id: str
    channel_id: int
    channel_login: str
    created_at: datetime
    status: str
    attempts: int
    permanent: bool
    exit_code: int | None
    error: str | None
    discovered_at: datetime
    updated_at: datetime

    def due(self, max_attempts: int) -> bool:
        """Whether this VOD should be downloaded (again)."""
        if self.status == DISCOVERED:
            return True
        return self.status == FAILED and not self.permanent and self.attempts < max_attempts


def read_ledger(store: Lake) -> dict[str, VodRecord]:
    """The ledger by VOD id (empty when it does not exist yet)."""
    if not store.exists(lake.VOD_LEDGER):
        return {}
    names = [f.name for f in fields(VodRecord)]
    rows = store.read_parquet(lake.VOD_LEDGER, columns=names).to_pylist()
    return {row["vod_id"]: VodRecord(**row) for row in rows}


def write_ledger(store: Lake, ledger: dict[str, VodRecord]) -> str:
    """Replace the ledger (atomic write); rows ordered by creation time."""
    rows = [asdict(r) for r in sorted(ledger.values(), key=lambda r: (r.created_at, r.vod_id))]
    return store.write_parquet(lake.VOD_LEDGER, pa.Table.from_pylist(rows, schema=VOD_LEDGER))


def add_discovered(
    ledger: dict[str, VodRecord], vods: list[dict[str, Any]], now: datetime
) -> list[str]:
    """Add VODs not yet in the ledger as ``discovered``; return the new ids."""
    new = []
    for vod in vods:
        if vod["vod_id"] in ledger:
            continue
        ledger[vod["vod_id"]] = VodRecord(
            vod_id=vod["vod_id"],
            channel_id=int(vod["channel_id"]),
            channel_login=vod["channel_login"],
            created_at=vod["created_at"],
            status=DISCOVERED,
            attempts=0,
            permanent=False,
            exit_code=None,
            error=None,
            discovered_at=now,
            updated_at=now,
        )
        new.append(vod["vod_id"])
    return new


def due(ledger: dict[str, VodRecord], max_attempts: int, limit: int) -> list[VodRecord]:
    """Up to ``limit`` VODs to download, oldest first (the rest wait for the next run)."""
    waiting = [r for r in ledger.values() if r.due(max_attempts)]
    return sorted(waiting, key=lambda r: (r.created_at, r.vod_id))[:limit]


def record_outcome(
    ledger: dict[str, VodRecord], vod_id: str, result: dict[str, Any] | None, now: datetime
) -> VodRecord:
    """Fold one attempt's result into the ledger; ``None`` = the download never reported."""
    record = ledger[vod_id]
    error: str | None
    if result is None:
        status, permanent, code, error = FAILED, False, None, "the download left no result"
    else:
        status = DOWNLOADED if result.get("status") == DOWNLOADED else FAILED
        permanent = bool(result.get("permanent")) and status == FAILED
        code = result.get("exit_code")
        error = str(result.get("error") or "")[:500] or None
    updated = replace(
        record,
        status=status,
        attempts=record.attempts + 1,
        permanent=permanent,
        exit_code=int(code) if isinstance(code, int) else None,
        error=error,
        updated_at=now,
    )
    ledger[vod_id] = updated
    return updated
