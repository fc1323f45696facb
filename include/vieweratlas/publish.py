"""Publish: maps, Gephi CSVs, tables and summary.json for the date, then the ``latest`` copy.

The layout is computed once and shared by both maps (the map modules own
rendering and escaping). CSV cells from Twitch that a spreadsheet would run as
a formula (leading ``= + - @``, tab, CR) get a leading apostrophe.
``summary.json`` is written last, and copied last, so a reader that sees it
sees a complete set.
"""

from __future__ import annotations

import io
import logging
import time

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from vieweratlas import lake as keys
from vieweratlas.params import AnalysisParams
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)

TOP_COMMUNITIES = 10
_FORMULA = r"^[=+\-@\t\r]"


def csv_safe(column: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
    """Strings with spreadsheet-formula starts neutralised by a leading apostrophe."""
    risky = pc.fill_null(pc.match_substring_regex(column, _FORMULA), False)
    return pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)


def to_csv(table: pa.Table) -> bytes:
    """CSV bytes of ``table`` with every string column made :func:`csv_safe`."""
    columns = [
        csv_safe(col) if pa.types.is_string(col.type) else col for col in table.itercolumns()
    ]
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table(columns, names=table.column_names), buffer)
    return buffer.getvalue()


def gephi_nodes(nodes: pa.Table, communities: pa.Table) -> pa.Table:
    """Gephi's node table: ``Id`` (node index), ``Label`` (login) and attributes."""
    labels = communities["label"].take(nodes["community"])
    return pa.table(
        {
            "Id": pa.array(range(nodes.num_rows), pa.int32()),
            "Label": nodes["login"],
            "channel_id": nodes["channel_id"],
            "display_name": nodes["display_name"],
            "community": nodes["community"],
            "community_label": labels,
            **{k: nodes[k] for k in ("community_uid",) if k in nodes.column_names},
            "chatters": nodes["chatters"],
            "viewers": nodes["viewers"],
            "game": nodes["game"],
            "language": nodes["language"],
        }
    )


def gephi_edges(edges: pa.Table) -> pa.Table:
    """Gephi's edge table: ``Source``, ``Target``, ``Type``, ``Weight`` (+ cosine score)."""
    return pa.table(
        {
            "Source": edges["src"],
            "Target": edges["dst"],
            "Type": pa.array(["Undirected"] * edges.num_rows, pa.string()),
            "Weight": edges["weight"],
            "score": edges["score"],
        }
    )


def channel_neighbors(nodes: pa.Table, own: pa.Array, rows: pa.Table) -> pa.Table:
    """``schema.CHANNEL_NEIGHBORS`` from the ``neighbors`` work file (channel rows).

    ``own`` is each channel's own weight (its chatters under ``unique``), the
    denominator of both shares.
    """
    from vieweratlas.schema import CHANNEL_NEIGHBORS

    channel, neighbor, shared = rows["channel"], rows["neighbor"], rows["shared"]
    return pa.table(
        [
            nodes["channel_id"].take(channel),
            nodes["login"].take(channel),
            rows["rank"],
            nodes["channel_id"].take(neighbor),
            nodes["login"].take(neighbor),
            shared,
            pc.divide(shared, pc.take(own, channel)),
            pc.divide(shared, pc.take(own, neighbor)),
            nodes["community"].take(neighbor),
        ],
        schema=CHANNEL_NEIGHBORS,
    )


def top_communities(communities: pa.Table, limit: int = TOP_COMMUNITIES) -> list[dict]:
    """The biggest communities as plain dicts (summary.json, notification)."""
    rows = communities.slice(0, limit).to_pylist()
    keep: tuple[str, ...] = (
        "community",
        "label",
        "channels",
        "chatters",
        "top_game",
        "top_language",
    )
    keep += tuple(k for k in ("community_uid",) if k in communities.column_names)
    return [{**{k: r[k] for k in keep}, "top_channels": r["top_channels"][:3]} for r in rows]


def map_extras(lake: Lake, day: str, nodes: pa.Table) -> tuple:
    """Community affinity from the full ``pairs`` work file and each channel's ranked
    neighbours (``neighbors`` work file), for the maps; None when not written."""
    from vieweratlas import overlap

    affinity = neighbors = None
    pairs_key = keys.analysis_file(day, "pairs.parquet")
    if lake.exists(pairs_key):
        # streamed in row groups (the pair list can be large)
        pairs = lake.parquet_file(pairs_key).iter_batches(columns=["src", "dst", "weight"])
        community = nodes["community"].to_numpy(zero_copy_only=False)
        count = int(community.max(initial=-1)) + 1
        affinity = overlap.community_affinity(pairs, community, count)
    else:  # an imported graph always has one: gone by retention (retention_analysis_work_days)
        log.warning(
            "%s is missing: communities are placed by their backbone edges only; re-run %s "
            "from its overlap task for the placement by the full overlap",
            pairs_key,
            day,
        )
    rows_key = keys.analysis_file(day, "neighbors.parquet")  # channel rows, by the overlap step
    if lake.exists(rows_key):
        rows = lake.read_parquet(rows_key, columns=["channel", "neighbor", "rank", "shared"])
        ids = nodes["channel_id"]
        neighbors = pa.table(
            {
                "channel_id": ids.take(rows["channel"]),
                "rank": rows["rank"],
                "neighbor_id": ids.take(rows["neighbor"]),
                "shared": rows["shared"],
            }
        )
    return affinity, neighbors


def map_title(days: list[str], missing: list[str]) -> str:
    """The maps' title: the window, and which days had data when some did not."""
    title = f"Twitch communities, {days[0]} to {days[-1]}"
    had = [d for d in days if d not in set(missing)]
    if not missing:
        return title
    if not had:
        return f"{title} (no day had data)"
    listed = ", ".join(had) if len(had) <= 3 else f"{len(had)} of {len(days)} days"
    return f"{title} (data: {listed})"


def publish_step(lake: Lake, day: str, params: AnalysisParams, steps: dict) -> dict:
    """Render and write every output of ``day``, copy them to ``latest``; the summary dict."""
    from vieweratlas.layout import compute_layout
    from vieweratlas.map_html import render_html
    from vieweratlas.map_png import render_png
    from vieweratlas.pipeline import window

    timings: dict[str, float] = {}
    nodes = lake.read_parquet(keys.analysis_file(day, "graph_nodes.parquet"))
    edges = lake.read_parquet(keys.analysis_file(day, "edges.parquet"))
    communities = lake.read_parquet(keys.analysis_file(day, "communities.parquet"))
    days = window(day, params.window_days)
    title = map_title(days, steps.get("overlap", {}).get("days_missing", []))

    affinity, neighbors = map_extras(lake, day, nodes)
    clock = time.perf_counter()
    positions = compute_layout(nodes, edges, params.seed, affinity)
    timings["layout"] = time.perf_counter() - clock
    clock = time.perf_counter()
    png = render_png(nodes, edges, positions, communities, title)
    timings["png"] = time.perf_counter() - clock
    clock = time.perf_counter()
    html = render_html(nodes, edges, positions, communities, title, neighbors)
    timings["html"] = time.perf_counter() - clock

    clock = time.perf_counter()
    outputs = {
        "map.png": png,
        "map.html": html.encode("utf-8"),
        "nodes.csv": to_csv(gephi_nodes(nodes, communities)),
        "edges.csv": to_csv(gephi_edges(edges)),
        "communities.csv": to_csv(
            communities.set_column(
                communities.schema.get_field_index("top_channels"),
                "top_channels",
                pc.binary_join(communities["top_channels"], " "),
            )
        ),
    }
    for name, data in outputs.items():
        lake.write_bytes(keys.analysis_file(day, name), data)
    lake.write_parquet(keys.analysis_file(day, "graph_edges.parquet"), edges)
    channels = lake.read_parquet(keys.analysis_file(day, "channels.parquet"))
    own = channels["self_weight"] if "self_weight" in channels.column_names else nodes["chatters"]
    near = channel_neighbors(
        nodes,
        pc.cast(own, pa.float64()),
        lake.read_parquet(keys.analysis_file(day, "neighbors.parquet")),
    )
    lake.write_parquet(keys.analysis_file(day, "channel_neighbors.parquet"), near)
    lake.write_bytes(keys.analysis_file(day, "channel_neighbors.csv"), to_csv(near))
    for name, table in (
        ("communities", communities),
        ("graph_nodes", nodes),
        ("channel_neighbors", near),
    ):
        lake.write_parquet(keys.analysis_table(name, day), table)  # Glue/Athena tables
    timings["write"] = time.perf_counter() - clock

    summary = build_summary(lake, day, params, steps, nodes, edges, communities, timings)
    lake.write_json(keys.analysis_file(day, "summary.json"), summary)
    for name in keys.ANALYSIS_OUTPUTS:
        if name in keys.TRACKING_OUTPUTS and "track" not in steps:
            continue  # published without the track step (benchmark, tests)
        lake.copy(keys.analysis_file(day, name), keys.analysis_latest(name))
    log.info("Published %s: %s", day, summary["outputs"]["folder"])
    return summary


def build_summary(lake, day, params, steps, nodes, edges, communities, timings) -> dict:
    """summary.json: inputs, counts, parameters, timings per step, modularity, top communities."""
    overlap = steps.get("overlap", {})
    found = steps.get("communities", {})
    presence = steps.get("presence", [])
    seconds: dict[str, float] = {}
    for step in ("overlap", "communities", "labels", "track"):
        seconds.update(steps.get(step, {}).get("seconds", {}))
    seconds["presence"] = round(sum(p.get("seconds", 0) for p in presence), 3)
    seconds.update({k: round(v, 3) for k, v in timings.items()})
    return {
        "date": str(day),
        "params": params.as_dict(),
        "inputs": {
            "days": [
                {k: p.get(k) for k in ("day", "status", "inputs", "bad_inputs", "rows_out")}
                for p in presence
            ],
            "bad_inputs": [key for p in presence for key in p.get("bad_inputs", [])],
            "days_missing": overlap.get("days_missing", []),
            "presence_rows": overlap.get("presence_rows"),
            "bad_metadata_files": steps.get("labels", {}).get("bad_metadata_files", []),
        },
        "counts": {
            "channels_seen": overlap.get("channels_seen"),
            "channels": nodes.num_rows,
            "chatters": overlap.get("users"),
            "pairs_with_overlap": overlap.get("pairs_with_overlap"),
            "edges": edges.num_rows,
            "communities": communities.num_rows,
        },
        "bots": overlap.get("bots", {}),
        "modularity": found.get("modularity"),
        "top_communities": top_communities(communities),
        "tracking": {k: v for k, v in steps.get("track", {}).items() if k != "seconds"},
        "seconds": seconds,
        "outputs": {
            "folder": lake.url(keys.analysis_prefix(day)),
            "latest": lake.url(keys.ANALYSIS_LATEST),
            "map_png": lake.url(keys.analysis_latest("map.png")),
            "map_html": lake.url(keys.analysis_latest("map.html")),
            **(
                {"timeline_html": lake.url(keys.analysis_latest("timeline.html"))}
                if "track" in steps
                else {}
            ),
        },
    }
