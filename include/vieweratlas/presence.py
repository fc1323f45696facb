"""Daily presence: one de-duplicated chatter list per channel, per source, per day.

The day's live snapshots (hourly files, possibly several collectors) and VOD
presence files are unioned and reduced to one row per (channel, user, source),
with messages summed: the seeds' rule of one chatter list per channel per day
for live and one for VOD. Files that cannot be read, or do not match
``schema.PRESENCE``, are skipped and named in the manifest; too many of them
fails the day. Rows with values that cannot be right (negative ids, unknown
source) are dropped and counted.

A day's output is sorted by (channel_id, user_id, source) so the overlap step
can drop a live+VOD duplicate of one day with a neighbour comparison.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from vieweratlas import lake as keys
from vieweratlas.bots import known_bot_ids
from vieweratlas.schema import DAILY_PRESENCE, PRESENCE, SOURCES, SchemaError, conform
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
LOGIN_COLUMNS = ["channel_login", "user_login"]


class BadInputError(ValueError):
    """Too large a share of a day's input files could not be read."""


@dataclass
class DayResult:
    """What building (or reusing) one day's presence did."""

    day: str
    status: str  # "built" | "reused"
    inputs: int
    bad_inputs: list[str] = field(default_factory=list)
    rows_in: int = 0
    rows_dropped: int = 0
    rows_out: int = 0
    channels: int = 0
    known_bots: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def day_inputs(lake: Lake, day: date | str) -> dict[str, int]:
    """The day's live snapshot and VOD presence files, with sizes."""
    found = lake.list_with_sizes(keys.raw_live_day_prefix(day))
    found.update(lake.list_with_sizes(keys.vod_presence_day_prefix(day)))
    return {key: size for key, size in sorted(found.items()) if key.endswith(".parquet")}


def read_input(lake: Lake, key: str) -> pa.Table:
    """One presence file, conformed to ``PRESENCE``; raises on anything unreadable."""
    columns = ["channel_id", "channel_login", "user_id", "user_login", "source", "message_count"]
    table = lake.read_parquet(key, columns=columns)
    wanted = pa.schema([PRESENCE.field(name) for name in columns])
    return conform(table, wanted)


def valid_rows(table: pa.Table) -> pa.Table:
    """Rows with plausible values only (non-null, non-negative ids, known source)."""
    mask = pc.and_(
        pc.and_(pc.greater_equal(table["channel_id"], 0), pc.greater_equal(table["user_id"], 0)),
        pc.is_in(table["source"], value_set=pa.array(SOURCES)),
    )
    for name in ("channel_login", "user_login", "message_count"):
        mask = pc.and_(mask, pc.is_valid(table[name]))
    return table.filter(pc.fill_null(mask, False))


def dedupe(table: pa.Table, day: date | str) -> pa.Table:
    """One row per (channel, user, source), messages summed, sorted; ``DAILY_PRESENCE``."""
    grouped = table.group_by(["channel_id", "user_id", "source"]).aggregate(
        [("message_count", "sum")]
    )
    grouped = grouped.sort_by(
        [("channel_id", "ascending"), ("user_id", "ascending"), ("source", "ascending")]
    )
    the_day = date.fromisoformat(str(day))
    out = pa.table(
        {
            "date": pa.array([the_day] * grouped.num_rows, pa.date32()),
            "channel_id": grouped["channel_id"],
            "user_id": grouped["user_id"],
            "source": grouped["source"],
            "message_count": pc.cast(grouped["message_count_sum"], pa.int32()),
        }
    )
    return out.cast(DAILY_PRESENCE)


def channel_logins(table: pa.Table) -> dict[str, str]:
    """``{channel_id: login}`` as seen in the rows (the greatest login if several)."""
    grouped = table.group_by("channel_id").aggregate([("channel_login", "max")])
    ids = grouped["channel_id"].to_pylist()
    logins = grouped["channel_login_max"].to_pylist()
    return {str(i): login for i, login in sorted(zip(ids, logins, strict=True))}


def build_day(
    lake: Lake, day: date | str, max_bad_input_share: float, force: bool = True
) -> DayResult:
    """Build the day's presence and manifest, or reuse them if built from the same inputs."""
    day = str(day)
    inputs = day_inputs(lake, day)
    manifest_key = keys.daily_presence_manifest(day)
    if not force and lake.exists(manifest_key) and lake.exists(keys.daily_presence(day)):
        old = lake.read_json(manifest_key)
        if old.get("version") == MANIFEST_VERSION and old.get("inputs") == inputs:
            log.info("Presence of %s unchanged since it was built; reusing it", day)
            return DayResult(**{**old["result"], "status": "reused"})

    # Logins are reduced per file (channel logins, blocklisted users) and dropped,
    # so a day of hourly files never holds millions of login strings at once.
    tables, bad = [], []
    logins: dict[str, str] = {}
    bots: dict[int, str] = {}
    rows_in = 0
    for key in inputs:
        try:
            table = read_input(lake, key)
        except (OSError, pa.ArrowException, SchemaError, ValueError) as exc:
            log.warning("Skipping unreadable input %s: %s", key, exc)
            bad.append(key)
            continue
        rows_in += table.num_rows
        valid = valid_rows(table)
        for channel, login in channel_logins(valid).items():
            logins[channel] = max(login, logins.get(channel, login))
        bots.update(known_bot_ids(valid["user_id"], valid["user_login"]))
        tables.append(valid.select(["channel_id", "user_id", "source", "message_count"]))
    share = len(bad) / len(inputs) if inputs else 0.0
    if share > max_bad_input_share:
        raise BadInputError(
            f"{len(bad)} of {len(inputs)} input files of {day} are unreadable "
            f"({share:.0%} > {max_bad_input_share:.0%}): {', '.join(bad[:20])}"
        )
    valid = pa.concat_tables(tables) if tables else read_empty().drop_columns(LOGIN_COLUMNS)
    daily = dedupe(valid, day)
    result = DayResult(
        day=day,
        status="built",
        inputs=len(inputs),
        bad_inputs=bad,
        rows_in=rows_in,
        rows_dropped=rows_in - valid.num_rows,
        rows_out=daily.num_rows,
        channels=len(pc.unique(daily["channel_id"])),
        known_bots=len(bots),
    )
    lake.write_parquet(keys.daily_presence(day), daily)
    lake.write_json(
        manifest_key,
        {
            "version": MANIFEST_VERSION,
            "inputs": inputs,
            "channels": dict(sorted(logins.items())),
            "known_bots": {str(k): v for k, v in sorted(bots.items())},
            "result": result.as_dict(),
        },
    )
    log.info("Presence of %s: %s", day, result.as_dict())
    return result


def read_empty() -> pa.Table:
    """An empty table of the columns :func:`read_input` returns."""
    names = ["channel_id", "channel_login", "user_id", "user_login", "source", "message_count"]
    return pa.schema([PRESENCE.field(n) for n in names]).empty_table()
