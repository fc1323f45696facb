"""Bring your own overlap: a weighted edge list + per-channel audience -> the work files.

The input is the Gephi CSV pair Twitch Atlas publishes (and ViewerAtlas's own
``nodes.csv``/``edges.csv`` resemble):

- edges: ``Source,Target,Weight`` — an undirected pair of channel ids and the
  audience they share (a pair listed twice, in either order, keeps its largest
  weight; self-pairs are ignored);
- labels: ``ID,Label,Count`` — each channel's id, display name and own audience.

:func:`import_overlap` writes ``channels.parquet`` and ``pairs.parquet`` for a
date, exactly as the overlap step would; :func:`analyse_imported` then runs the
normal chain (backbone -> communities -> labels -> publish) so every output
(maps, tables, ``channel_neighbors``) is rendered from it. Channel ids that are
not numeric get ids 1..N in label order; logins are the ids lower-cased when
they are valid Twitch logins. A channel's own weight (the cosine's
denominator) is its Count, raised to its largest shared weight when Count is
smaller (a few rows of real exports are 0).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from vieweratlas import lake as keys
from vieweratlas.lake import LOGIN_RE, NUMERIC_ID_RE
from vieweratlas.overlap import PAIRS, PAIRS_ENCODING
from vieweratlas.params import AnalysisParams
from vieweratlas.storage import Lake


class EdgeListError(ValueError):
    """The edge list or the labels cannot be imported."""


def _read_csv(data: bytes, columns: dict[str, pa.DataType]) -> pa.Table:
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            convert_options=pacsv.ConvertOptions(
                column_types=columns, include_columns=list(columns), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, KeyError) as exc:
        raise EdgeListError(f"expected CSV columns {list(columns)}: {exc}") from exc
    if any(table[c].null_count for c in columns):
        raise EdgeListError(f"empty cells in {list(columns)}")
    return table


def read_edge_list(edges_csv: bytes, labels_csv: bytes) -> tuple[pa.Table, pa.Table]:
    """(channels table, pairs table) from the two CSVs' bytes (see the module doc)."""
    labels = _read_csv(labels_csv, {"ID": pa.string(), "Label": pa.string(), "Count": pa.float64()})
    edges = _read_csv(
        edges_csv, {"Source": pa.string(), "Target": pa.string(), "Weight": pa.float64()}
    )
    ids = labels["ID"]
    if pc.count_distinct(ids).as_py() != len(ids):
        raise EdgeListError("duplicate channel IDs in the labels")
    if len(ids) == 0:
        raise EdgeListError("no channels in the labels")
    count = labels["Count"].to_numpy()
    weight = edges["Weight"].to_numpy()
    if not (np.isfinite(count).all() and (count >= 0).all()):
        raise EdgeListError("Count must be a finite number >= 0")
    if not (np.isfinite(weight).all() and (weight > 0).all()):
        raise EdgeListError("Weight must be a finite number > 0")
    a = pc.index_in(edges["Source"], value_set=ids).to_numpy(zero_copy_only=False)
    b = pc.index_in(edges["Target"], value_set=ids).to_numpy(zero_copy_only=False)
    unknown = np.isnan(a.astype(np.float64)) | np.isnan(b.astype(np.float64))
    if unknown.any():
        raise EdgeListError(f"{int(unknown.sum())} edges name channels missing from the labels")
    a, b = a.astype(np.int64), b.astype(np.int64)
    keep = a != b
    lo, hi, weight = np.minimum(a, b)[keep], np.maximum(a, b)[keep], weight[keep]
    order = np.lexsort((-weight, hi, lo))  # per pair, the largest weight first
    lo, hi, weight = lo[order], hi[order], weight[order]
    first = np.ones(len(lo), dtype=bool)
    first[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lo, hi, weight = lo[first], hi[first], weight[first]
    n = len(ids)
    biggest = np.zeros(n)
    np.maximum.at(biggest, lo, weight)
    np.maximum.at(biggest, hi, weight)
    raw_ids = ids.to_pylist()
    numeric = all(NUMERIC_ID_RE.match(i) for i in raw_ids)
    channel_id = [int(i) for i in raw_ids] if numeric else list(range(1, n + 1))
    login = [
        i.lower() if LOGIN_RE.match(i.lower()) else f"channel_{c}"
        for i, c in zip(raw_ids, channel_id, strict=True)
    ]
    channels = pa.table(
        {
            "channel_id": pa.array(channel_id, pa.int64()),
            "login": pa.array(login, pa.string()),
            "chatters": pa.array(np.rint(count).astype(np.int64)),
            "self_weight": pa.array(np.maximum(count, biggest)),
            "display_name": labels["Label"],
        }
    )
    pairs = pa.table([lo.astype(np.int32), hi.astype(np.int32), weight], schema=PAIRS)
    return channels, pairs


def import_overlap(
    lake: Lake, day: str, edges_csv: bytes, labels_csv: bytes, row_group: int = 1 << 20
) -> dict:
    """Write the ``channels`` and ``pairs`` work files of ``day`` (and display names).

    Display names go to the lake as one hour of channel metadata for ``day``,
    so labels and maps show them. Returns counts for the summary.
    """
    import pyarrow.parquet as pq

    from vieweratlas.audience import drop_members
    from vieweratlas.schema import CHANNEL_METADATA

    channels, pairs = read_edge_list(edges_csv, labels_csv)
    drop_members(lake, keys.analysis_file(day, "members.parquet"))  # no chatters to count
    lake.write_parquet(
        keys.analysis_file(day, "channels.parquet"), channels.drop_columns(["display_name"])
    )
    with (
        lake.open_write(keys.analysis_file(day, "pairs.parquet")) as handle,
        pq.ParquetWriter(handle, PAIRS, **PAIRS_ENCODING) as out,
    ):
        out.write_table(pairs, row_group_size=row_group)
    at = datetime.fromisoformat(day).replace(tzinfo=UTC)
    n = channels.num_rows
    metadata = pa.table(
        {
            "observed_at": pa.array([at] * n, CHANNEL_METADATA.field("observed_at").type),
            "rank": pa.array(np.arange(1, n + 1), pa.int32()),
            "channel_id": channels["channel_id"],
            "login": channels["login"],
            "display_name": channels["display_name"],
        }
    )
    for field in CHANNEL_METADATA:
        if field.name not in metadata.column_names:
            metadata = metadata.append_column(field, pa.nulls(n, field.type))
    lake.write_parquet(keys.channels_hourly(day, 0), metadata.select(CHANNEL_METADATA.names))
    return {"channels": n, "channels_seen": n, "pairs": pairs.num_rows, "presence_rows": None}


def analyse_imported(
    lake: Lake, day: str, edges_csv: bytes, labels_csv: bytes, params: AnalysisParams
) -> dict:
    """Import, then backbone -> communities -> labels -> track -> publish; the summary dict."""
    from vieweratlas import pipeline
    from vieweratlas.history import track_step
    from vieweratlas.publish import publish_step

    params = replace(params, window_days=1)  # the edge list is one window
    steps: dict = {"presence": []}
    imported = import_overlap(lake, day, edges_csv, labels_csv)
    steps["overlap"] = {**imported, **pipeline.backbone_from_pairs(lake, day, params)}
    steps["communities"] = pipeline.communities_step(lake, day, params)
    steps["labels"] = pipeline.labels_step(lake, day, params)
    steps["track"] = track_step(lake, day, params)
    return publish_step(lake, day, params, steps)
