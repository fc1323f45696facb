"""The daily analysis as steps over the lake: what each ``daily_analysis`` task calls.

Each step reads what the previous one wrote for the logical date (keys from
:mod:`vieweratlas.lake`), writes its own outputs, and returns a small dict of
counts and timings for XCom. Re-running a step for the same date rewrites the
same keys with the same content (same inputs and seed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pyarrow as pa

from vieweratlas import lake as keys
from vieweratlas.memory import release_memory
from vieweratlas.params import AnalysisParams, ParamsError, analysis_day, window
from vieweratlas.presence import BadInputError, build_day, read_manifest
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)

PAIRS_ROW_GROUP = 1 << 20  # pairs per row group of the ``pairs`` work file


class EmptyWindowError(ValueError):
    """The window holds no presence (or no channel passes the filters)."""


@contextmanager
def fail_fast() -> Iterator[None]:
    """Turn bad input and bad params into a non-retryable Airflow failure."""
    try:
        yield
    except (BadInputError, ParamsError, EmptyWindowError) as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc


def task_inputs(context: dict) -> tuple[Lake, str, AnalysisParams]:
    """The lake, the analysed date (``YYYY-MM-DD``) and validated params of a task's run.

    The analysed date is the logical date's, or the day before when that day was
    not over when the run was created (see :func:`vieweratlas.params.analysis_day`).
    """
    from vieweratlas.airflow_glue import open_lake, runtime_settings

    with fail_fast():
        params = AnalysisParams.from_mapping(context["params"])
    day = analysis_day(context.get("logical_date"), context["dag_run"].run_after)
    return open_lake(runtime_settings()), day, params


def presence_step(lake: Lake, day: str, logical_day: str, params: AnalysisParams) -> dict:
    """Build one day's presence (always for the logical date, else only if stale)."""
    started = time.perf_counter()
    force = params.rebuild_presence or day == logical_day
    result = build_day(lake, day, params.max_bad_input_share, force=force).as_dict()
    return {**result, "seconds": round(time.perf_counter() - started, 3)}


def read_window(lake: Lake, days: list[str]) -> tuple:
    """The window's distinct (channel, user) pairs (``PresenceBuffer``), logins, bots, missing.

    Each day streams in row-group batches (daily presence is written sorted), so
    the window is held once, as one int64 array of user ids plus channel runs.
    """
    from vieweratlas.overlap import PresenceBuffer

    logins, known, missing = read_window_meta(lake, days)
    present = [d for d in days if d not in missing]
    files = {d: lake.parquet_file(keys.daily_presence(d)) for d in present}
    found = PresenceBuffer(sum(f.metadata.num_rows for f in files.values()))
    for day, file in files.items():
        found.start_day()
        columns = ["channel_id", "user_id"]
        for batch in file.iter_batches(batch_size=1 << 20, columns=columns):
            if not found.add(batch.column(0).to_numpy(), batch.column(1).to_numpy()):
                found.rollback_day()
                table = lake.read_parquet(keys.daily_presence(day), columns=columns)
                found.add_day(table["channel_id"].to_numpy(), table["user_id"].to_numpy())
                break
    return found, logins, known, missing


def overlap_step(lake: Lake, day: str, params: AnalysisParams, settings=None) -> dict:
    """Bot filter, channel filter, exact pair weights and the backbone.

    Writes the work files ``channels`` (+ ``self_weight``, W's diagonal),
    ``members`` (the filtered window, for the labels step's distinct chatters),
    ``pairs`` (every pair >= min_shared, streamed in row groups), ``edges``
    (backbone) and ``neighbors`` (top neighbours by shared weight); row blocks
    are sized by the memory budget (``analysis_memory_mb``). With
    ``settings.overlap_engine == "athena"`` the pair counts come from Athena.
    """
    from vieweratlas.audience import write_members
    from vieweratlas.bots import bot_user_mask
    from vieweratlas.overlap import block_cells, build_incidence, filter_window
    from vieweratlas.settings import load_settings

    if settings is not None and settings.overlap_engine == "athena":
        return athena_overlap_step(lake, day, params, settings)
    budget = (settings or load_settings()).analysis_memory_mb
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    arrays, logins, known, missing = read_window(lake, window(day, params.window_days))
    rows = arrays.size
    timings["read"] = time.perf_counter() - clock
    clock = time.perf_counter()
    release_memory()
    incidence = build_incidence(arrays)
    del arrays
    release_memory()
    timings["incidence"] = time.perf_counter() - clock
    clock = time.perf_counter()
    known_n = heuristic_n = 0
    mask = np.zeros(len(incidence.user_ids), bool)
    if params.bot_filter:
        mask, known_n, heuristic_n = bot_user_mask(
            incidence.user_ids,
            incidence.channels_per_user,
            len(incidence.channel_ids),
            known,
            params.bot_channel_share,
        )
    pairs_removed = int(incidence.channels_per_user[mask].sum())
    channels_seen = len(incidence.channel_ids)
    incidence = filter_window(incidence, mask, params.min_chatters)
    release_memory()
    timings["bots"] = time.perf_counter() - clock
    if len(incidence.channel_ids) == 0:
        raise EmptyWindowError(
            f"no channel with at least {params.min_chatters} chatters in the window ending {day}"
            f" (days without presence: {missing or 'none'})"
        )
    clock = time.perf_counter()
    channels = pa.table(
        {
            "channel_id": pa.array(incidence.channel_ids, pa.int64()),
            "login": pa.array([logins.get(str(c), str(c)) for c in incidence.channel_ids.tolist()]),
            "chatters": pa.array(incidence.chatters, pa.int64()),
            "self_weight": pa.array(incidence.self_weight(params.weighting), pa.float64()),
        }
    )
    lake.write_parquet(keys.analysis_file(day, "channels.parquet"), channels)
    write_members(lake, keys.analysis_file(day, "members.parquet"), incidence)
    kept, pairs = write_pairs_and_select(lake, day, incidence, params, block_cells(budget))
    timings["overlap"] = time.perf_counter() - clock
    return {
        "days_missing": missing,
        "presence_rows": rows,
        "channels_seen": channels_seen,
        "channels": len(incidence.channel_ids),
        "users": int(incidence.days.shape[1]),
        "bots": {
            "enabled": params.bot_filter,
            "known_accounts": known_n,
            "heuristic_accounts": heuristic_n,
            "pairs_removed": int(pairs_removed),
            "channel_share": params.bot_channel_share,
        },
        "pairs_with_overlap": kept.pairs_with_overlap,
        "pairs": pairs,
        "edges": len(kept.src),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }


def write_pairs_and_select(lake: Lake, day: str, incidence, params: AnalysisParams, cells=None):
    """Stream ``pairs`` to the lake while choosing the backbone; write ``edges``, ``neighbors``.

    Row groups are encoded and written by a background thread (Arrow releases
    the GIL) while the next row block is counted; one row group in flight at most.
    """
    from concurrent.futures import Future, ThreadPoolExecutor

    import pyarrow.parquet as pq

    from vieweratlas.overlap import PAIRS, PAIRS_ENCODING, select

    pending: list[pa.Table] = []
    written = 0
    in_flight: Future | None = None
    key = keys.analysis_file(day, "pairs.parquet")
    with (
        lake.open_write(key) as handle,
        pq.ParquetWriter(handle, PAIRS, **PAIRS_ENCODING) as out,
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="pairs-writer") as writer,
    ):

        def flush(at_least: int) -> None:
            nonlocal written, in_flight
            rows = sum(t.num_rows for t in pending)
            if rows >= at_least and rows:
                table = pa.concat_tables(pending)
                pending.clear()
                if in_flight is not None:
                    in_flight.result()
                in_flight = writer.submit(out.write_table, table, row_group_size=rows)
                written += rows

        def sink(table: pa.Table) -> None:
            pending.append(table)
            flush(PAIRS_ROW_GROUP)

        kept, near = select(
            incidence, params.weighting, params.top_k, params.min_shared, sink, cells=cells
        )
        flush(0)
        if in_flight is not None:
            in_flight.result()
        if written == 0:
            out.write_table(PAIRS.empty_table())
    lake.write_parquet(keys.analysis_file(day, "edges.parquet"), kept.table())
    lake.write_parquet(keys.analysis_file(day, "neighbors.parquet"), near.table())
    return kept, written


def read_window_meta(lake: Lake, days: list[str]) -> tuple[dict[str, str], np.ndarray, list]:
    """Channel logins, known bot ids and missing days of the window (manifests only)."""
    logins: dict[str, str] = {}
    bots: set[int] = set()
    missing: list[str] = []
    for day in days:
        if not lake.exists(keys.daily_presence(day)):
            missing.append(day)
        manifest = read_manifest(lake, day) or {}
        logins.update(manifest.get("channels", {}))
        bots.update(int(k) for k in manifest.get("known_bots", {}))
    return logins, np.array(sorted(bots), dtype=np.int64), missing


def athena_overlap_step(lake: Lake, day: str, params: AnalysisParams, settings) -> dict:
    """The overlap step with pair counts from Athena (``overlap_engine=athena``)."""
    from airflow.providers.amazon.aws.hooks.athena import AthenaHook

    from vieweratlas.athena import athena_overlap
    from vieweratlas.audience import drop_members

    days = window(day, params.window_days)
    logins, known, missing = read_window_meta(lake, days)
    hook = AthenaHook(aws_conn_id=settings.aws_conn_id)
    counted = athena_overlap(
        lake,
        day,
        days,
        params,
        known,
        logins,
        hook,
        settings.athena_database,
        settings.athena_workgroup,
    )
    if counted["channels"] == 0:
        raise EmptyWindowError(f"no channel with at least {params.min_chatters} chatters")
    drop_members(lake, keys.analysis_file(day, "members.parquet"))  # labels read presence
    found = backbone_from_pairs(lake, day, params)
    return {
        "engine": "athena",
        "days_missing": missing,
        "channels": counted["channels"],
        "pairs": counted["pairs"],
        "pairs_with_overlap": found["pairs_with_overlap"],
        "edges": found["edges"],
        "bots": {"enabled": params.bot_filter, "channel_share": params.bot_channel_share},
        "seconds": {**counted["seconds"], **found["seconds"]},
    }


def backbone_from_pairs(lake: Lake, day: str, params: AnalysisParams) -> dict:
    """Backbone and neighbours from the ``pairs`` and ``channels`` work files (any engine).

    Streams ``pairs`` row group by row group; writes ``edges`` and ``neighbors``.
    """
    from vieweratlas.overlap import top_from_pairs

    clock = time.perf_counter()
    channels = lake.read_parquet(keys.analysis_file(day, "channels.parquet"))
    own = channels["self_weight"].to_numpy()
    pairs = lake.parquet_file(keys.analysis_file(day, "pairs.parquet"))
    kept, near = top_from_pairs(
        pairs.iter_batches(batch_size=PAIRS_ROW_GROUP), own, params.top_k, params.min_shared
    )
    lake.write_parquet(keys.analysis_file(day, "edges.parquet"), kept.table())
    lake.write_parquet(keys.analysis_file(day, "neighbors.parquet"), near.table())
    return {
        "channels": channels.num_rows,
        "pairs_with_overlap": kept.pairs_with_overlap,
        "edges": len(kept.src),
        "seconds": {"backbone": round(time.perf_counter() - clock, 3)},
    }


def communities_step(lake: Lake, day: str, params: AnalysisParams) -> dict:
    """Communities of the backbone; writes the ``membership`` work file."""
    from vieweratlas.communities import detect

    clock = time.perf_counter()
    n = lake.read_parquet(keys.analysis_file(day, "channels.parquet"), columns=["channel_id"])
    edges = lake.read_parquet(keys.analysis_file(day, "edges.parquet"))
    found = detect(
        n.num_rows,
        edges["src"].to_numpy(),
        edges["dst"].to_numpy(),
        edges["score"].to_numpy(),
        params.algorithm,
        params.resolution,
        params.seed,
    )
    membership = pa.table({"community": pa.array(found.membership, pa.int32())})
    lake.write_parquet(keys.analysis_file(day, "membership.parquet"), membership)
    return {
        "communities": found.count,
        "modularity": round(found.modularity, 6),
        "largest_sizes": found.sizes[:10],
        "seconds": {"communities": round(time.perf_counter() - clock, 3)},
    }


def _community_audience(
    lake: Lake, day: str, params: AnalysisParams, ids: np.ndarray, community: np.ndarray
) -> np.ndarray | None:
    """Distinct chatters per community: from the ``members`` work file when the local
    overlap engine wrote one, else from presence (Athena's pair counts, an imported graph)."""
    from vieweratlas.audience import community_audience as members_audience
    from vieweratlas.presence import community_audience

    members = keys.analysis_file(day, "members.parquet")
    if lake.exists(members):
        return members_audience(lake, members, community)
    return community_audience(
        lake,
        window(day, params.window_days),
        ids,
        community,
        params.bot_channel_share if params.bot_filter else None,
    )


def labels_step(lake: Lake, day: str, params: AnalysisParams) -> dict:
    """Node and community tables with labels; writes ``graph_nodes`` and ``communities``."""
    from vieweratlas.labels import community_table, node_table, read_metadata

    clock = time.perf_counter()
    channels = lake.read_parquet(keys.analysis_file(day, "channels.parquet"))
    membership = lake.read_parquet(keys.analysis_file(day, "membership.parquet"))
    ids = channels["channel_id"].to_numpy()
    community = membership["community"].to_numpy()
    metadata, bad = read_metadata(lake, window(day, params.window_days))
    logins = dict(zip(map(str, ids.tolist()), channels["login"].to_pylist(), strict=True))
    nodes = node_table(ids, logins, channels["chatters"].to_numpy(), community, metadata)
    communities = community_table(nodes)
    metadata_rows = metadata.num_rows
    del metadata  # before the count's row groups
    audience = _community_audience(lake, day, params, ids, community)
    column = communities.schema.get_field_index("audience")
    communities = communities.set_column(
        column,
        communities.schema.field(column),
        pa.nulls(communities.num_rows, pa.int64())
        if audience is None
        else pa.array(audience, pa.int64()),
    )
    lake.write_parquet(keys.analysis_file(day, "graph_nodes.parquet"), nodes)
    lake.write_parquet(keys.analysis_file(day, "communities.parquet"), communities)
    return {
        "metadata_rows": metadata_rows,
        "bad_metadata_files": bad,
        "channels_with_metadata": int(nodes["game"].is_valid().to_numpy(False).sum()),
        "seconds": {"labels": round(time.perf_counter() - clock, 3)},
    }
