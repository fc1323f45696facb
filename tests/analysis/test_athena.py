"""The athena overlap engine: its SQL on DuckDB equals the local engine; the call path on moto.

moto's Athena accepts queries and reports them SUCCEEDED but runs no SQL and
writes no UNLOAD output, and it does not check Glue tables, partition
projection, workgroup limits or encryption. So the SQL itself is checked on
DuckDB, and in the end-to-end test an Athena stand-in (the provider's hook
talking to moto, plus DuckDB running the very query moto received) writes
what UNLOAD would.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pyarrow as pa
import pytest

from vieweratlas import athena, pipeline
from vieweratlas import lake as keys
from vieweratlas.params import AnalysisParams
from vieweratlas.synthetic import SyntheticSpec, generate, write_daily_presence

duckdb = pytest.importorskip("duckdb")
DAY = "2026-03-04"
SPEC = SyntheticSpec(channels=50, users=3_000, communities=4, days=4, lurkers=3, seed=4)


def duck(lake, days):
    """DuckDB with ``daily_presence`` holding the window's presence files (+ a day outside)."""
    con = duckdb.connect()
    tables = [
        lake.read_parquet(keys.daily_presence(d))
        for d in days
        if lake.exists(keys.daily_presence(d))
    ]
    con.register(athena.PRESENCE_TABLE, pa.concat_tables(tables))
    return con


def local_result(lake, params):
    channels = lake.read_parquet(keys.analysis_file(DAY, "channels.parquet"))
    pairs = lake.read_parquet(keys.analysis_file(DAY, "pairs.parquet"))
    return channels, pairs


@pytest.mark.parametrize("weighting", ["unique", "repeat"])
def test_sql_on_duckdb_equals_local_engine(weighting, tmp_path):
    from vieweratlas.storage import Lake

    lake = Lake(tmp_path.as_uri())
    write_daily_presence(lake, generate(SPEC), date(2026, 3, 5))  # 03-02 .. 03-05
    params = AnalysisParams(window_days=3, weighting=weighting, min_chatters=5, min_shared=2)
    pipeline.overlap_step(lake, DAY, params)  # window 03-02 .. 03-04: 03-05 must be left out
    channels, pairs = local_result(lake, params)
    days = pipeline.window(DAY, 3)
    _, known, _ = pipeline.read_window_meta(lake, days)
    assert len(known) > 0
    con = duck(lake, [*days, "2026-03-05"])
    got = con.sql(athena.render("channels", "daily_presence", days, params, known)).to_arrow_table()
    got = got.sort_by("channel_id")
    assert got["channel_id"].to_pylist() == channels["channel_id"].to_pylist()
    assert got["chatters"].to_pylist() == channels["chatters"].to_pylist()
    assert got["self_weight"].to_pylist() == channels["self_weight"].to_pylist()
    sql_pairs = con.sql(
        athena.render("pairs", "daily_presence", days, params, known)
    ).to_arrow_table()
    ids = channels["channel_id"].to_numpy()
    mine = {
        (int(ids[s]), int(ids[d])): w
        for s, d, w in zip(*(pairs[c].to_pylist() for c in ("src", "dst", "weight")), strict=True)
    }
    theirs = {
        (s, d): w
        for s, d, w in zip(
            *(sql_pairs[c].to_pylist() for c in ("src_id", "dst_id", "weight")), strict=True
        )
    }
    assert len(mine) > 100
    assert theirs == mine


def test_render_refuses_unsafe_values():
    with pytest.raises(ValueError):
        athena.render("pairs", "x; DROP TABLE y", ["2026-03-01"], AnalysisParams(), np.array([1]))
    with pytest.raises(ValueError):
        athena.render(
            "pairs", "daily_presence", ["2026-03-01' OR '1"], AnalysisParams(), np.array([])
        )
    with pytest.raises(ValueError):
        athena.unload("SELECT 1", "s3://b/x' --")
    with pytest.raises(ValueError, match="not a statement"):  # the fragment is not a query
        athena.render("clean", "daily_presence", ["2026-03-01"], AnalysisParams(), np.array([]))


class DuckAthena:
    """Athena as the tests can have it: the provider's hook on moto, DuckDB for the SQL."""

    def __init__(self, lake, days):
        from airflow.providers.amazon.aws.hooks.athena import AthenaHook

        self.hook = AthenaHook(aws_conn_id="aws_default")
        self.lake, self.con = lake, duck(lake, days)
        self.queries: list[str] = []

    def run_query(self, query, query_context, result_configuration, workgroup="primary"):
        query_id = self.hook.run_query(
            query, query_context, result_configuration, workgroup=workgroup
        )
        self.queries.append(query_id)
        sent = self.hook.get_query_info(query_id)["QueryExecution"]["Query"]
        inner, target = re.fullmatch(
            r"UNLOAD \((.*)\) TO '([^']+)' WITH \(.*\)", sent, re.S
        ).groups()
        result = self.con.sql(inner).to_arrow_table()
        self.lake.write_parquet(self.lake.key_of(target).rstrip("/") + "/part-0.parquet", result)
        return query_id

    def poll_query_status(self, query_id, sleep_time=None):
        return self.hook.poll_query_status(query_id, sleep_time=1)

    def get_state_change_reason(self, query_id):
        return self.hook.get_state_change_reason(query_id)


@pytest.mark.parametrize("data_root", ["s3"], indirect=True)
def test_athena_engine_end_to_end_on_moto(lake, monkeypatch):
    import boto3

    write_daily_presence(lake, generate(SPEC), date(2026, 3, 4))
    params = AnalysisParams(window_days=3, min_chatters=5, top_k=4)
    local = pipeline.overlap_step(lake, DAY, params)
    files = ("channels.parquet", "pairs.parquet", "edges.parquet", "neighbors.parquet")
    expected = {n: lake.read_parquet(keys.analysis_file(DAY, n)) for n in files}
    members = keys.analysis_file(DAY, "members.parquet")
    assert lake.exists(members)  # the local engine's; Athena leaves labels to presence
    for name in files:
        lake.delete([keys.analysis_file(DAY, name)])

    client = boto3.client("athena", region_name="us-east-1")
    client.create_work_group(Name="wg1", Configuration={"BytesScannedCutoffPerQuery": 10**10})
    stand_in = DuckAthena(lake, pipeline.window(DAY, 3))
    monkeypatch.setattr(
        "airflow.providers.amazon.aws.hooks.athena.AthenaHook", lambda aws_conn_id: stand_in
    )
    from vieweratlas.settings import load_settings

    settings = load_settings(
        {"VIEWERATLAS_OVERLAP_ENGINE": "athena", "VIEWERATLAS_ATHENA_WORKGROUP": "wg1"}
    )
    found = pipeline.overlap_step(lake, DAY, params, settings)
    assert found["engine"] == "athena"
    assert not lake.exists(members)  # a stale members file would count another window
    for name in athena.STATEMENTS:  # the unloaded parts are gone once converted
        assert lake.list(athena.athena_prefix(DAY, name)) == []
    assert (found["pairs"], found["edges"]) == (local["pairs"], local["edges"])
    for name in files:
        got = lake.read_parquet(keys.analysis_file(DAY, name)).select(expected[name].column_names)
        if name == "pairs.parquet":  # SQL gives no row order
            got = got.sort_by([("src", "ascending"), ("dst", "ascending")])
        assert got.equals(expected[name]), name
    sent = [
        client.get_query_execution(QueryExecutionId=q)["QueryExecution"] for q in stand_in.queries
    ]
    assert [q["WorkGroup"] for q in sent] == ["wg1", "wg1"]
    assert all(q["QueryExecutionContext"]["Database"] == "vieweratlas" for q in sent)
    assert all(q["Query"].startswith("UNLOAD (") and lake.url("") in q["Query"] for q in sent)
