"""channel_refresh run through Airflow against the fake Twitch, on file:// and s3://."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from helix_server import CLIENT_SECRET, stream
from tests.testkit import load_dag

from vieweratlas import lake as keys
from vieweratlas.channel_list import Channel, parse_channel_list, render_channel_list
from vieweratlas.schema import CHANNEL_METADATA

DAG_FILE = Path(__file__).parents[2] / "dags" / "channel_refresh.py"
RUN_AT = datetime(2026, 11, 21, 14, 0, tzinfo=UTC)


def task_states(run) -> dict[str, str]:
    return {ti.task_id: ti.state for ti in run.get_task_instances()}


def xcom_values(run) -> list:
    """Every XCom value the run stored."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=run.dag_id, run_id=run.run_id).all()
        return [row.value for row in rows]


def asset_events(name: str) -> int:
    """How many events the asset called ``name`` has received."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        query = session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        return query.filter(AssetModel.name == name).count()


def hostile_streams(count: int) -> list[dict]:
    streams = [stream(rank) for rank in range(1, count + 1)]
    streams[4] = stream(5, login="../../evil")  # hostile login: dropped
    streams[7] = stream(8, user_id="12; DROP")  # hostile id: dropped
    return streams


@pytest.mark.slow
def test_refresh_writes_hourly_metadata_and_current_list(
    airflow_db, lake, fake_twitch, clean_env, monkeypatch, capsys, caplog
):
    fake_twitch.streams = hostile_streams(230)
    fake_twitch.page_overlap = 2  # a stream repeats across pages
    monkeypatch.setenv("AIRFLOW_VAR_VIEWERATLAS_SETTINGS", '{"top_channels": 200}')

    events_before = asset_events("vieweratlas_channels_current")
    run = load_dag("channel_refresh", DAG_FILE).test(logical_date=RUN_AT)

    assert run.state == "success", task_states(run)
    assert asset_events("vieweratlas_channels_current") == events_before + 1
    hourly = lake.list(keys.channels_day_prefix(RUN_AT))
    assert len(hourly) == 1 and "/hour=" in hourly[0]
    table = lake.read_parquet(hourly[0])
    assert table.schema.equals(CHANNEL_METADATA, check_metadata=False)
    rows = table.to_pylist()
    assert len(rows) == 198  # 200 unique streams fetched, 2 hostile ones dropped
    assert [r["rank"] for r in rows] == list(range(1, 199))
    assert len({r["channel_id"] for r in rows}) == 198
    assert "../../evil" not in {r["login"] for r in rows}
    assert rows[0]["title"] == "stream 1 — 日本語" and rows[0]["game_name"] == "Just Chatting"
    assert rows[0]["started_at"] == datetime(2026, 11, 21, 20, tzinfo=UTC)

    current = parse_channel_list(lake.read_bytes(keys.CHANNELS_CURRENT))
    assert current.source == "helix" and current.rejected == 0
    assert current.logins[:2] == ["chan_1", "chan_2"] and len(current.channels) == 198
    assert len(fake_twitch.seen("/oauth2/token")) == 1
    # the token and the secret stay out of the task's logs and its XCom result
    printed = capsys.readouterr()
    texts = [printed.out, printed.err, caplog.text, str(xcom_values(run))]
    assert "Fetched a new Twitch app access token" in printed.out + caplog.text
    for secret in [fake_twitch.tokens[0], CLIENT_SECRET]:
        assert not [text for text in texts if secret in text]


@pytest.mark.slow
def test_a_shrunken_list_keeps_the_previous_one(
    airflow_db, lake, fake_twitch, clean_env, monkeypatch
):
    previous = render_channel_list(
        [Channel(rank=i, login=f"old_{i}", id=str(5000 + i)) for i in range(1, 101)],
        datetime(2026, 11, 21, 13, tzinfo=UTC),
    )
    lake.write_bytes(keys.CHANNELS_CURRENT, previous)
    fake_twitch.streams = [stream(rank) for rank in range(1, 31)]  # 30 < 50% of 100

    run = load_dag("channel_refresh", DAG_FILE).test(logical_date=RUN_AT)

    assert run.state == "failed"
    (ti,) = run.get_task_instances()
    assert ti.state == "failed" and ti.try_number == 1  # failed for good: no retries
    assert lake.read_bytes(keys.CHANNELS_CURRENT) == previous
    assert len(fake_twitch.seen("/helix/streams")) == 1
    # what Twitch did return is still recorded for the hour (written before the check)
    (hourly,) = lake.list(keys.channels_day_prefix(RUN_AT))
    assert lake.read_parquet(hourly).column("login").to_pylist()[:2] == ["chan_1", "chan_2"]
    assert lake.read_parquet(hourly).num_rows == 30
