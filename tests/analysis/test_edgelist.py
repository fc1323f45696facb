"""Bring your own overlap: the Gephi CSVs -> work files -> every output (real Twitch graph)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from vieweratlas import lake as keys
from vieweratlas.edgelist import EdgeListError, read_edge_list
from vieweratlas.storage import Lake

ROOT = Path(__file__).resolve().parents[2]
ATLAS = ROOT / "tests" / "data" / "twitch-atlas-2021-10"


def test_edge_list_rules_by_hand():
    labels = b"ID,Label,Count\nAlpha,Alpha,10\nbeta,Beta,0\n123bad!,X,5\n"
    edges = b"Source,Target,Weight\nAlpha,beta,3\nbeta,Alpha,4\nAlpha,Alpha,9\nbeta,123bad!,2\n"
    channels, pairs = read_edge_list(edges, labels)
    assert channels["channel_id"].to_pylist() == [1, 2, 3]
    assert channels["login"].to_pylist() == ["alpha", "beta", "channel_3"]
    # beta's Count 0 is raised to its largest shared weight (4): cosines stay <= 1
    assert channels["self_weight"].to_pylist() == [10.0, 4.0, 5.0]
    assert pairs.to_pylist() == [
        {"src": 0, "dst": 1, "weight": 4.0},  # listed twice: the largest weight
        {"src": 1, "dst": 2, "weight": 2.0},  # the self-pair is dropped
    ]
    with pytest.raises(EdgeListError, match="missing from the labels"):
        read_edge_list(b"Source,Target,Weight\nAlpha,nobody,3\n", labels)
    with pytest.raises(EdgeListError, match="Weight"):
        read_edge_list(b"Source,Target,Weight\nAlpha,beta,-1\n", labels)
    with pytest.raises(EdgeListError, match="columns"):
        read_edge_list(b"a,b\n1,2\n", labels)


def _script():
    spec = importlib.util.spec_from_file_location(
        "import_overlap", ROOT / "scripts/import_overlap.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_renders_every_output_from_the_real_graph(tmp_path, capsys):
    lake = Lake(tmp_path.as_uri())
    day = "2021-10-05"
    args = [str(ATLAS / "edges.csv"), str(ATLAS / "labels.csv"), "--out", lake.url("")]
    assert _script().main([*args, "--date", day]) == 0
    summary = lake.read_json(keys.analysis_latest("summary.json"))
    assert summary["counts"]["channels"] == 2200
    assert summary["counts"]["pairs_with_overlap"] == 82275
    assert summary["counts"]["communities"] >= 10
    for name in keys.ANALYSIS_OUTPUTS:
        assert lake.read_bytes(keys.analysis_latest(name)), name
    assert b"ibai" in lake.read_bytes(keys.analysis_latest("map.html"))
    near = lake.read_parquet(keys.analysis_latest("channel_neighbors.parquet"))
    ibai = near.filter(np.array(near["login"].to_pylist()) == "ibai").to_pylist()
    # the three largest weights next to ibai in edges.csv, by hand
    assert [(r["neighbor_login"], r["shared"]) for r in ibai[:3]] == [
        ("auronplay", 349726),
        ("thegrefg", 194663),
        ("juansguarnizo", 175713),
    ]
    assert [r["rank"] for r in ibai] == list(range(1, 21))
    labels = lake.read_parquet(keys.analysis_latest("graph_nodes.parquet"))
    assert "TheGrefg" in labels["display_name"].to_pylist()
    communities = lake.read_parquet(keys.analysis_latest("communities.parquet"))
    assert communities["audience"].null_count == communities.num_rows  # no chatters: unknown
