"""The real Twitch overlap graph in ``tests/data/twitch-atlas-2021-10`` as map inputs.

Data: Twitch Atlas (KiranGershenfeld/VisualizingTwitchCommunities, MIT licence,
see that folder's README and LICENSE). ``Weight`` is shared viewers, ``Count`` a
channel's own viewers; the backbone keeps each channel's ``top_k`` pairs by
cosine, as the pipeline does on presence data. Used by the benchmarks and tests.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from vieweratlas.schema import GRAPH_EDGES, GRAPH_NODES

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "twitch-atlas-2021-10"


@dataclass
class RealGraph:
    """Channels (login, own viewers) and every listed pair (src < dst, shared, cosine)."""

    logins: list[str]
    own: np.ndarray
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    score: np.ndarray

    def backbone(self, top_k: int = 10) -> pa.Table:
        """``GRAPH_EDGES`` rows: the union of each channel's ``top_k`` pairs by cosine."""
        ends = np.r_[self.src, self.dst]
        pair = np.r_[np.arange(len(self.src)), np.arange(len(self.src))]
        order = np.lexsort((pair, -self.score[pair], ends))
        first = np.searchsorted(ends[order], ends[order])
        rank = np.arange(len(order)) - first
        keep = np.unique(pair[order][rank < top_k])
        return edges_table(self.src[keep], self.dst[keep], self.weight[keep], self.score[keep])

    def nodes(self, community: np.ndarray) -> pa.Table:
        """``GRAPH_NODES`` (no game/language metadata: the data has none)."""
        n = len(self.logins)
        return pa.table(
            {
                "channel_id": np.arange(n, dtype=np.int64),
                "login": self.logins,
                "display_name": self.logins,
                "community": np.asarray(community, dtype=np.int32),
                "chatters": self.own.astype(np.int64),
                "viewers": pa.nulls(n, pa.int64()),
                "game": pa.nulls(n, pa.string()),
                "language": pa.nulls(n, pa.string()),
            },
            schema=GRAPH_NODES,
        )


def edges_table(src, dst, weight, score) -> pa.Table:
    return pa.table(
        {
            "src": np.asarray(src, np.int32),
            "dst": np.asarray(dst, np.int32),
            "weight": np.asarray(weight, np.float64),
            "score": np.asarray(score, np.float64),
        },
        schema=GRAPH_EDGES,
    )


def load(folder: Path = DATA) -> RealGraph:
    """Read ``labels.csv`` and ``edges.csv`` (pairs deduplicated, self-pairs dropped)."""
    labels = pacsv.read_csv(folder / "labels.csv")
    edges = pacsv.read_csv(folder / "edges.csv")
    logins = [str(x) for x in labels["ID"].to_pylist()]
    index = {login: i for i, login in enumerate(logins)}
    own = np.asarray(labels["Count"].to_numpy(zero_copy_only=False), np.float64)
    a = np.array([index[str(x)] for x in edges["Source"].to_pylist()], np.int64)
    b = np.array([index[str(x)] for x in edges["Target"].to_pylist()], np.int64)
    w = np.asarray(edges["Weight"].to_numpy(zero_copy_only=False), np.float64)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    key, first = np.unique(lo[keep] * len(logins) + hi[keep], return_index=True)
    lo, hi, w = key // len(logins), key % len(logins), w[keep][first]
    own = np.maximum(own, 1.0)
    score = w / np.sqrt(own[lo] * own[hi])
    return RealGraph(logins, own, lo.astype(np.int32), hi.astype(np.int32), w, score)
