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
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from vieweratlas import lake as keys
from vieweratlas.params import AnalysisParams, ParamsError
from vieweratlas.presence import BadInputError, build_day
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)


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
    """The lake, the logical date (``YYYY-MM-DD``) and validated params of a task's run.

    A run without a logical date (a manual trigger can have none) analyses the
    day it runs after.
    """
    from vieweratlas.airflow_glue import open_lake, runtime_settings

    with fail_fast():
        params = AnalysisParams.from_mapping(context["params"])
    moment = context.get("logical_date") or context["dag_run"].run_after
    return open_lake(runtime_settings()), moment.date().isoformat(), params


def window(day: date | str, window_days: int) -> list[str]:
    """The ``window_days`` dates ending on ``day``, oldest first."""
    last = date.fromisoformat(str(day))
    return [(last - timedelta(days=i)).isoformat() for i in range(window_days - 1, -1, -1)]


def presence_step(lake: Lake, day: str, logical_day: str, params: AnalysisParams) -> dict:
    """Build one day's presence (always for the logical date, else only if stale)."""
    started = time.perf_counter()
    force = params.rebuild_presence or day == logical_day
    result = build_day(lake, day, params.max_bad_input_share, force=force).as_dict()
    return {**result, "seconds": round(time.perf_counter() - started, 3)}


def read_window(lake: Lake, days: list[str]) -> tuple[list, dict[str, str], np.ndarray, list]:
    """Per-day (channel_id, user_id) arrays, channel logins, known bot ids, missing days."""
    from vieweratlas.overlap import distinct_day_pairs

    arrays, missing = [], []
    logins: dict[str, str] = {}
    bots: set[int] = set()
    for day in days:
        if not lake.exists(keys.daily_presence(day)):
            missing.append(day)
            continue
        table = lake.read_parquet(keys.daily_presence(day), columns=["channel_id", "user_id"])
        arrays.append(
            distinct_day_pairs(table["channel_id"].to_numpy(), table["user_id"].to_numpy())
        )
        manifest_key = keys.daily_presence_manifest(day)
        manifest = lake.read_json(manifest_key) if lake.exists(manifest_key) else {}
        logins.update(manifest.get("channels", {}))
        bots.update(int(k) for k in manifest.get("known_bots", {}))
    return arrays, logins, np.array(sorted(bots), dtype=np.int64), missing


def overlap_step(lake: Lake, day: str, params: AnalysisParams) -> dict:
    """Bot filter, channel filter and backbone; writes ``channels`` and ``edges`` work files."""
    from vieweratlas.bots import bot_user_mask
    from vieweratlas.overlap import backbone, build_incidence, drop_users, keep_channels

    timings: dict[str, float] = {}
    clock = time.perf_counter()
    arrays, logins, known, missing = read_window(lake, window(day, params.window_days))
    rows = sum(len(c) for c, _ in arrays)
    timings["read"] = time.perf_counter() - clock
    clock = time.perf_counter()
    incidence = build_incidence(arrays)
    del arrays
    timings["incidence"] = time.perf_counter() - clock
    clock = time.perf_counter()
    pairs_before = incidence.days.nnz
    known_n = heuristic_n = 0
    if params.bot_filter:
        mask, known_n, heuristic_n = bot_user_mask(
            incidence.user_ids,
            incidence.channels_per_user,
            len(incidence.channel_ids),
            known,
            params.bot_channel_share,
        )
        incidence = drop_users(incidence, mask)
    pairs_removed = pairs_before - incidence.days.nnz
    channels_seen = len(incidence.channel_ids)
    incidence = keep_channels(incidence, params.min_chatters)
    timings["bots"] = time.perf_counter() - clock
    if len(incidence.channel_ids) == 0:
        raise EmptyWindowError(
            f"no channel with at least {params.min_chatters} chatters in the window ending {day}"
            f" (days without presence: {missing or 'none'})"
        )
    clock = time.perf_counter()
    kept = backbone(incidence, params.weighting, params.top_k, params.min_shared)
    timings["overlap"] = time.perf_counter() - clock
    channels = pa.table(
        {
            "channel_id": pa.array(incidence.channel_ids, pa.int64()),
            "login": pa.array([logins.get(str(c), str(c)) for c in incidence.channel_ids.tolist()]),
            "chatters": pa.array(incidence.chatters, pa.int64()),
        }
    )
    lake.write_parquet(keys.analysis_file(day, "channels.parquet"), channels)
    lake.write_parquet(keys.analysis_file(day, "edges.parquet"), kept.table())
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
        "edges": len(kept.src),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
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


def labels_step(lake: Lake, day: str, params: AnalysisParams) -> dict:
    """Node and community tables with labels; writes ``graph_nodes`` and ``communities``."""
    from vieweratlas.labels import community_table, node_table, read_metadata

    clock = time.perf_counter()
    channels = lake.read_parquet(keys.analysis_file(day, "channels.parquet"))
    membership = lake.read_parquet(keys.analysis_file(day, "membership.parquet"))
    metadata, bad = read_metadata(lake, window(day, params.window_days))
    ids = channels["channel_id"].to_numpy()
    logins = dict(zip(map(str, ids.tolist()), channels["login"].to_pylist(), strict=True))
    nodes = node_table(
        ids, logins, channels["chatters"].to_numpy(), membership["community"].to_numpy(), metadata
    )
    communities = community_table(nodes)
    lake.write_parquet(keys.analysis_file(day, "graph_nodes.parquet"), nodes)
    lake.write_parquet(keys.analysis_file(day, "communities.parquet"), communities)
    return {
        "metadata_rows": metadata.num_rows,
        "bad_metadata_files": bad,
        "channels_with_metadata": int(nodes["game"].is_valid().to_numpy(False).sum()),
        "seconds": {"labels": round(time.perf_counter() - clock, 3)},
    }
