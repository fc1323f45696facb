"""Published analysis outputs for the plugin tests, made by the real publish step."""

from __future__ import annotations

from scripts.bench_maps import planted_graph

from vieweratlas import lake as keys
from vieweratlas.params import AnalysisParams
from vieweratlas.publish import publish_step
from vieweratlas.storage import Lake


def publish_day(lake: Lake, day: str, channels: int = 300, seed: int = 1) -> dict:
    """Write a planted graph's work files for ``day`` and run ``publish_step``; its summary."""
    nodes, edges, communities = planted_graph(n=channels, m=channels * 6, n_comm=8, seed=seed)
    lake.write_parquet(keys.analysis_file(day, "graph_nodes.parquet"), nodes)
    lake.write_parquet(keys.analysis_file(day, "edges.parquet"), edges)
    lake.write_parquet(keys.analysis_file(day, "communities.parquet"), communities)
    params = AnalysisParams(window_days=1, seed=seed)
    steps = {"communities": {"modularity": 0.61}}
    return publish_step(lake, day, params, steps)
