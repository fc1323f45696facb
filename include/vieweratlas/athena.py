"""The ``athena`` overlap engine: pair counts by SQL, written to the lake as Parquet.

For windows too big for one worker (``VIEWERATLAS_OVERLAP_ENGINE=athena``).
The SQL (``sql/pair_counts.sql``) runs through the Amazon provider's
``AthenaHook`` as ``UNLOAD`` statements over the Glue table of daily presence
(infra/vieweratlas.yaml: partition projection on ``date``, workgroup with its
result location in the data bucket, a bytes-scanned cutoff and encryption).
Athena writes Parquet under the date's ``_work/athena/`` prefix; this module
turns it into the same ``channels`` and ``pairs`` work files the local engine
writes, and the rest of the chain (``pipeline.backbone_from_pairs`` onward)
is the same. The SQL is tested by running it on DuckDB over the same files.
"""

from __future__ import annotations

import re
import time
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa

from vieweratlas import lake as keys
from vieweratlas.overlap import PAIRS, PAIRS_ENCODING
from vieweratlas.params import AnalysisParams
from vieweratlas.storage import Lake

SQL_FILE = Path(__file__).with_name("sql") / "pair_counts.sql"
PRESENCE_TABLE = "daily_presence"
_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,250}$")


class AthenaQueryError(RuntimeError):
    """An Athena query did not succeed."""


#: The statements :func:`render` gives; ``clean`` is the fragment both start from.
STATEMENTS = ("channels", "pairs")


def statements() -> dict[str, str]:
    """The named parts of ``pair_counts.sql`` (the statements and their common fragment)."""
    text = SQL_FILE.read_text(encoding="utf-8")
    parts = _NAME.split(text)
    return {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}


def render(
    name: str, presence: str, days: list[str], params: AnalysisParams, known_bots: np.ndarray
) -> str:
    """Statement ``name`` for the window ``days``, with only validated values filled in."""
    if not _IDENT.match(presence):
        raise ValueError(f"not a table name: {presence!r}")
    if name not in STATEMENTS:
        raise ValueError(f"not a statement: {name!r}; expected one of {STATEMENTS}")
    bots = ", ".join(str(int(b)) for b in np.asarray(known_bots, np.int64)) or "-1"
    sql = statements()
    query = sql[name].replace("{clean}", sql["clean"])
    return query.format(
        presence=presence,
        first_day=date.fromisoformat(days[0]).isoformat(),
        last_day=date.fromisoformat(days[-1]).isoformat(),
        bot_share=repr(float(params.bot_channel_share)),
        bot_filter="TRUE" if params.bot_filter else "FALSE",
        known_bots=bots,
        weighting="repeat" if params.weighting == "repeat" else "unique",
        min_chatters=int(params.min_chatters),
        min_shared=int(params.min_shared),
    )


def unload(query: str, target_url: str) -> str:
    """An ``UNLOAD`` of ``query`` to ``target_url`` as zstd Parquet."""
    if "'" in target_url:
        raise ValueError("unsafe UNLOAD target")
    return f"UNLOAD ({query}) TO '{target_url}' WITH (format = 'PARQUET', compression = 'ZSTD')"


def run_queries(
    hook, queries: list[str], database: str, workgroup: str, poll_seconds: int = 5
) -> list[str]:
    """Run ``queries`` one after the other through an ``AthenaHook``; their execution ids."""
    ids = []
    for query in queries:
        query_id = hook.run_query(
            query,
            query_context={"Database": database},
            result_configuration={},
            workgroup=workgroup,
        )
        state = hook.poll_query_status(query_id, sleep_time=poll_seconds)
        if state != "SUCCEEDED":
            reason = hook.get_state_change_reason(query_id)
            raise AthenaQueryError(f"Athena query {query_id} ended {state}: {reason}")
        ids.append(query_id)
    return ids


def athena_prefix(day: str, name: str) -> str:
    """Where Athena unloads one result of ``day`` (cleared before each run and after it)."""
    return keys.analysis_prefix(day) + f"_work/athena/{name}/"


def _read_unloaded(lake: Lake, prefix: str) -> list[str]:
    return [k for k in lake.list(prefix) if not k.rsplit("/", 1)[-1].startswith((".", "_"))]


def write_work_files(lake: Lake, day: str, logins: dict[str, str]) -> dict:
    """``channels`` and ``pairs`` work files from the unloaded results of ``day``."""
    import pyarrow.parquet as pq

    tables = [lake.read_parquet(k) for k in _read_unloaded(lake, athena_prefix(day, "channels"))]
    if not tables:
        raise AthenaQueryError(f"no channel rows unloaded for {day}")
    found = pa.concat_tables(tables).sort_by("channel_id")
    ids = found["channel_id"].to_numpy().astype(np.int64)
    channels = pa.table(
        {
            "channel_id": pa.array(ids, pa.int64()),
            "login": pa.array([logins.get(str(c), str(c)) for c in ids.tolist()]),
            "chatters": found["chatters"].cast(pa.int64()),
            "self_weight": found["self_weight"].cast(pa.float64()),
        }
    )
    lake.write_parquet(keys.analysis_file(day, "channels.parquet"), channels)
    written = 0
    with (
        lake.open_write(keys.analysis_file(day, "pairs.parquet")) as handle,
        pq.ParquetWriter(handle, PAIRS, **PAIRS_ENCODING) as out,
    ):
        for key in _read_unloaded(lake, athena_prefix(day, "pairs")):
            for batch in lake.parquet_file(key).iter_batches(batch_size=1 << 20):
                src = np.searchsorted(ids, batch.column("src_id").to_numpy())
                dst = np.searchsorted(ids, batch.column("dst_id").to_numpy())
                weight = batch.column("weight").to_numpy().astype(np.float64)
                out.write_table(
                    pa.table([src.astype(np.int32), dst.astype(np.int32), weight], schema=PAIRS)
                )
                written += len(src)
        if written == 0:
            out.write_table(PAIRS.empty_table())
    return {"channels": channels.num_rows, "pairs": written}


def athena_overlap(
    lake: Lake,
    day: str,
    days: list[str],
    params: AnalysisParams,
    known_bots: np.ndarray,
    logins: dict[str, str],
    hook,
    database: str,
    workgroup: str,
) -> dict:
    """Unload channels and pair counts with Athena, then write the work files."""
    clock = time.perf_counter()
    queries = []
    for name in STATEMENTS:
        lake.delete(lake.list(athena_prefix(day, name)))  # UNLOAD needs an empty target
        query = render(name, PRESENCE_TABLE, days, params, known_bots)
        queries.append(unload(query, lake.url(athena_prefix(day, name))))
    run_queries(hook, queries, database, workgroup)
    counts = write_work_files(lake, day, logins)
    for name in STATEMENTS:  # a second copy of the pairs otherwise (a re-run unloads again)
        lake.delete(lake.list(athena_prefix(day, name)))
    return {**counts, "seconds": {"athena": round(time.perf_counter() - clock, 3)}}
