"""Typed settings, read from ``VIEWERATLAS_*`` environment variables.

Every field has a default that works locally (``astro dev start``, tests, the
demo). Bad values fail fast with a :class:`SettingsError` naming the variable.
Fields listed in :data:`UI_OVERRIDABLE` may also be changed from the Airflow UI
through an Airflow Variable of the same name in lower case; tasks pick those up
with :func:`vieweratlas.airflow_glue.runtime_settings` (never at parse time).

This module imports nothing from Airflow: the collector uses it too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATA_ROOT = (PROJECT_ROOT / "data").as_uri()
PREFIX = "VIEWERATLAS_"

_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_CONN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,250}$")
_AWS_ID = re.compile(r"^(subnet|sg)-[0-9a-f]{8,17}$")


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
) -> Settings:
    """Build settings from ``environ`` (default ``os.environ``) and ``overrides``.

    ``overrides`` maps field names to raw strings (e.g. Airflow Variables) and
    wins over the environment.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values: dict[str, object] = {}
    for field in fields(Settings):
        name = env_name(field.name)
        raw = overrides.get(field.name, environ.get(name))
        if raw is None or (raw == "" and field.name != "sns_topic_arn"):
            continue
        values[field.name] = _parser(field.name, field.default)(name, str(raw))
    settings = Settings(**values)
    if settings.download_mode == "ecs" and not settings.ecs_subnets:
        raise SettingsError(f"{env_name('ecs_subnets')} is required when download_mode is ecs")
    return settings
