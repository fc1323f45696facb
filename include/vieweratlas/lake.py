"""Where every dataset lives in the data lake.

All keys are relative to the data root (``file:///...`` locally,
``s3://bucket/prefix`` in production) and partitioned by UTC date, and by
hour where data arrives hourly, as Hive-style ``date=YYYY-MM-DD/hour=HH``
folders, so retention and backfills work on keys alone.

Anything that came from Twitch and ends up in a key goes through
:func:`safe_login` or :func:`safe_id` first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

LOGIN_RE = re.compile(r"^[a-z0-9_]{1,25}$")
NUMERIC_ID_RE = re.compile(r"^[0-9]{1,20}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
PARTITION_RE = re.compile(r"date=(\d{4}-\d{2}-\d{2})")


class UnsafeKeyError(ValueError):
    """An untrusted string cannot be used in a storage key."""


def safe_login(login: str) -> str:
    """A Twitch login, validated for use in a key (lower case a-z, 0-9, _)."""
    if not isinstance(login, str) or not LOGIN_RE.match(login):
        raise UnsafeKeyError(f"not a valid Twitch login: {login!r}")
    return login


def safe_id(value: str | int) -> str:
    """A numeric Twitch id (user, channel, VOD), validated for use in a key."""
    text = str(value)
    if not NUMERIC_ID_RE.match(text):
        raise UnsafeKeyError(f"not a numeric Twitch id: {value!r}")
    return text


INT64_MAX = 2**63 - 1


def int_id(value: str | int) -> int:
    """A numeric Twitch id as stored in our tables (int64): validated and in range.

    :data:`NUMERIC_ID_RE` admits 20 digits (fine in a key), but a value above
    2**63 - 1 cannot be written to an int64 column, so it is rejected here.
    """
    number = int(safe_id(value))
    if number > INT64_MAX:
        raise UnsafeKeyError(f"Twitch id out of int64 range: {value!r}")
    return number


def safe_token(value: str) -> str:
    """A short name of our own (collector id, run tag) checked for use in a key."""
    if not isinstance(value, str) or not TOKEN_RE.match(value):
        raise UnsafeKeyError(f"not a safe key token: {value!r}")
    return value


def _day(day: date | datetime | str) -> str:
    if isinstance(day, str):
        return date.fromisoformat(day).isoformat()
    if isinstance(day, datetime):
        return day.date().isoformat()
    return day.isoformat()


def _hour(hour: int) -> str:
    if not 0 <= int(hour) <= 23:
        raise ValueError(f"hour must be 0-23, got {hour}")
    return f"{int(hour):02d}"


def to_utc(value: datetime) -> datetime:
    """A plain ``datetime`` in UTC from any datetime (pendulum's too); naive means UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value.timestamp(), tz=UTC)


def parse_utc(value: object) -> datetime:
    """A UTC datetime from ISO-8601 text (``Z`` or an offset; naive means UTC).

    Raises ``ValueError`` for anything else (non-text included).
    """
    if not isinstance(value, str):
        raise ValueError(f"not an ISO-8601 timestamp: {value!r}")
    return to_utc(datetime.fromisoformat(value))


def maybe_utc(value: object) -> datetime | None:
    """:func:`parse_utc`, or None when ``value`` is missing or not a timestamp."""
    try:
        return parse_utc(value)
    except ValueError:
        return None


def partition_date(key: str) -> date | None:
    """The UTC date of the ``date=`` partition in ``key``, if it has one."""
    match = PARTITION_RE.search(key)
    return date.fromisoformat(match.group(1)) if match else None


@dataclass(frozen=True)
class Dataset:
    """A named dataset: its top-level prefix and how long retention keeps it."""

    name: str
    prefix: str
    retention_setting: str | None  # Settings field with the window in days; None = kept
    #: Only keys ending with one of these (None = every key under ``prefix``). A key
    #: belongs to the first dataset of ``DATASETS`` that holds it.
    suffixes: tuple[str, ...] | None = None

    def holds(self, key: str) -> bool:
        """Whether ``key`` (under ``prefix``) is one of this dataset's objects."""
        return self.suffixes is None or key.endswith(self.suffixes)


CHANNELS = Dataset("channels", "channels/hourly", "retention_channels_days")
RAW_LIVE = Dataset("raw_live", "raw/live", "retention_raw_live_days")
RAW_VOD = Dataset("raw_vod", "raw/vod", "retention_raw_vod_days")
VOD_PRESENCE = Dataset("vod_presence", "curated/vod_presence", "retention_curated_days")
DAILY_PRESENCE = Dataset("daily_presence", "curated/daily_presence", "retention_curated_days")
#: The two work files that grow with the window's rows (pairs, members: ~85 MB a
#: production day); needed only to re-run a day's analysis from its backbone step.
ANALYSIS_BULK = Dataset(
    "analysis_bulk",
    "analysis/daily",
    "retention_analysis_work_days",
    ("/_work/pairs.parquet", "/_work/members.parquet"),
)
ANALYSIS = Dataset("analysis", "analysis/daily", None)
DATASETS = (CHANNELS, RAW_LIVE, RAW_VOD, VOD_PRESENCE, DAILY_PRESENCE, ANALYSIS_BULK, ANALYSIS)


# -- channel lists (channel_refresh -> collector, analysis labels) ----------------


def channels_hourly(day: date | datetime | str, hour: int) -> str:
    """Channel metadata for one hour (Parquet, ``schema.CHANNEL_METADATA``)."""
    return f"{CHANNELS.prefix}/date={_day(day)}/hour={_hour(hour)}/channels.parquet"


def channels_day_prefix(day: date | datetime | str) -> str:
    """All hourly channel metadata of one day."""
    return f"{CHANNELS.prefix}/date={_day(day)}/"


CHANNELS_CURRENT = "channels/current.json"
"""The channel list the collector watches (JSON), replaced atomically every hour."""


# -- live chat (collector) ----------------------------------------------------------


def raw_live_snapshot(day: date | datetime | str, hour: int, collector_id: str) -> str:
    """One collector instance's chatters for one UTC hour (Parquet, presence rows)."""
    return (
        f"{RAW_LIVE.prefix}/date={_day(day)}/hour={_hour(hour)}/{safe_token(collector_id)}.parquet"
    )


def raw_live_part(day: date | datetime | str, hour: int, collector_id: str, part: str) -> str:
    """One checkpoint of one collector for one UTC hour: the chatters seen since the last.

    Parquet with presence rows whose ``message_count`` is the increment of that
    checkpoint only; readers union every file under the hour and sum counts.
    """
    return (
        f"{RAW_LIVE.prefix}/date={_day(day)}/hour={_hour(hour)}/"
        f"{safe_token(collector_id)}.{safe_token(part)}.parquet"
    )


def raw_live_day_prefix(day: date | datetime | str) -> str:
    """All live snapshots of one UTC day."""
    return f"{RAW_LIVE.prefix}/date={_day(day)}/"


def raw_live_hour_prefix(day: date | datetime | str, hour: int) -> str:
    """All live snapshots of one UTC hour."""
    return f"{RAW_LIVE.prefix}/date={_day(day)}/hour={_hour(hour)}/"


# -- VOD chat (vod_discovery -> downloader) -----------------------------------------


def raw_vod_chat(day: date | datetime | str, vod_id: str) -> str:
    """TwitchDownloader's chat JSON for one VOD, gzipped; ``day`` = VOD creation date."""
    return f"{RAW_VOD.prefix}/date={_day(day)}/{safe_id(vod_id)}.json.gz"


def vod_presence(day: date | datetime | str, vod_id: str) -> str:
    """Presence rows of one VOD that fall on one UTC day (Parquet)."""
    return f"{VOD_PRESENCE.prefix}/date={_day(day)}/{safe_id(vod_id)}.parquet"


def vod_presence_day_prefix(day: date | datetime | str) -> str:
    """All VOD presence rows of one UTC day."""
    return f"{VOD_PRESENCE.prefix}/date={_day(day)}/"


VOD_RESULTS_PREFIX = "state/vod_results/"


def vod_result(vod_id: str) -> str:
    """The downloader's outcome for one VOD (JSON), folded into the ledger, then deleted."""
    return f"{VOD_RESULTS_PREFIX}{safe_id(vod_id)}.json"


# -- analysis ------------------------------------------------------------------------


def daily_presence(day: date | datetime | str) -> str:
    """One chatter list per channel per source for one day (Parquet)."""
    return f"{DAILY_PRESENCE.prefix}/date={_day(day)}/presence.parquet"


def analysis_prefix(day: date | datetime | str) -> str:
    """Folder of the analysis outputs for one logical date."""
    return f"{ANALYSIS.prefix}/date={_day(day)}/"


ANALYSIS_LATEST = "analysis/latest/"
"""A copy of the newest published analysis."""


def daily_presence_manifest(day: date | datetime | str) -> str:
    """What one day's presence was built from: inputs, bad inputs, channel logins (JSON).

    Named ``_manifest.json``: the folder is a partition of the ``daily_presence``
    Glue table, and Athena reads every object there except names starting with
    ``_`` or ``.``, so only Parquet may be visible next to ``presence.parquet``.
    """
    return f"{DAILY_PRESENCE.prefix}/date={_day(day)}/_manifest.json"


def daily_presence_legacy_manifest(day: date | datetime | str) -> str:
    """Where lakes written before the rename hold the manifest (read, then moved away)."""
    return f"{DAILY_PRESENCE.prefix}/date={_day(day)}/manifest.json"


#: Files of one published analysis (``analysis_file``), copied to ``ANALYSIS_LATEST``.
ANALYSIS_OUTPUTS = (
    "map.png",
    "map.html",
    "nodes.csv",
    "edges.csv",
    "communities.parquet",
    "communities.csv",
    "graph_nodes.parquet",
    "graph_edges.parquet",
    "events.parquet",
    "events.csv",
    "timeline.png",
    "timeline.html",
    "summary.json",
    "channel_neighbors.parquet",
    "channel_neighbors.csv",
)
#: Outputs written by the track step (a publish without it leaves them out of ``latest``).
TRACKING_OUTPUTS = ("events.parquet", "events.csv", "timeline.png", "timeline.html")
#: Intermediate files the analysis tasks hand each other (under ``_work/``).
ANALYSIS_WORK = (
    "channels.parquet",
    "edges.parquet",
    "membership.parquet",
    "metadata.parquet",
    "pairs.parquet",  # every channel pair >= min_shared (overlap.PAIRS), in row groups
    "neighbors.parquet",  # each channel's top neighbours by shared weight (rows)
    "members.parquet",  # the filtered window, (user, channel row) (audience.MEMBER_ROWS)
    "tracking.json",  # the track step's state: tracked against which day
)


def analysis_file(day: date | datetime | str, name: str) -> str:
    """One output (``ANALYSIS_OUTPUTS``) or work file (``_work/<name>``) of a logical date."""
    if name in ANALYSIS_OUTPUTS:
        return analysis_prefix(day) + name
    if name in ANALYSIS_WORK:
        return analysis_prefix(day) + "_work/" + name
    raise ValueError(f"unknown analysis file {name!r}")


#: Tables published again under their own prefix, for Athena/Glue (only Parquet there).
ANALYSIS_TABLES = ("communities", "graph_nodes", "channel_neighbors")


def analysis_table(name: str, day: date | datetime | str) -> str:
    """One published table of ``day`` under ``analysis/tables/<name>/date=D/`` (Glue table)."""
    if name not in ANALYSIS_TABLES:
        raise ValueError(f"unknown analysis table {name!r}")
    return f"analysis/tables/{name}/date={_day(day)}/{name}.parquet"


def analysis_latest(name: str) -> str:
    """The ``latest`` copy of one published output."""
    if name not in ANALYSIS_OUTPUTS:
        raise ValueError(f"unknown analysis output {name!r}")
    return ANALYSIS_LATEST + name


# -- state ---------------------------------------------------------------------------

VOD_LEDGER = "state/vod_ledger.parquet"
"""One record per VOD: discovered, downloaded or failed, with attempts."""

HEARTBEATS_PREFIX = "state/heartbeats/"


def heartbeat(collector_id: str) -> str:
    """The latest heartbeat of one collector instance (JSON)."""
    return f"{HEARTBEATS_PREFIX}{safe_token(collector_id)}.json"


def retention_report(day: date | datetime | str, dry_run: bool = False) -> str:
    """What one retention run deleted (``report.json``) or would delete (``dry_run.json``)."""
    name = "dry_run.json" if dry_run else "report.json"
    return f"reports/retention/date={_day(day)}/{name}"
