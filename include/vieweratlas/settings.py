"""Typed settings, read from ``VIEWERATLAS_*`` environment variables.

Every field has a default that works locally (``astro dev start``, tests, the
demo). Bad values fail fast with a :class:`SettingsError` naming the variable.
Fields listed in :data:`UI_OVERRIDABLE` may also be changed from the Airflow UI
through one JSON Airflow Variable, ``vieweratlas_settings``; tasks pick it up
with :func:`vieweratlas.airflow_glue.runtime_settings` (never at parse time).
DAG files read the few settings they need at parse time with :func:`dag_setting`,
which never raises: a DAG must parse whatever the environment holds.

This module imports nothing from Airflow: the collector uses it too.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_ROOT = (PROJECT_ROOT / "data").as_uri()
PREFIX = "VIEWERATLAS_"

_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_AWS_ID = re.compile(r"^(subnet|sg)-[0-9a-f]{8,17}$")
_SCHEDULE_PRESETS = frozenset(
    {"@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly", "@yearly"}
)
#: (low, high) of the five cron fields: minute, hour, day of month, month, day of week.
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_NAMES = re.compile(
    r"^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$"
)

log = logging.getLogger(__name__)


class SettingsError(ValueError):
    """A setting has a value the project cannot use."""


@dataclass(frozen=True)
class Settings:
    """Deployment settings; see the README's settings table."""

    data_root: str = DEFAULT_DATA_ROOT
    aws_conn_id: str = "aws_default"
    twitch_conn_id: str = "twitch_default"
    sns_topic_arn: str = ""
    log_base_url: str = "http://localhost:8080"
    top_channels: int = 5000
    min_channels_ratio: float = 0.5
    download_mode: str = "local"
    ecs_cluster: str = "vieweratlas"
    ecs_vod_task_definition: str = "vieweratlas-vod-downloader"
    ecs_vod_container: str = "vod-downloader"
    ecs_subnets: tuple[str, ...] = ()
    ecs_security_groups: tuple[str, ...] = ()
    ecs_log_group: str = "/vieweratlas/vod-downloader"
    ecs_waiter_delay: int = 15
    downloader_cli: str = "TwitchDownloaderCLI"
    channel_refresh_schedule: str = "@hourly"
    vod_discovery_schedule: str = "@daily"
    vod_download_concurrency: int = 8
    vod_max_per_run: int = 200
    vod_max_attempts: int = 3
    retention_raw_live_days: int = 30
    retention_raw_vod_days: int = 7
    retention_curated_days: int = 90
    retention_channels_days: int = 30
    retention_analysis_work_days: int = 14
    heartbeat_stale_minutes: int = 10
    collector_min_joined_share: float = 0.9
    overlap_engine: str = "local"  # "athena": pair counts by Athena (docs/scaling.md)
    athena_database: str = "vieweratlas"
    athena_workgroup: str = "vieweratlas"
    analysis_memory_mb: int = 1200  # mw1.small worker: 2 GB shared by up to 5 tasks

    @property
    def is_s3(self) -> bool:
        """True when the data lake lives in S3."""
        return self.data_root.startswith("s3://")


#: Fields a user may change from the Airflow UI (Admin -> Variables).
UI_OVERRIDABLE = frozenset(
    {
        "top_channels",
        "min_channels_ratio",
        "vod_max_per_run",
        "vod_max_attempts",
        "retention_raw_live_days",
        "retention_raw_vod_days",
        "retention_curated_days",
        "retention_channels_days",
        "retention_analysis_work_days",
        "heartbeat_stale_minutes",
        "collector_min_joined_share",
        "sns_topic_arn",
        "log_base_url",
    }
)


def env_name(field_name: str) -> str:
    """The environment variable that sets ``field_name``."""
    return PREFIX + field_name.upper()


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if value <= 0:
        raise SettingsError(f"{name} must be positive, got {value}")
    return value


def _ratio(name: str, raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise SettingsError(f"{name} must be between 0 and 1, got {value}")
    return value


def _id_list(name: str, raw: str) -> tuple[str, ...]:
    items = tuple(item.strip() for item in raw.split(",") if item.strip())
    for item in items:
        if not _AWS_ID.match(item):
            raise SettingsError(f"{name} has {item!r}, not a subnet-/sg- id")
    return items


def _data_root(name: str, raw: str) -> str:
    root = raw.strip().rstrip("/")
    if root.startswith("file://"):
        if not root.startswith("file:///"):
            raise SettingsError(f"{name} must be an absolute file:/// URL, got {raw!r}")
        return root
    if root.startswith("s3://"):
        bucket = root[5:].split("/", 1)[0]
        if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
            raise SettingsError(f"{name} has an invalid S3 bucket name in {raw!r}")
        return root
    raise SettingsError(f"{name} must start with file:/// or s3://, got {raw!r}")


def _choice(*allowed: str):
    def parse(name: str, raw: str) -> str:
        if raw not in allowed:
            raise SettingsError(f"{name} must be one of {', '.join(allowed)}; got {raw!r}")
        return raw

    return parse


def _conn_id(name: str, raw: str) -> str:
    if not _CONN_ID.match(raw):
        raise SettingsError(f"{name} is not a valid Airflow connection id: {raw!r}")
    return raw


def _topic(name: str, raw: str) -> str:
    if raw and not _ARN.match(raw):
        raise SettingsError(f"{name} must be an SNS topic ARN (arn:aws:sns:...), got {raw!r}")
    return raw


def _text(name: str, raw: str) -> str:
    return raw.strip()


def _cron_value(part: str, low: int, high: int) -> bool:
    if _CRON_NAMES.match(part.lower()):
        return True
    return part.isdigit() and low <= int(part) <= high


def _cron_field(field: str, low: int, high: int) -> bool:
    """One cron field: ``*``, values, ranges and steps, comma-separated."""
    for item in field.split(","):
        base, _, step = item.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            return False
        if base == "*":
            continue
        start, _, end = base.partition("-")
        if not _cron_value(start, low, high) or (end and not _cron_value(end, low, high)):
            return False
    return True


def _schedule(name: str, raw: str) -> str:
    value = " ".join(raw.split())
    if value in _SCHEDULE_PRESETS:
        return value
    parts = value.split(" ")
    if len(parts) == 5 and all(
        _cron_field(p, *r) for p, r in zip(parts, _CRON_RANGES, strict=True)
    ):
        return value
    raise SettingsError(
        f"{name} must be a cron expression (5 fields) or a preset like @hourly, got {raw!r}"
    )


_PARSERS = {
    "data_root": _data_root,
    "aws_conn_id": _conn_id,
    "twitch_conn_id": _conn_id,
    "sns_topic_arn": _topic,
    "min_channels_ratio": _ratio,
    "collector_min_joined_share": _ratio,
    "download_mode": _choice("local", "ecs"),
    "overlap_engine": _choice("local", "athena"),
    "athena_database": _conn_id,
    "athena_workgroup": _conn_id,
    "ecs_subnets": _id_list,
    "ecs_security_groups": _id_list,
    "channel_refresh_schedule": _schedule,
    "vod_discovery_schedule": _schedule,
}


def _parser(field_name: str, default: object):
    if field_name in _PARSERS:
        return _PARSERS[field_name]
    if isinstance(default, int):
        return _positive_int
    return _text


def load_settings(
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
    overrides_source: str = "override",
) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``) and ``overrides``.

    ``overrides`` maps field names to raw strings (e.g. the UI's Airflow Variable)
    and wins over the environment; a bad override is named
    ``<overrides_source>.<field>``.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, Any] = {}  # each value parsed to its field's type by _parser
    for field in fields(Settings):
        name = env_name(field.name)
        raw = environ.get(name)
        if field.name in overrides:
            name, raw = f"{overrides_source}.{field.name}", overrides[field.name]
        if raw is None or (raw == "" and field.name != "sns_topic_arn"):
            continue
        values[field.name] = _parser(field.name, field.default)(name, str(raw))
    settings = Settings(**values)
    if settings.download_mode == "ecs" and not settings.ecs_subnets:
        raise SettingsError(f"{env_name('ecs_subnets')} is required when download_mode is ecs")
    return settings


def dag_setting(field_name: str, environ: Mapping[str, str] | None = None) -> object:
    """One setting a DAG file needs at parse time (a schedule, a concurrency cap).

    Never raises: an unusable value is logged and the default used, so the DAG
    still parses and its tasks, which call :func:`load_settings`, fail on the
    same value with an alert that names the variable.
    """
    environ = os.environ if environ is None else environ
    default = next(f.default for f in fields(Settings) if f.name == field_name)
    name = env_name(field_name)
    raw = environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return _parser(field_name, default)(name, str(raw))
    except SettingsError as exc:
        log.warning(
            "%s; the DAG uses the default %r, its tasks will fail until fixed", exc, default
        )
        return default
