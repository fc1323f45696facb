"""The ``track`` step: persistent community ids, events and the timeline, in the lake.

For logical date D it reads D's ``graph_nodes`` and ``communities`` tables and
the same two small tables of the nearest earlier *tracked* day within
``track_lookback_days`` (never presence), matches them
(:func:`vieweratlas.tracking.track`), and writes:

- ``communities.parquet`` with ``community_uid`` and ``color_index``, and
  ``graph_nodes.parquet`` with ``community_uid`` (rewritten in place, so a re-run
  of the task reads the labels' columns and gives the same result);
- ``events.parquet`` / ``events.csv``;
- ``_work/tracking.json``: which day D was tracked against, a fingerprint of
  that day's tracked result and of D's own. It marks D as tracked.

Re-tracking D when later days were tracked against an older D: the first later
tracked day that depended on D (and every day after it in the chain) gets
``stale: true`` in its ``tracking.json`` when D's ids changed, and the summary
lists them; re-running those days in order (a backfill with
``--reprocess-behavior completed``) brings them up to date.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vieweratlas import lake as keys
from vieweratlas.params import AnalysisParams
from vieweratlas.schema import COMMUNITY_EVENTS, EVENT_TYPES, TRACKING_FIELDS
from vieweratlas.storage import Lake
from vieweratlas.tracking import Day, Thresholds, Tracked, track

log = logging.getLogger(__name__)

TRACKED = [f.name for f in TRACKING_FIELDS]
LISTED_EVENTS = 10  # per type in summary.json


def thresholds(params: AnalysisParams) -> Thresholds:
    """The run's matching thresholds."""
    return Thresholds(
        match_jaccard=params.track_match_jaccard,
        link_share=params.track_link_share,
        min_part=params.track_min_part,
        growth=params.track_growth,
    )


def palette_size() -> int:
    """Colours the maps draw (indices past it are drawn grey)."""
    from vieweratlas.palette import PALETTE

    return len(PALETTE)


def _shift(day: str, days: int) -> str:
    return (date.fromisoformat(day) + timedelta(days=days)).isoformat()


def state(lake: Lake, day: str) -> dict | None:
    """``tracking.json`` of a day, or None if it was never tracked."""
    key = keys.analysis_file(day, "tracking.json")
    return lake.read_json(key) if lake.exists(key) else None


def previous_tracked(lake: Lake, day: str, lookback: int) -> tuple[str, dict] | None:
    """The nearest earlier tracked day within ``lookback`` days, with its state."""
    for back in range(1, lookback + 1):
        earlier = _shift(day, -back)
        found = state(lake, earlier)
        if found is not None:
            return earlier, found
    return None


def _strip(table: pa.Table) -> pa.Table:
    """The table without tracking columns (what the labels step wrote)."""
    return table.drop_columns([c for c in TRACKED if c in table.column_names])


def read_day(lake: Lake, day: str, tracked: bool) -> tuple[Day, pa.Table, pa.Table]:
    """A day's channels and communities as a :class:`Day`, plus its node and community tables."""
    columns = ["channel_id", "community", "chatters"] if tracked else None  # earlier day
    nodes = lake.read_parquet(keys.analysis_file(day, "graph_nodes.parquet"), columns)
    communities = lake.read_parquet(keys.analysis_file(day, "communities.parquet"))
    if not tracked:
        nodes, communities = _strip(nodes), _strip(communities)
    order = np.argsort(communities["community"].to_numpy())
    found = Day(
        channel_id=nodes["channel_id"].to_numpy(),
        community=nodes["community"].to_numpy().astype(np.int64),
        weight=nodes["chatters"].to_numpy().astype(np.float64),
    )
    if tracked:
        found.uids = communities["community_uid"].take(pa.array(order)).to_pylist()
        found.colors = communities["color_index"].to_numpy()[order].astype(np.int32)
    return found, nodes, communities


def fingerprint(channel_id: np.ndarray, uid_per_channel: list[str]) -> str:
    """A digest of which channel carries which persistent id."""
    digest = hashlib.sha256(np.ascontiguousarray(channel_id, dtype=np.int64).tobytes())
    digest.update("\n".join(uid_per_channel).encode())
    return digest.hexdigest()[:32]


def events_table(
    day: str, result: Tracked, prev_uids: list[str], prev_labels: dict, cur_labels: list, nodes
) -> pa.Table:
    """``COMMUNITY_EVENTS`` rows: community events first, then channel moves (biggest first)."""
    rows = []
    for event in result.events:
        cur = event.pop("_cur")
        label = cur_labels[cur] if cur is not None else prev_labels.get(event["community_uid"])
        rows.append({"date": day, "label": label, "channel_id": None, "login": None, **event})
    table = pa.Table.from_pylist(rows, schema=COMMUNITY_EVENTS)
    moves = result.moves
    n = len(moves["channel_id"])
    if not n:
        return table
    ids = nodes["channel_id"].to_numpy()
    by_id = np.argsort(ids)
    login = nodes["login"].take(
        pa.array(by_id[np.searchsorted(ids, moves["channel_id"], sorter=by_id)])
    )
    to_uid = [result.uids[c] for c in moves["to_c"].tolist()]
    before = np.round(moves["chatters_before"]).astype(np.int64)
    after = np.round(moves["chatters_after"]).astype(np.int64)
    move_table = pa.table(
        {
            "date": pa.array([day] * n, pa.string()),
            "event": pa.array(["move"] * n, pa.string()),
            "community_uid": pa.array(to_uid, pa.string()),
            "label": pa.array([cur_labels[c] for c in moves["to_c"].tolist()], pa.string()),
            "from_uids": pa.array([[prev_uids[c]] for c in moves["from_c"].tolist()]),
            "to_uids": pa.array([[u] for u in to_uid]),
            "channel_id": pa.array(moves["channel_id"], pa.int64()),
            "login": login,
            "chatters_before": pa.array(before, pa.int64()),
            "chatters_after": pa.array(after, pa.int64()),
            "channels_before": pa.array(np.ones(n, np.int32)),
            "channels_after": pa.array(np.ones(n, np.int32)),
            "change": pa.nulls(n, pa.float64()),
        },
        schema=COMMUNITY_EVENTS,
    )
    move_table = move_table.sort_by([("chatters_after", "descending"), ("channel_id", "ascending")])
    return pa.concat_tables([table, move_table])


def _with_tracking(communities: pa.Table, nodes: pa.Table, result: Tracked) -> tuple:
    """The labels' tables with ``community_uid`` / ``color_index`` appended."""
    number = communities["community"].to_numpy()
    uids = np.asarray(result.uids, dtype=object)
    uid_field, color_field = TRACKING_FIELDS
    communities = communities.append_column(
        uid_field, pa.array(uids[number].tolist(), pa.string())
    ).append_column(color_field, pa.array(result.colors[number], pa.int32()))
    per_node = uids[nodes["community"].to_numpy()].tolist()
    nodes = nodes.append_column(uid_field, pa.array(per_node, pa.string()))
    return communities, nodes, per_node


def mark_stale(lake: Lake, day: str, new_fingerprint: str, lookback: int) -> list[str]:
    """Mark later days tracked against an older result of ``day`` as stale; return them."""
    stale: list[str] = []
    anchor: str = day
    anchor_fp: str | None = new_fingerprint
    while True:
        follower = None
        for ahead in range(1, lookback + 1):
            later = _shift(anchor, ahead)
            found = state(lake, later)
            if found is not None:
                follower = (later, found)
                break
        if follower is None:
            return stale
        later, found = follower
        outdated = found.get("previous") != anchor or found.get("previous_fingerprint") != anchor_fp
        if not outdated and not stale:
            return stale
        if not found.get("stale") or found.get("stale_because") != day:
            found.update(stale=True, stale_because=day)
            lake.write_json(keys.analysis_file(later, "tracking.json"), found)
        stale.append(later)
        anchor, anchor_fp = later, found.get("fingerprint")


def _listed(events: pa.Table) -> dict[str, list[dict]]:
    """A few events of each type for summary.json and the notification."""
    out: dict[str, list[dict]] = {}
    keep = ("community_uid", "label", "from_uids", "to_uids", "login", "change")
    for kind in EVENT_TYPES:
        rows = events.filter(pc.equal(events["event"], kind)).slice(0, LISTED_EVENTS)
        if rows.num_rows:
            out[kind] = [
                {k: v for k, v in r.items() if k in keep and v not in (None, [])}
                for r in rows.to_pylist()
            ]
    return out


def track_step(lake: Lake, day: str, params: AnalysisParams) -> dict:
    """Track ``day`` against the nearest earlier tracked day; write ids, events, timeline."""
    from vieweratlas.publish import to_csv

    clock = time.perf_counter()
    cur, nodes, communities = read_day(lake, day, tracked=False)
    found = previous_tracked(lake, day, params.track_lookback_days)
    prev = prev_state = None
    prev_labels: dict[str, str] = {}
    if found is not None:
        prev_day, prev_state = found
        prev, _, prev_communities = read_day(lake, prev_day, tracked=True)
        prev_labels = dict(
            zip(
                prev_communities["community_uid"].to_pylist(),
                prev_communities["label"].to_pylist(),
                strict=True,
            )
        )
    result = track(prev, cur, day, thresholds(params), palette_size())
    order = np.argsort(communities["community"].to_numpy())
    cur_labels = [communities["label"][int(k)].as_py() for k in order]
    events = events_table(day, result, prev.uids if prev else [], prev_labels, cur_labels, nodes)
    communities, nodes, per_node = _with_tracking(communities, nodes, result)
    seconds = {"track": time.perf_counter() - clock}

    clock = time.perf_counter()
    lake.write_parquet(keys.analysis_file(day, "communities.parquet"), communities)
    lake.write_parquet(keys.analysis_file(day, "graph_nodes.parquet"), nodes)
    lake.write_parquet(keys.analysis_file(day, "events.parquet"), events)
    lake.write_bytes(keys.analysis_file(day, "events.csv"), to_csv(_flat(events)))
    own = fingerprint(cur.channel_id, per_node)
    inherited = prev_state.get("stale_because") if prev_state and prev_state.get("stale") else None
    lake.write_json(
        keys.analysis_file(day, "tracking.json"),
        {
            "version": 1,
            "date": day,
            "previous": found[0] if found else None,
            "previous_fingerprint": prev_state.get("fingerprint") if prev_state else None,
            "fingerprint": own,
            "stale": inherited is not None,
            "stale_because": inherited,
        },
    )
    stale = mark_stale(lake, day, own, params.track_lookback_days)
    if stale:
        log.warning("Re-tracking %s changed its ids; stale until re-run: %s", day, stale)
    seconds["track_write"] = time.perf_counter() - clock

    clock = time.perf_counter()
    from vieweratlas.timeline import write_timeline

    write_timeline(lake, day, params.timeline_days)
    seconds["timeline"] = time.perf_counter() - clock
    counts = {kind: 0 for kind in EVENT_TYPES}
    counts.update(
        {
            r["event"]: r["count_all"]
            for r in events.group_by("event").aggregate([([], "count_all")]).to_pylist()
        }
    )
    return {
        "previous_day": found[0] if found else None,
        "lookback_days": params.track_lookback_days,
        "communities": len(result.uids),
        "continuing": int(np.count_nonzero(result.matched >= 0)),
        "events": counts,
        "listed": _listed(events),
        "stale_days": stale,
        "stale_because": inherited,
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }


def _flat(events: pa.Table) -> pa.Table:
    """Events with list columns joined by spaces (for CSV)."""
    for name in ("from_uids", "to_uids"):
        index = events.schema.get_field_index(name)
        events = events.set_column(index, name, pc.binary_join(events[name], " "))
    return events
