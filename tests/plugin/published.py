"""Published analysis outputs for the plugin tests, made by the real publish step."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc
from scripts.bench_maps import planted_graph

from vieweratlas import lake as keys
from vieweratlas.params import AnalysisParams
from vieweratlas.pipeline import backbone_from_pairs
from vieweratlas.publish import publish_step
from vieweratlas.storage import Lake


def publish_day(lake: Lake, day: str, channels: int = 300, seed: int = 1) -> dict:
    """Write a planted graph's work files for ``day`` and run ``publish_step``; its summary."""
    nodes, edges, communities = planted_graph(n=channels, m=channels * 6, n_comm=8, seed=seed)
    lake.write_parquet(keys.analysis_file(day, "graph_nodes.parquet"), nodes)
    lake.write_parquet(keys.analysis_file(day, "communities.parquet"), communities)
    # The overlap step's work files, as the local engine writes them: every planted
    # edge is a pair; the backbone and each channel's neighbours come from them.
    chatters = pc.cast(nodes["chatters"], pa.float64())
    work = {
        "channels.parquet": pa.table(
            {
                "channel_id": nodes["channel_id"],
                "login": nodes["login"],
                "chatters": nodes["chatters"],
                "self_weight": chatters,
            }
        ),
        "pairs.parquet": edges.select(["src", "dst", "weight"]),
    }
    for name, table in work.items():
        lake.write_parquet(keys.analysis_file(day, name), table)
    params = AnalysisParams(window_days=1, seed=seed, top_k=channels)
    backbone_from_pairs(lake, day, params)
    steps = {"communities": {"modularity": 0.61}}
    return publish_step(lake, day, params, steps)
