"""Labels: channel metadata over the window, the node table, and a name per community.

Per channel, the window's hourly metadata gives the mean viewer count and the
most-observed game and language. A community is named after the game and
language that hold the largest share of its viewers (channels without a known
viewer count weigh by chatters instead), e.g. ``Just Chatting · Spanish``;
a game under 40% of the community's weight becomes ``Mixed games``, a language
under 60% is left out. Every label ends with the community's biggest channels
by display name (``LABEL_CHANNELS``), e.g. ``Just Chatting · Spanish: Ibai,
elrubius, auronplay``, so a community without metadata still reads as the
channels people know. Equal labels get their biggest channel appended.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vieweratlas import lake as keys
from vieweratlas.schema import CHANNEL_METADATA, COMMUNITIES, GRAPH_NODES, SchemaError, conform
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)

GAME_SHARE = 0.4
LANGUAGE_SHARE = 0.6
TOP_CHANNELS = 5
LABEL_CHANNELS = 3
LANGUAGES = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "de": "German", "fr": "French",
    "ja": "Japanese", "ko": "Korean", "ru": "Russian", "it": "Italian", "pl": "Polish",
    "tr": "Turkish", "zh": "Chinese", "ar": "Arabic", "nl": "Dutch", "sv": "Swedish",
    "uk": "Ukrainian", "cs": "Czech", "th": "Thai", "other": "Other languages",
}  # fmt: skip
READERS = 4  # metadata files read at once
METADATA_COLUMNS = ["channel_id", "login", "display_name", "game_name", "language", "viewer_count"]


def read_metadata(lake: Lake, days: Iterable[str]) -> tuple[pa.Table, list[str]]:
    """The window's hourly channel metadata, and the files that could not be read.

    Files are read by ``READERS`` threads (reads and decoding release the GIL; on
    S3 each file is a round trip), then concatenated in key order.
    """
    from concurrent.futures import ThreadPoolExecutor

    wanted = pa.schema([CHANNEL_METADATA.field(name) for name in METADATA_COLUMNS])
    files = [
        key
        for day in days
        for key in lake.list(keys.channels_day_prefix(day))
        if key.endswith(".parquet")
    ]

    def read(key: str) -> pa.Table | None:
        try:
            return conform(lake.read_parquet(key, columns=METADATA_COLUMNS), wanted)
        except (OSError, pa.ArrowException, SchemaError, ValueError) as exc:
            log.warning("Skipping unreadable channel metadata %s: %s", key, exc)
            return None

    with ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="metadata") as pool:
        found = list(pool.map(read, files))
    tables = [table for table in found if table is not None]
    bad = [key for key, table in zip(files, found, strict=True) if table is None]
    return (pa.concat_tables(tables) if tables else wanted.empty_table()), bad


def _mode(table: pa.Table, column: str) -> pa.Table:
    """Per channel, the most frequent non-null value of ``column`` (ties: smallest)."""
    valid = table.filter(pc.is_valid(table[column]))
    counts = valid.group_by(["channel_id", column]).aggregate([([], "count_all")])
    counts = counts.sort_by(
        [("channel_id", "ascending"), ("count_all", "descending"), (column, "ascending")]
    )
    ids = counts["channel_id"].to_numpy()
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    return counts.filter(pa.array(first)).select(["channel_id", column])


def summarize_metadata(metadata: pa.Table) -> pa.Table:
    """One row per channel: login, display_name, viewers (mean), game and language (mode)."""
    names = metadata.group_by("channel_id").aggregate(
        [("login", "max"), ("display_name", "max"), ("viewer_count", "mean")]
    )
    out = names.rename_columns(["channel_id", "login", "display_name", "viewers"])
    for column, alias in (("game_name", "game"), ("language", "language")):
        out = out.join(_mode(metadata, column), "channel_id", join_type="left outer")
        out = out.rename_columns([alias if c == column else c for c in out.column_names])
    return out.sort_by("channel_id")


def node_table(
    channel_ids: np.ndarray,
    logins: dict[str, str],
    chatters: np.ndarray,
    membership: np.ndarray,
    metadata: pa.Table,
) -> pa.Table:
    """``GRAPH_NODES``: row i is channel ``channel_ids[i]``; metadata fills what it knows."""
    base = pa.table(
        {
            "channel_id": pa.array(channel_ids, pa.int64()),
            "row": pa.array(np.arange(len(channel_ids)), pa.int64()),
        }
    )
    joined = base.join(summarize_metadata(metadata), "channel_id", join_type="left outer")
    joined = joined.sort_by("row")
    fallback = [logins.get(str(c), str(c)) for c in channel_ids.tolist()]
    login = pc.coalesce(joined["login"], pa.array(fallback, pa.string()))
    viewers = pc.cast(pc.round(joined["viewers"]), pa.int64())
    return pa.table(
        {
            "channel_id": joined["channel_id"],
            "login": login,
            "display_name": pc.coalesce(joined["display_name"], login),
            "community": pa.array(membership, pa.int32()),
            "chatters": pa.array(chatters, pa.int64()),
            "viewers": viewers,
            "game": joined["game"],
            "language": joined["language"],
        },
        schema=GRAPH_NODES,
    )


def _dominant(values: list, weights: np.ndarray) -> tuple[str | None, float]:
    """The value with the largest weight share among non-null values, and its share."""
    totals: dict[str, float] = {}
    for value, weight in zip(values, weights.tolist(), strict=True):
        if value:
            totals[value] = totals.get(value, 0.0) + weight
    total = float(weights.sum())
    if not totals or total <= 0:
        return None, 0.0
    best = min(totals, key=lambda v: (-totals[v], v))
    return best, totals[best] / total


def language_name(code: str) -> str:
    """A readable name for a Twitch language code."""
    return LANGUAGES.get(code.lower(), code.upper())


def community_table(nodes: pa.Table) -> pa.Table:
    """``COMMUNITIES``: one labelled row per community, 0 = largest."""
    membership = nodes["community"].to_numpy()
    chatters = nodes["chatters"].to_numpy()
    viewers = nodes["viewers"].to_numpy(zero_copy_only=False)
    games, langs = nodes["game"].to_pylist(), nodes["language"].to_pylist()
    logins = nodes["login"].to_pylist()
    names = nodes["display_name"].to_pylist()
    rows: list[dict[str, Any]] = []
    for community in range(int(membership.max()) + 1 if len(membership) else 0):
        members = np.flatnonzero(membership == community)
        known = ~np.isnan(viewers[members].astype(np.float64))
        weights = np.where(known, np.nan_to_num(viewers[members].astype(np.float64)), 0.0)
        if not known.any():
            weights = chatters[members].astype(np.float64)
        game, game_share = _dominant([games[i] for i in members], weights)
        lang, lang_share = _dominant([langs[i] for i in members], weights)
        parts = []
        if game is not None:
            parts.append(game if game_share >= GAME_SHARE else "Mixed games")
        if lang is not None and lang_share >= LANGUAGE_SHARE:
            parts.append(language_name(lang))
        biggest = members[np.lexsort((members, -chatters[members]))][:TOP_CHANNELS]
        known = ", ".join(names[i] or logins[i] for i in biggest[:LABEL_CHANNELS])
        head = " · ".join(parts)
        rows.append(
            {
                "community": community,
                "label": f"{head}: {known}" if head else known or f"Community {community}",
                "channels": len(members),
                "chatters": int(chatters[members].sum()),
                "top_game": game,
                "top_language": lang,
                "top_channels": [logins[i] for i in biggest],
            }
        )
    seen: dict[str, int] = {}
    for row in rows:
        seen[row["label"]] = seen.get(row["label"], 0) + 1
    for row in rows:
        if seen[row["label"]] > 1 and row["top_channels"]:
            row["label"] = f"{row['label']} ({row['top_channels'][0]})"
    return pa.Table.from_pylist(rows, schema=COMMUNITIES)
