"""Arrow schemas: the single source of truth for every writer and reader.

The collector (live rows), the VOD downloader (VOD rows), the channel refresh
(channel metadata) and the analysis all import these; nothing redefines them.
Twitch user and channel ids are numeric, so they are stored as int64, which
keeps the analysis's factorisation and joins cheap.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

SOURCES = ("live", "vod")
TS = pa.timestamp("ms", tz="UTC")

PRESENCE = pa.schema(
    [
        pa.field("channel_id", pa.int64(), nullable=False),
        pa.field("channel_login", pa.string(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("user_login", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),  # "live" | "vod"
        pa.field("content_id", pa.string()),  # VOD id for vod rows, null for live
        pa.field("first_seen", TS, nullable=False),
        pa.field("last_seen", TS, nullable=False),
        pa.field("message_count", pa.int32(), nullable=False),
    ],
    metadata={"vieweratlas.schema": "presence/1"},
)
"""One chatter in one channel: an hour of live chat or one VOD's share of a day."""

DAILY_PRESENCE = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("channel_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("message_count", pa.int32(), nullable=False),
    ],
    metadata={"vieweratlas.schema": "daily_presence/1"},
)
"""The daily de-duplicated chatter list: one row per (channel, user, source) and day."""

CHANNEL_METADATA = pa.schema(
    [
        pa.field("observed_at", TS, nullable=False),  # the hour the list was taken
        pa.field("rank", pa.int32(), nullable=False),  # 1 = most viewers
        pa.field("channel_id", pa.int64(), nullable=False),
        pa.field("login", pa.string(), nullable=False),
        pa.field("display_name", pa.string()),
        pa.field("game_id", pa.string()),
        pa.field("game_name", pa.string()),
        pa.field("language", pa.string()),
        pa.field("viewer_count", pa.int64()),
        pa.field("started_at", TS),
        pa.field("title", pa.string()),
    ],
    metadata={"vieweratlas.schema": "channel_metadata/1"},
)
"""Per channel, per hour: what Helix Get Streams said about it."""

VOD_LEDGER = pa.schema(
    [
        pa.field("vod_id", pa.string(), nullable=False),
        pa.field("channel_id", pa.int64(), nullable=False),
        pa.field("channel_login", pa.string(), nullable=False),
        pa.field("created_at", TS, nullable=False),
        pa.field("status", pa.string(), nullable=False),
        pa.field("attempts", pa.int32(), nullable=False),
        pa.field("permanent", pa.bool_(), nullable=False),
        pa.field("exit_code", pa.int32()),
        pa.field("error", pa.string()),
        pa.field("discovered_at", TS, nullable=False),
        pa.field("updated_at", TS, nullable=False),
    ],
    metadata={"vieweratlas.schema": "vod_ledger/1"},
)
"""One row per VOD (``lake.VOD_LEDGER``): its download status, so none is fetched twice."""


class SchemaError(ValueError):
    """A table does not match the schema its dataset requires."""


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Select and cast ``table``'s columns to ``schema``; raise SchemaError if impossible."""
    missing = [name for name in schema.names if name not in table.column_names]
    if missing:
        raise SchemaError(f"missing columns {missing}; expected {schema.names}")
    try:
        return table.select(schema.names).cast(schema)
    except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as exc:
        raise SchemaError(f"cannot cast to {schema.metadata}: {exc}") from exc


def from_rows(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.Table:
    """Build a table of ``schema`` from a list of dicts (small data only)."""
    return pa.Table.from_pylist(rows, schema=schema)


# -- analysis outputs (overlap -> communities -> labels -> render) --------------------

GRAPH_NODES = pa.schema(
    [
        pa.field("channel_id", pa.int64(), nullable=False),
        pa.field("login", pa.string(), nullable=False),
        pa.field("display_name", pa.string()),
        pa.field("community", pa.int32(), nullable=False),
        pa.field("chatters", pa.int64(), nullable=False),  # unique chatters in the window
        pa.field("viewers", pa.int64()),  # mean viewer count in the window, if known
        pa.field("game", pa.string()),  # most-streamed game in the window, if known
        pa.field("language", pa.string()),
    ],
    metadata={"vieweratlas.schema": "graph_nodes/1"},
)
"""One row per channel in the graph; row i is node index i in GRAPH_EDGES."""

GRAPH_EDGES = pa.schema(
    [
        pa.field("src", pa.int32(), nullable=False),  # node index (row of GRAPH_NODES)
        pa.field("dst", pa.int32(), nullable=False),  # node index, always > src
        pa.field("weight", pa.float64(), nullable=False),  # shared users (or repeat weight)
        pa.field("score", pa.float64(), nullable=False),  # size-normalised overlap (cosine)
    ],
    metadata={"vieweratlas.schema": "graph_edges/1"},
)
"""The backbone: undirected edges kept between channels."""

COMMUNITIES = pa.schema(
    [
        pa.field("community", pa.int32(), nullable=False),  # 0 = largest
        pa.field("label", pa.string(), nullable=False),
        pa.field("channels", pa.int32(), nullable=False),
        pa.field("chatters", pa.int64(), nullable=False),  # sum of member channels' chatters
        pa.field("top_game", pa.string()),
        pa.field("top_language", pa.string()),
        pa.field("top_channels", pa.list_(pa.string())),  # biggest member logins
        pa.field("audience", pa.int64()),  # distinct chatters of the community in the window
    ],
    metadata={"vieweratlas.schema": "communities/1"},
)
"""One row per community, ordered by size."""

CHANNEL_NEIGHBORS = pa.schema(
    [
        pa.field("channel_id", pa.int64(), nullable=False),
        pa.field("login", pa.string(), nullable=False),
        pa.field("rank", pa.int16(), nullable=False),  # 1 = most shared
        pa.field("neighbor_id", pa.int64(), nullable=False),
        pa.field("neighbor_login", pa.string(), nullable=False),
        pa.field("shared", pa.float64(), nullable=False),  # shared chatters (or repeat weight)
        pa.field("share_of_channel", pa.float64(), nullable=False),  # shared / channel's own
        pa.field("share_of_neighbor", pa.float64(), nullable=False),  # shared / neighbour's own
        pa.field("neighbor_community", pa.int32(), nullable=False),
    ],
    metadata={"vieweratlas.schema": "channel_neighbors/1"},
)
"""Each channel's top 20 channels by shared audience (the full overlap, not the backbone)."""

# -- community tracking (the track step) ------------------------------------------------

TRACKING_FIELDS = (
    pa.field("community_uid", pa.string(), nullable=False),  # persistent, never reused
    pa.field("color_index", pa.int32(), nullable=False),  # palette index, kept while it persists
)
"""Columns the track step appends to COMMUNITIES (and ``community_uid`` to GRAPH_NODES)."""

EVENT_TYPES = ("birth", "death", "merge", "split", "grow", "shrink", "move")

COMMUNITY_EVENTS = pa.schema(
    [
        pa.field("date", pa.string(), nullable=False),
        pa.field("event", pa.string(), nullable=False),  # EVENT_TYPES
        pa.field("community_uid", pa.string(), nullable=False),  # the community it is about
        pa.field("label", pa.string()),  # today's label (the earlier one for deaths/splits)
        pa.field("from_uids", pa.list_(pa.string())),  # earlier communities involved
        pa.field("to_uids", pa.list_(pa.string())),  # today's communities involved
        pa.field("channel_id", pa.int64()),  # moves only
        pa.field("login", pa.string()),  # moves only
        pa.field("chatters_before", pa.int64()),
        pa.field("chatters_after", pa.int64()),
        pa.field("channels_before", pa.int32()),
        pa.field("channels_after", pa.int32()),
        pa.field("change", pa.float64()),  # audience after / before - 1, when both exist
    ],
    metadata={"vieweratlas.schema": "community_events/1"},
)
"""One row per community event or channel move of one day (``events.parquet``)."""
