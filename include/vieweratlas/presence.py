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

Out of core: DuckDB reads the inputs where they are on a local lake (downloads
them to local disk from S3), each footer is checked (schema, row count), then
DuckDB unions the good files, groups and sorts them within the analysis memory
budget (``VIEWERATLAS_ANALYSIS_MEMORY_MB`` minus :data:`HEADROOM_MB`), spilling
to local disk, and writes the result as Parquet itself (``COPY ... TO``). Two
narrow queries make the manifest: channel logins with valid row counts, and the
ids of blocklisted accounts. A page that turns out unreadable past a good
footer makes every file be probed, and the broken ones skipped.

Measured on the production day (42.1 M raw rows in 296 files, 2 cores, in turn
with plain DuckDB's ``COPY`` of the same group-by, ``scripts/benchmark.py
--stage presence`` vs ``--stage duckdb_presence``): see the README's "Presence
head to head". The step's ``COPY`` alone is plain DuckDB's query under a memory
limit; the rest is the two manifest queries (~0.7 s and ~1.5-1.7 s wall: every
``user_login`` string is read once for the blocklist) and the spill the limit
forces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vieweratlas import lake as keys
from vieweratlas.bots import blocklist
from vieweratlas.duck import connect, local_files
from vieweratlas.schema import DAILY_PRESENCE, PRESENCE, SchemaError
from vieweratlas.settings import load_settings
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
BATCH_ROWS = 1 << 20  # rows per output row group
#: The rest of the process next to DuckDB's ``memory_limit`` while a day is built. Measured
#: on the production day (42 M raw rows, 296 files): 118 MB after the imports, and peak RSS
#: = limit + 145-155 MB at limits of 800, 900 and 950 MB (DuckDB's allocations outside its
#: buffer pool; the Python side holds no arrays here). 300 MB keeps ~150 MB under the
#: budget; each 100 MB more for DuckDB spills less (0.4-1.2 s faster from 800 to 900 MB).
HEADROOM_MB = 300


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


READ_COLUMNS = ["channel_id", "channel_login", "user_id", "user_login", "source", "message_count"]
READ_SCHEMA = pa.schema([PRESENCE.field(name) for name in READ_COLUMNS])
#: The plausible rows of a list of files (non-null, non-negative ids, known source).
VALID_ROWS_MACRO = """
CREATE OR REPLACE TEMP MACRO valid_rows(files) AS TABLE
SELECT channel_id::BIGINT AS channel_id, channel_login::VARCHAR AS channel_login,
       user_id::BIGINT AS user_id, user_login::VARCHAR AS user_login,
       source::VARCHAR AS source, message_count::BIGINT AS message_count
FROM read_parquet(files, union_by_name = true)
WHERE channel_id >= 0 AND user_id >= 0 AND source IN ('live', 'vod')
  AND channel_login IS NOT NULL AND user_login IS NOT NULL AND message_count IS NOT NULL
"""
#: One row per (channel, user, source) with messages summed, sorted: the daily presence,
#: written by DuckDB with ``DAILY_PRESENCE``'s column types and schema tag ({path}: local).
DEDUPE_SQL = """
COPY (
    SELECT $day::DATE AS date, channel_id, user_id, source,
           least(sum(message_count), 2147483647)::INTEGER AS message_count
    FROM valid_rows($files)
    GROUP BY channel_id, user_id, source
    ORDER BY channel_id, user_id, source
) TO '{path}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {rows}, KV_METADATA {{{tag}}})
"""
#: Per channel: its (greatest) login and valid rows (reads the dictionary-encoded logins).
CHANNELS_SQL = """
SELECT channel_id, max(channel_login) AS login, count(*) AS valid_rows
FROM valid_rows($files) GROUP BY channel_id
"""
#: The ids of blocklisted logins. Matched exactly (a filter pushed into the scan, no
#: per-row ``lower()``): the collector and the VOD parser write only validated lower-case
#: logins (``lake.LOGIN_RE``). Still the one per-row read of the ``user_login`` strings.
BOTS_SQL = """
SELECT DISTINCT user_id, user_login
FROM valid_rows($files) WHERE user_login IN (SELECT unnest($bots::VARCHAR[]))
"""
PROBE_SQL = "SELECT count(*) FROM valid_rows($files)"


def check_schema(schema: pa.Schema) -> None:
    """Raise SchemaError unless ``schema`` has the read columns with usable types."""
    missing = [name for name in READ_COLUMNS if name not in schema.names]
    if missing:
        raise SchemaError(f"missing columns {missing}; expected {READ_COLUMNS}")
    for name in READ_COLUMNS:
        kind = schema.field(name).type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        numeric = pa.types.is_integer(READ_SCHEMA.field(name).type)
        usable = (
            pa.types.is_integer(kind)
            if numeric
            else pa.types.is_string(kind) or pa.types.is_large_string(kind)
        )
        if not usable:
            raise SchemaError(
                f"column {name} has type {kind}, expected {READ_SCHEMA.field(name).type}"
            )


def inspect_input(path: str) -> int:
    """Rows of a local input file, from its footer; raises if unreadable or of the wrong schema."""
    footer = pq.ParquetFile(path)
    check_schema(footer.schema_arrow)
    return footer.metadata.num_rows


def _readable(con, path: str) -> bool:
    """Whether DuckDB can read every page of one file (after a query failed on the day)."""
    import duckdb

    try:
        con.execute(PROBE_SQL, {"files": [path]})
    except duckdb.Error:
        return False
    return True


def read_manifest(lake: Lake, day: date | str) -> dict | None:
    """The day's presence manifest, or None; falls back to the pre-rename ``manifest.json``."""
    for key in (keys.daily_presence_manifest(day), keys.daily_presence_legacy_manifest(day)):
        if lake.exists(key):
            return lake.read_json(key)
    return None


def write_manifest(lake: Lake, day: date | str, manifest: dict) -> str:
    """Write the day's manifest and delete a legacy ``manifest.json`` (Athena would read it)."""
    url = lake.write_json(keys.daily_presence_manifest(day), manifest)
    legacy = keys.daily_presence_legacy_manifest(day)
    if lake.exists(legacy):
        lake.delete([legacy])
    return url


def build_day(
    lake: Lake,
    day: date | str,
    max_bad_input_share: float,
    force: bool = True,
    memory_mb: int | None = None,
) -> DayResult:
    """Build the day's presence and manifest, or reuse them if built from the same inputs."""
    day = str(day)
    inputs = day_inputs(lake, day)
    old = (read_manifest(lake, day) if not force else None) or {}
    same = old.get("version") == MANIFEST_VERSION and old.get("inputs") == inputs
    if same and lake.exists(keys.daily_presence(day)):
        log.info("Presence of %s unchanged since it was built; reusing it", day)
        if not lake.exists(keys.daily_presence_manifest(day)):
            write_manifest(lake, day, old)  # a legacy manifest: move it out of the way
        return DayResult(**{**old["result"], "status": "reused"})

    import duckdb  # here, not at import: the analysis steps import this module, not DuckDB

    budget = memory_mb or load_settings().analysis_memory_mb
    bad, rows_in = [], 0
    with connect(budget, HEADROOM_MB) as (con, work):
        good = {}
        for key, path in local_files(lake, list(inputs), work).items():
            try:
                rows_in += inspect_input(path)
                good[key] = path
            except (OSError, pa.ArrowException, SchemaError, ValueError) as exc:
                log.warning("Skipping unreadable input %s: %s", key, exc)
                bad.append(key)
        _check_share(day, bad, inputs, max_bad_input_share)
        local = str(Path(work) / "presence.parquet")
        try:
            logins, bots, valid_rows, rows_out = _dedupe_to(con, list(good.values()), day, local)
        except duckdb.Error as exc:  # a page past a good footer is broken: find it, skip it
            log.warning("Presence query failed (%s); checking every input", exc)
            for key in [k for k, path in good.items() if not _readable(con, path)]:
                log.warning("Skipping unreadable input %s", key)
                bad.append(key)
                rows_in -= inspect_input(good.pop(key))
            _check_share(day, sorted(bad), inputs, max_bad_input_share)
            logins, bots, valid_rows, rows_out = _dedupe_to(con, list(good.values()), day, local)
        lake.write_file(keys.daily_presence(day), local)
    result = DayResult(
        day=day,
        status="built",
        inputs=len(inputs),
        bad_inputs=sorted(bad),
        rows_in=rows_in,
        rows_dropped=rows_in - valid_rows,
        rows_out=rows_out,
        channels=len(logins),
        known_bots=len(bots),
    )
    write_manifest(
        lake,
        day,
        {
            "version": MANIFEST_VERSION,
            "inputs": inputs,
            "channels": logins,
            "known_bots": {str(k): v for k, v in sorted(bots.items())},
            "result": result.as_dict(),
        },
    )
    log.info("Presence of %s: %s", day, result.as_dict())
    return result


def _check_share(day: str, bad: list[str], inputs: dict, max_share: float) -> None:
    share = len(bad) / len(inputs) if inputs else 0.0
    if share > max_share:
        raise BadInputError(
            f"{len(bad)} of {len(inputs)} input files of {day} are unreadable "
            f"({share:.0%} > {max_share:.0%}): {', '.join(bad[:20])}"
        )


def _dedupe_to(con, urls: list[str], day: str, path: str) -> tuple[dict, dict, int, int]:
    """Write the day's presence to the local ``path``; return logins, bots, valid and out rows."""
    logins: dict[str, str] = {}
    valid_rows = 0
    if not urls:
        pq.write_table(DAILY_PRESENCE.empty_table(), path, compression="zstd")
        return logins, {}, 0, 0
    con.execute(VALID_ROWS_MACRO)
    for channel, login, rows in con.execute(CHANNELS_SQL, {"files": urls}).fetchall():
        logins[str(channel)] = login
        valid_rows += rows
    bots = dict(con.execute(BOTS_SQL, {"files": urls, "bots": sorted(blocklist())}).fetchall())
    tag = ", ".join(f"'{k.decode()}': '{v.decode()}'" for k, v in DAILY_PRESENCE.metadata.items())
    copy = DEDUPE_SQL.format(path=path.replace("'", "''"), rows=BATCH_ROWS, tag=tag)
    rows_out = con.execute(copy, {"files": urls, "day": day}).fetchone()[0]
    return dict(sorted(logins.items())), dict(sorted(bots.items())), valid_rows, int(rows_out)


#: Distinct chatters per community over a window, bots removed as the overlap step removes
#: them: blocklisted ids, and accounts in more than $share of the window's channels. Only
#: the two id columns are read. An account's distinct channels are counted only for the
#: few accounts with more rows than that threshold (rows >= distinct channels), so the
#: window's (channel, user) pairs are never de-duplicated as a whole.
AUDIENCE_SQL = """
WITH seen AS (
    SELECT $share * count(DISTINCT channel_id) AS threshold FROM read_parquet($files)
), heavy AS (
    SELECT user_id FROM read_parquet($files) GROUP BY user_id
    HAVING count(*) > (SELECT threshold FROM seen)
), bots AS (
    SELECT user_id FROM read_parquet($files) SEMI JOIN heavy USING (user_id) GROUP BY user_id
    HAVING count(DISTINCT channel_id) > (SELECT threshold FROM seen)
    UNION ALL SELECT unnest($known::BIGINT[])
), members AS (
    SELECT unnest($channels::BIGINT[]) AS channel_id, unnest($community::INTEGER[]) AS community
)
SELECT community, count(*) AS audience FROM (
    SELECT DISTINCT m.community, p.user_id
    FROM read_parquet($files) p JOIN members m USING (channel_id) ANTI JOIN bots b USING (user_id)
) GROUP BY community
"""


def known_bots(lake: Lake, days: list[str]) -> list[int]:
    """Ids of the blocklisted accounts seen on ``days`` (from the presence manifests)."""
    found: set[int] = set()
    for day in days:
        manifest = read_manifest(lake, day) or {}
        found.update(int(k) for k in manifest.get("known_bots", {}))
    return sorted(found)


def community_audience(
    lake: Lake,
    days: list[str],
    channel_ids: np.ndarray,
    community: np.ndarray,
    bot_share: float | None = None,
    memory_mb: int | None = None,
) -> np.ndarray | None:
    """Distinct chatters per community (index = community) over the daily presence of ``days``.

    A chatter of several channels of one community counts once, unlike the sum
    of the channels' chatters. With ``bot_share`` set, blocklisted accounts and
    accounts in more than that share of the window's channels are left out, as
    the overlap step leaves them out. Out of core, like :func:`build_day`.
    """
    found_days = [keys.daily_presence(d) for d in days if lake.exists(keys.daily_presence(d))]
    audience = np.zeros(int(community.max()) + 1 if len(community) else 0, np.int64)
    if not found_days:
        return None  # nothing to count from (an imported graph): unknown, not 0
    if not len(audience):
        return audience
    params = {
        "share": 1.0 if bot_share is None else bot_share,
        "known": [] if bot_share is None else known_bots(lake, days),
        "channels": np.asarray(channel_ids, np.int64).tolist(),
        "community": np.asarray(community, np.int32).tolist(),
    }
    with connect(memory_mb or load_settings().analysis_memory_mb) as (con, work):
        params["files"] = list(local_files(lake, found_days, work).values())
        found = con.sql(AUDIENCE_SQL, params=params).to_arrow_table()
    audience[found["community"].to_numpy()] = found["audience"].to_numpy()
    return audience
