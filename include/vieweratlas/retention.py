"""Retention: delete what is older than each dataset's window, judged by its key.

A key's age is the ``date=YYYY-MM-DD`` partition in it (:func:`lake.partition_date`),
never the object's timestamp, so a late upload or a copied bucket cannot make
old data look new. A dataset keeps ``keep_days`` days before the run's day:
with a 7-day window, a run on the 22nd keeps the 15th to the 22nd and deletes
the 14th and older. Datasets without a window (analysis outputs) are kept; of
the analysis work files, only the two that grow with the rows (``pairs``,
``members``) have one (``retention_analysis_work_days``).

Deletion goes through :meth:`storage.Lake.delete`, the same code on ``file://``
and ``s3://``; on S3 that is the Amazon provider's object-storage filesystem,
which sends ``DeleteObjects`` calls of at most 1,000 keys.

Guards (a :class:`RetentionRefused` means nothing was touched): the data root
must not be a bucket or filesystem root, every window must keep at least one
day, the run's day must not lie in the future, and no key dated today or later
may end up in the delete list.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from vieweratlas import lake as layout
from vieweratlas.settings import Settings
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)


class RetentionRefused(Exception):
    """The policy or the data root is unsafe; retention must not run."""


@dataclass
class DatasetPlan:
    """What retention does to one dataset."""

    name: str
    prefix: str
    keep_days: int | None  # None = kept forever
    cutoff: date | None  # partitions dated before this day are deleted
    delete: dict[str, int] = field(default_factory=dict)  # key -> bytes
    kept_objects: int = 0
    kept_bytes: int = 0

    def partitions(self) -> dict[str, dict[str, int]]:
        """Objects and bytes to delete, per partition date."""
        out: dict[str, dict[str, int]] = {}
        for key, size in self.delete.items():
            day = str(layout.partition_date(key))
            entry = out.setdefault(day, {"objects": 0, "bytes": 0})
            entry["objects"] += 1
            entry["bytes"] += size
        return dict(sorted(out.items()))


def check_root(root_url: str) -> None:
    """Refuse a data root that is a whole bucket or the filesystem root."""
    scheme, _, rest = root_url.partition("://")
    path = rest.strip("/")
    if scheme == "s3" and "/" not in path:
        raise RetentionRefused(
            f"data root {root_url!r} is a bucket root; retention only runs under a prefix "
            "(s3://bucket/prefix) so it can never delete another application's objects"
        )
    if scheme == "file" and not path:
        raise RetentionRefused(f"data root {root_url!r} is the filesystem root")


def is_dry_run(run_type: object, dry_run_param: object) -> bool:
    """Manual (UI) runs honour the ``dry_run`` param (on by default); scheduled runs delete."""
    kind = getattr(run_type, "value", run_type)  # the SDK passes an enum whose str() differs
    return bool(dry_run_param) if kind == "manual" else False


def windows(settings: Settings) -> dict[str, int | None]:
    """Days kept per dataset name, from the ``retention_*`` settings (None = kept)."""
    return {
        ds.name: (getattr(settings, ds.retention_setting) if ds.retention_setting else None)
        for ds in layout.DATASETS
    }


def plan(
    lake: Lake,
    keep: dict[str, int | None],
    today: date,
    utc_today: date | None = None,
) -> list[DatasetPlan]:
    """List every dataset and decide what goes; raise RetentionRefused if unsafe."""
    utc_today = utc_today or datetime.now(UTC).date()
    check_root(lake.root_url)
    if today > utc_today:
        raise RetentionRefused(
            f"run day {today} is after today ({utc_today} UTC); it would delete current data"
        )
    for name, days in keep.items():
        if days is not None and days < 1:
            raise RetentionRefused(
                f"{name}: a window of {days} days would delete today's partitions"
            )
    plans, claimed = [], set()
    for ds in layout.DATASETS:
        days = keep.get(ds.name)
        cutoff = today - timedelta(days=days) if days is not None else None
        result = DatasetPlan(ds.name, ds.prefix, days, cutoff)
        for key, size in lake.list_with_sizes(ds.prefix).items():
            if key in claimed or not ds.holds(key):
                continue
            claimed.add(key)
            day = layout.partition_date(key[len(ds.prefix) :])
            if cutoff is not None and day is not None and day < cutoff:
                result.delete[key] = size
            else:
                result.kept_objects += 1
                result.kept_bytes += size
        latest = min(today, utc_today)
        too_new = [k for k in result.delete if (layout.partition_date(k) or date.max) >= latest]
        if too_new:  # cannot happen with the checks above; never let it slip through
            raise RetentionRefused(f"{ds.name}: refusing to delete today's data ({too_new[0]})")
        plans.append(result)
    return plans


def report(plans: list[DatasetPlan], today: date, dry_run: bool, root_url: str) -> dict[str, Any]:
    """The JSON-ready report of one run: counts and bytes per dataset and partition."""
    datasets = {
        p.name: {
            "prefix": p.prefix,
            "keep_days": p.keep_days,
            "cutoff": p.cutoff.isoformat() if p.cutoff else None,
            "objects": len(p.delete),
            "bytes": sum(p.delete.values()),
            "partitions": p.partitions(),
            "kept_objects": p.kept_objects,
            "kept_bytes": p.kept_bytes,
        }
        for p in plans
    }
    return {
        "date": today.isoformat(),
        "dry_run": dry_run,
        "data_root": root_url,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "objects": sum(d["objects"] for d in datasets.values()),
        "bytes": sum(d["bytes"] for d in datasets.values()),
        "datasets": datasets,
    }


def run(
    lake: Lake,
    keep: dict[str, int | None],
    today: date,
    dry_run: bool,
    utc_today: date | None = None,
) -> dict[str, Any]:
    """Plan, delete (unless ``dry_run``), log and store the report; return it."""
    plans = plan(lake, keep, today, utc_today)
    verb = "would delete" if dry_run else "deleting"
    for p in plans:
        window = f"{p.keep_days} days (before {p.cutoff})" if p.keep_days else "kept forever"
        log.info(
            "%-15s %s %d objects, %d bytes; keeps %d objects, %d bytes; window %s",
            p.name,
            verb,
            len(p.delete),
            sum(p.delete.values()),
            p.kept_objects,
            p.kept_bytes,
            window,
        )
        for day, counts in p.partitions().items():
            log.info("    %s date=%s: %d objects", verb, day, counts["objects"])
        if p.delete and not dry_run:
            lake.delete(sorted(p.delete))
    result = report(plans, today, dry_run, lake.root_url)
    key = layout.retention_report(today, dry_run=dry_run)
    result["report_url"] = lake.write_json(key, result)
    log.info(
        "Retention %s: %d objects, %d bytes in total; report at %s",
        "dry run" if dry_run else "done",
        result["objects"],
        result["bytes"],
        result["report_url"],
    )
    return result
