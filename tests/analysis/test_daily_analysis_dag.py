"""The real daily_analysis DAG through Airflow (dag.test) on file:// and s3:// (moto server)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from tests.analysis.conftest import presence_table

from vieweratlas import lake as keys
from vieweratlas.synthetic import SyntheticSpec, generate, write_snapshots

LOGICAL = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
DAY = "2026-03-02"
CONF = {"window_days": 2, "min_chatters": 5, "top_k": 5}
HOSTILE = "<script>alert(1)</script>"
SPEC = SyntheticSpec(channels=40, users=2_500, communities=4, days=2, lurkers=2, seed=11)


def _seed_lake(lake) -> None:
    write_snapshots(lake, generate(SPEC), date(2026, 3, 2), hours=2)
    # A channel whose (untrusted) login is markup, sharing chatters with real channels.
    rows = [(77, HOSTILE, 500_000_000 + u, f"user{u}", "live") for u in range(40)]
    lake.write_parquet(keys.raw_live_snapshot(DAY, 5, "hostile"), presence_table(rows, DAY))


def _states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


@pytest.mark.slow
def test_dag_publishes_and_rerun_is_identical(load_dag, data_root, lake):
    _seed_lake(lake)
    dag = load_dag("daily_analysis")
    # file:// runs the defaults, s3:// the other weighting and algorithm
    conf = CONF | ({"weighting": "repeat", "algorithm": "louvain"} if data_root[:2] == "s3" else {})
    run = dag.test(logical_date=LOGICAL, run_conf=conf)
    assert str(run.state) == "success", _states(run)

    summary = lake.read_json(keys.analysis_latest("summary.json"))
    assert summary["date"] == DAY
    assert summary["params"]["window_days"] == 2
    assert summary["params"]["weighting"] == conf.get("weighting", "unique")
    assert summary["counts"]["channels"] == 41
    assert summary["counts"]["communities"] >= 3
    assert summary["bots"]["known_accounts"] >= 1
    assert summary["bots"]["heuristic_accounts"] >= 2
    assert [d["status"] for d in summary["inputs"]["days"]] == ["built", "built"]
    assert {"read", "overlap", "communities", "labels", "layout", "png", "html"} <= set(
        summary["seconds"]
    )
    for name in keys.ANALYSIS_OUTPUTS:
        assert lake.read_bytes(keys.analysis_file(DAY, name)) == lake.read_bytes(
            keys.analysis_latest(name)
        ), name
    assert lake.read_bytes(keys.analysis_file(DAY, "map.png")).startswith(b"\x89PNG")
    communities = lake.read_parquet(keys.analysis_file(DAY, "communities.parquet"))
    audience, chatters = communities["audience"].to_numpy(), communities["chatters"].to_numpy()
    assert ((audience > 0) & (audience <= chatters)).all()  # distinct chatters <= summed
    assert lake.read_bytes(keys.analysis_file(DAY, "nodes.csv")).startswith(b'"Id","Label"')

    page = lake.read_bytes(keys.analysis_latest("map.html")).decode()
    assert HOSTILE not in page
    assert "alert(1)" in page  # present, but only as escaped text
    nodes = lake.read_parquet(keys.analysis_latest("graph_nodes.parquet"))
    assert HOSTILE in nodes["login"].to_pylist()
    # tracked: the first analysed day starts the ids; the timeline escapes logins too
    assert summary["tracking"]["previous_day"] is None
    assert summary["tracking"]["communities"] == summary["counts"]["communities"]
    assert len(set(nodes["community_uid"].to_pylist())) == summary["counts"]["communities"]
    timeline = lake.read_bytes(keys.analysis_latest("timeline.html")).decode()
    assert HOSTILE not in timeline and "Content-Security-Policy" in timeline

    first = {n: lake.read_bytes(keys.analysis_file(DAY, n)) for n in ("edges.csv", "nodes.csv")}
    first["communities"] = lake.read_bytes(keys.analysis_file(DAY, "communities.parquet"))
    again = dag.test(logical_date=LOGICAL, run_conf=conf)
    assert str(again.state) == "success", _states(again)
    assert (
        lake.read_json(keys.analysis_latest("summary.json"))["inputs"]["days"][0]["status"]
        == "reused"
    )
    assert first["edges.csv"] == lake.read_bytes(keys.analysis_file(DAY, "edges.csv"))
    assert first["nodes.csv"] == lake.read_bytes(keys.analysis_file(DAY, "nodes.csv"))
    assert first["communities"] == lake.read_bytes(keys.analysis_file(DAY, "communities.parquet"))


@pytest.mark.slow
@pytest.mark.parametrize("data_root", ["file"], indirect=True)
def test_dag_fails_fast_on_corrupt_inputs(load_dag, lake):
    _seed_lake(lake)
    for hour in range(6, 12):
        lake.write_bytes(keys.raw_live_snapshot(DAY, hour, "broken"), b"not parquet at all")
    started = datetime.now(UTC)
    run = load_dag("daily_analysis").test(logical_date=LOGICAL, run_conf=CONF)
    assert str(run.state) == "failed"
    failed = [ti for ti in run.get_task_instances() if str(ti.state) == "failed"]
    assert [ti.task_id for ti in failed] == ["daily_presence"]
    assert failed[0].try_number == 1  # not retried: bad input is not transient
    assert (datetime.now(UTC) - started).total_seconds() < 50
    assert not lake.exists(keys.analysis_latest("summary.json"))
