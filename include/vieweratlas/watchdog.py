"""Collector watchdog: are the collectors alive, and did last hour's snapshot land?

Each collector instance replaces its heartbeat (``lake.heartbeat(collector_id)``,
JSON with at least ``collector_id``, ``shard`` and ``written_at`` in UTC
ISO-8601) once a minute, and uploads one raw live snapshot per UTC hour under
``lake.raw_live_hour_prefix``. :func:`check` reads both and lists problems:

* a heartbeat older than ``stale_minutes`` (that shard's collector is down or
  cannot reach storage), or an unreadable heartbeat;
* no heartbeat at all fresher than ``stale_minutes``;
* no snapshot for the last hour whose upload is overdue (the hour before
  ``now - grace``);
* a fresh heartbeat whose joined share of the wanted (not parked) channels
  stays below ``min_joined_share``: the collector has not been fully joined
  for longer than a complete rejoin at Twitch's JOIN limit takes
  (:func:`join_grace_minutes`). The unjoinable channels are named.

A heartbeat older than ``retired_hours`` belongs to a collector that was
scaled away; it is listed but only counts through "no fresh heartbeat".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from vieweratlas import lake as layout
from vieweratlas.storage import Lake

DEFAULT_GRACE_MINUTES = 20
DEFAULT_RETIRED_HOURS = 24
JOIN_SECONDS = 10.0 * 1.1 / 20  # one JOIN per slot of Twitch's 20 / 10 s (+ the 10 % margin)
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:/+-]")


def _label(value: object, limit: int) -> str:
    """A heartbeat field made safe for one line of an alert."""
    return _UNSAFE.sub("?", str(value))[:limit]


@dataclass
class Heartbeat:
    """One collector's latest heartbeat, as the watchdog sees it."""

    key: str
    collector_id: str
    shard: str
    written_at: datetime | None
    age_minutes: float | None
    fields: dict[str, Any] = field(default_factory=dict)
    error: str = ""

    def describe(self) -> str:
        """One line for the alert."""
        who = f"shard {self.shard} ({self.collector_id})"
        if self.error:
            return f"{who}: unreadable heartbeat {self.key}: {self.error}"
        extra = ", ".join(
            f"{name}={_label(self.fields[name], 40)}"
            for name in (
                "connections_up",
                "channels_joined",
                "channels_wanted",
                "channels_unjoinable",
                "spool_backlog",
                "upload_failures",
                "last_upload_at",
            )
            if name in self.fields
        )
        return f"{who}: last heartbeat {self.age_minutes:.0f} min ago" + (
            f" ({extra})" if extra else ""
        )


@dataclass
class WatchdogResult:
    """Everything one watchdog run found."""

    now: datetime
    stale_minutes: int
    heartbeats: list[Heartbeat]
    snapshot_hour: datetime
    snapshot_keys: list[str]
    problems: list[str]

    @property
    def ok(self) -> bool:
        """True when nothing needs a human."""
        return not self.problems

    def summary(self) -> str:
        """One line naming every problem (the first line of the alert's error)."""
        return "; ".join(self.problems) if self.problems else "all collectors healthy"

    def details(self) -> str:
        """Several lines: every heartbeat and the snapshot looked at."""
        lines = [f"Checked at {self.now.isoformat(timespec='seconds')}"]
        lines += [f"  {hb.describe()}" for hb in self.heartbeats] or ["  (no heartbeats)"]
        hour = self.snapshot_hour.strftime("%Y-%m-%d %H:00")
        lines.append(f"Snapshots for {hour} UTC: {len(self.snapshot_keys)}")
        lines += [f"  {key}" for key in self.snapshot_keys]
        return "\n".join(lines)


def read_heartbeat(lake: Lake, key: str, now: datetime) -> Heartbeat:
    """Parse one heartbeat file; problems become ``error`` rather than exceptions."""
    fallback_id = _label(key.rsplit("/", 1)[-1].removesuffix(".json"), 64)
    try:
        data = lake.read_json(key)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        written = layout.parse_utc(data.get("written_at"))
    except (ValueError, OSError) as exc:
        return Heartbeat(key, fallback_id, "?", None, None, error=str(exc)[:200])
    return Heartbeat(
        key=key,
        collector_id=_label(data.get("collector_id") or fallback_id, 64),
        shard=_label(data.get("shard", "?"), 32),
        written_at=written,
        age_minutes=(now - written).total_seconds() / 60,
        fields=data,
    )


def join_grace_minutes(wanted: int) -> float:
    """How long a collector may take to join ``wanted`` channels from nothing (plus slack)."""
    return 10 + wanted * JOIN_SECONDS * 1.25 / 60


def joined_share_problem(beat: Heartbeat, now: datetime, min_share: float) -> str | None:
    """A problem line when the joined share stays below ``min_share``, else None."""
    f = beat.fields
    try:
        wanted = int(f.get("channels_wanted", 0)) - int(f.get("channels_parked", 0))
        joined = int(f.get("channels_joined", 0))
        since = layout.parse_utc(f.get("fully_joined_at") or f.get("started_at"))
    except (TypeError, ValueError):
        return None  # a heartbeat without these fields (an older collector)
    if wanted <= 0 or joined / wanted >= min_share:
        return None
    below = (now - since).total_seconds() / 60
    if below <= join_grace_minutes(wanted):
        return None
    names = ", ".join(_label(n, 25) for n in (f.get("unjoinable") or [])[:10])
    return (
        f"shard {beat.shard} ({beat.collector_id}) joined only {joined} of {wanted} channels "
        f"({joined / wanted:.0%} < {min_share:.0%}) for {below:.0f} min"
        + (f"; unjoinable: {names}" if names else "")
    )


def due_hour(now: datetime, grace_minutes: int) -> datetime:
    """The latest UTC hour whose snapshot should have been uploaded by ``now``."""
    start = (now - timedelta(minutes=grace_minutes)).replace(minute=0, second=0, microsecond=0)
    return start - timedelta(hours=1)


def check(
    lake: Lake,
    now: datetime,
    stale_minutes: int,
    grace_minutes: int = DEFAULT_GRACE_MINUTES,
    retired_hours: int = DEFAULT_RETIRED_HOURS,
    min_joined_share: float = 0.0,
) -> WatchdogResult:
    """Read all heartbeats and the due hour's snapshots; list what is wrong."""
    now = now.astimezone(UTC)
    keys = [k for k in lake.list(layout.HEARTBEATS_PREFIX) if k.endswith(".json")]
    beats = [read_heartbeat(lake, key, now) for key in keys]
    problems: list[str] = []
    fresh = [b for b in beats if b.age_minutes is not None and b.age_minutes <= stale_minutes]
    for beat in beats:
        if beat.error or beat.age_minutes is None:
            problems.append(f"shard {beat.shard} ({beat.collector_id}) heartbeat unreadable")
        elif beat.age_minutes is not None and beat.age_minutes < -stale_minutes:
            problems.append(f"shard {beat.shard} ({beat.collector_id}) heartbeat is in the future")
        elif stale_minutes < beat.age_minutes <= retired_hours * 60:
            problems.append(
                f"shard {beat.shard} ({beat.collector_id}) stale: "
                f"last heartbeat {beat.age_minutes:.0f} min ago"
            )
    for beat in fresh:
        if problem := joined_share_problem(beat, now, min_joined_share):
            problems.append(problem)
    if not fresh:
        problems.insert(0, f"no collector heartbeat in the last {stale_minutes} min")
    hour = due_hour(now, grace_minutes)
    snapshots = lake.list(layout.raw_live_hour_prefix(hour.date(), hour.hour))
    if not snapshots:
        problems.append(f"raw live snapshot for {hour:%Y-%m-%d %H}:00 UTC is missing")
    return WatchdogResult(now, stale_minutes, beats, hour, snapshots, problems)


def to_dict(result: WatchdogResult) -> dict[str, Any]:
    """A compact summary for XCom (no heartbeat payloads)."""
    return {
        "ok": result.ok,
        "problems": result.problems,
        "collectors": len(result.heartbeats),
        "snapshot_hour": result.snapshot_hour.isoformat(),
        "snapshots": len(result.snapshot_keys),
    }


def dag_import_errors(dags_folder: str) -> dict[str, str]:
    """``{DAG file: last line of its import error}`` for every file in ``dags_folder``.

    A DAG file that fails to import disappears from the UI and sends no alert. Airflow 3
    workers cannot read the metadata DB's import-error table, and its REST API needs
    credentials a task does not hold; but a worker runs the same code with the same
    environment as the DAG processor (on MWAA every component runs the same startup
    script and requirements), so parsing the folder here finds the same errors.
    ``.airflowignore`` is honoured, as by the DAG processor.
    """
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 3.0
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=dags_folder, load_op_links=False)
    errors: dict[str, str] = {}
    for path, trace in sorted(bag.import_errors.items()):
        lines = [line for line in str(trace).strip().splitlines() if line.strip()]
        errors[path.rsplit("/", 1)[-1]] = _label_text(lines[-1] if lines else "?", 300)
    return errors


def _label_text(text: str, limit: int) -> str:
    """One line for an alert: control characters blanked, length capped."""
    line = re.sub(r"[\x00-\x1f\x7f]", " ", text)
    return line if len(line) <= limit else line[: limit - 1] + "…"
