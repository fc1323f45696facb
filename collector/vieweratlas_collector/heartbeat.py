"""The heartbeat: a small JSON object the watchdog DAG reads, written once a minute.

Key ``lake.heartbeat(collector_id)`` (``state/heartbeats/<collector_id>.json``),
replaced atomically each time; the same JSON is also written to
``<spool>/heartbeat.json`` for the container HEALTHCHECK, which must not depend
on S3 being reachable. Fields (all always present):

- ``collector_id`` (str), ``shard`` (str, ``"i/n"``), ``version`` (str)
- ``written_at`` (str, UTC ISO-8601), ``started_at`` (str, UTC ISO-8601)
- ``hour`` (str, UTC ISO-8601 start of the hour being collected)
- ``connections_up`` (int), ``connections`` (int)
- ``channels_wanted`` (int), ``channels_joined`` (int), ``channels_parked`` (int)
- ``messages_this_hour`` (int), ``unique_chatters_this_hour`` (int: (channel, user) pairs)
- ``lines_total`` (int), ``malformed_total`` (int), ``dropped_total`` (int)
- ``spool_backlog`` (int: snapshot files waiting for upload)
- ``upload_failures`` (int), ``last_upload_at`` (str or null), ``last_uploaded_key`` (str or null)
- ``channel_list_error`` (str or null: why the last channel-list read failed)
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vieweratlas.lake import parse_utc

LOCAL_NAME = "heartbeat.json"


def iso(value: datetime | None) -> str | None:
    """UTC ISO-8601, or None."""
    return value.astimezone(UTC).isoformat(timespec="seconds") if value else None


def write_local(spool_dir: Path, beat: dict[str, Any]) -> None:
    """Write the heartbeat next to the spool (temporary file + rename)."""
    path = Path(spool_dir) / LOCAL_NAME
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(beat, sort_keys=True))
    tmp.replace(path)


def age_seconds(spool_dir: Path, now: datetime | None = None) -> float:
    """Seconds since the local heartbeat was written; raises if missing or invalid."""
    beat = json.loads((Path(spool_dir) / LOCAL_NAME).read_text())
    written = parse_utc(beat["written_at"])
    return ((now or datetime.now(UTC)) - written).total_seconds()
