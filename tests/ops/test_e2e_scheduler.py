"""End to end against Airflow's own components: trigger, backfill, tracking, SNS alert.

A user's view of a deployment: the real ``daily_analysis`` DAG file, backfilled
over five days through the REST API as the UI's Backfill form does (runs in parallel, community
tracking in date order), triggered through the public REST API with non-default
params, one day's tracking re-run from the API, and a run that fails on purpose whose alert
must reach the SNS topic (read back through an SQS subscription on the moto
server). The stack is api-server + scheduler (LocalExecutor) + dag-processor on
SQLite in a temporary home; see ``airflow_stack.py``.
"""

from __future__ import annotations

import itertools
import json
import shutil
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from tests.ops.airflow_stack import AirflowStack
from tests.testkit import aws_connection, free_port

from vieweratlas.lake import analysis_prefix

ROOT = Path(__file__).resolve().parents[2]
DAG_ID = "daily_analysis"
FAIL_DAG_ID = "e2e_fail_on_purpose"
TODAY = datetime.now(UTC).date()
BACKFILL_DAYS = [TODAY - timedelta(days=d) for d in (6, 5, 4, 3, 2)]
TRIGGER_DAY = TODAY - timedelta(days=1)  # after the backfill: tracked against its last day
SEED_DAYS = 12  # input covers every window the runs above (and a scheduled run) can ask for

# Non-default params a user would set in the trigger form (see vieweratlas.params).
TRIGGER_CONF = {"window_days": 2, "algorithm": "louvain", "seed": 7, "top_k": 5}
# Backfills take the DAG's defaults except a short window, to keep CI fast.
BACKFILL_CONF = {"window_days": 2}

FAIL_DAG = '''
"""Test-only DAG: fails on purpose so the e2e test can watch the alert arrive."""

from airflow.sdk import dag, task
from airflow.sdk.exceptions import AirflowFailException

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE


@dag(schedule=None, start_date=START_DATE, catchup=False, default_args=DEFAULT_ARGS,
     tags=["e2e"], doc_md="Fails on purpose, for the end-to-end test only.")
def e2e_fail_on_purpose():
    @task
    def explode():
        raise AirflowFailException("planted failure {{ conn.aws_default.password }}\\nline two")

    explode()


e2e_fail_on_purpose()
'''


def seed_inputs(data_dir: Path, last_day: date) -> None:
    """A small synthetic lake (the analysis engineer's generator) ending on ``last_day``."""
    from vieweratlas import synthetic
    from vieweratlas.storage import Lake

    spec = synthetic.SyntheticSpec(channels=40, users=1500, communities=4, days=SEED_DAYS)
    synthetic.write_snapshots(Lake(data_dir.as_uri()), synthetic.generate(spec), last_day, hours=2)


def summary_of(data_dir: Path, day: date) -> dict:
    """The ``summary.json`` the analysis wrote for one logical date."""
    from vieweratlas.lake import analysis_prefix

    path = data_dir / analysis_prefix(day) / "summary.json"
    assert path.is_file(), f"no analysis outputs for {day}: {sorted(path.parent.glob('*'))}"
    return json.loads(path.read_text())


def community_uids(data_dir: Path, day: date) -> dict[int, str]:
    """Channel id -> persistent community id the tracking gave it on one day."""
    import pyarrow.parquet as pq

    from vieweratlas.lake import analysis_prefix

    nodes = pq.read_table(data_dir / analysis_prefix(day) / "graph_nodes.parquet")
    return dict(
        zip(nodes["channel_id"].to_pylist(), nodes["community_uid"].to_pylist(), strict=True)
    )


@pytest.fixture
def stack(tmp_path, moto_server):
    """A running deployment; stopped (every process) whatever happens in the test."""
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "dags" / f"{DAG_ID}.py", dags)
    (dags / f"{FAIL_DAG_ID}.py").write_text(FAIL_DAG)
    data = tmp_path / "data"
    port = free_port()
    env = {
        "VIEWERATLAS_DATA_ROOT": data.as_uri(),
        "VIEWERATLAS_SNS_TOPIC_ARN": moto_server.topic_arn,
        "VIEWERATLAS_LOG_BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection(moto_server.endpoint_url),
    }
    home = tmp_path / "airflow"
    home.mkdir()
    deployment = AirflowStack(home, dags, port, env)
    deployment.data = data
    try:
        # The scheduler starts once the backfill exists: on SQLite, Airflow does not
        # support creating a backfill while the scheduler writes (it can crash it).
        deployment.start(without=("scheduler",))
        seed_inputs(data, TODAY)
        deployment.mark("components started")
        deployment.wait_ready()
        deployment.mark("API ready")
        yield deployment
    finally:
        deployment.stop()
        deployment.mark("stopped")


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")
@pytest.mark.timeout(1200)
def test_trigger_backfill_and_failure_alert_on_a_real_scheduler(stack, inbox):
    stack.wait_dags([DAG_ID, FAIL_DAG_ID])
    stack.unpause(DAG_ID)
    stack.unpause(FAIL_DAG_ID)

    # 1. A user backfills five days from the UI's Backfill form (its REST call), a DAG
    # fails on purpose ...
    stack.create_backfill(
        {
            "dag_id": DAG_ID,
            "from_date": f"{BACKFILL_DAYS[0]}T00:00:00Z",
            "to_date": f"{BACKFILL_DAYS[-1]}T23:59:00Z",
            "max_active_runs": 3,  # analyses in parallel; tracking still goes in date order
            "reprocess_behavior": "completed",  # Airflow requires one with depends_on_past
            "dag_run_conf": BACKFILL_CONF,
        },
    )
    stack.mark("backfill created")
    stack.start_component("scheduler")
    fail_id = stack.trigger(FAIL_DAG_ID, None)
    # 2. ... then triggers the next day from the UI with non-default params (after the
    # backfill exists, so its tracking waits for the backfill's last day).
    run_id = stack.trigger(DAG_ID, f"{TRIGGER_DAY}T00:00:00Z", TRIGGER_CONF)
    [failed] = stack.wait_runs(FAIL_DAG_ID, [fail_id], 1, timeout=180, fail_fast=False)
    stack.mark("failing run finished")
    assert failed["state"] == "failed"
    backfill = [r for r in stack.runs(DAG_ID) if r["run_type"] == "backfill"]
    assert len(backfill) == 5
    done = stack.wait_runs(DAG_ID, [r["dag_run_id"] for r in backfill], 5, timeout=360)
    assert {r["state"] for r in done} == {"success"}, [
        stack.task_states(DAG_ID, r["dag_run_id"]) for r in done
    ]
    stack.mark("backfill finished")
    assert sorted(r["logical_date"][:10] for r in done) == [d.isoformat() for d in BACKFILL_DAYS]
    [triggered] = stack.wait_runs(DAG_ID, [run_id], 1, timeout=240)
    assert triggered["state"] == "success", stack.task_states(DAG_ID, run_id)
    assert triggered["conf"] == TRIGGER_CONF
    stack.mark("triggered run finished")

    # 3. Tracking ran in date order (depends_on_past), each day against the one before.
    by_day = {r["logical_date"][:10]: r["dag_run_id"] for r in done}
    tracks = [stack.task_instance(DAG_ID, by_day[d.isoformat()], "track") for d in BACKFILL_DAYS]
    for earlier, later in itertools.pairwise(tracks):
        assert later["start_date"] >= earlier["end_date"], (earlier, later)
    expected_previous = [None] + [d.isoformat() for d in BACKFILL_DAYS[:-1]]
    for day, previous in zip(BACKFILL_DAYS, expected_previous, strict=True):
        tracking = summary_of(stack.data, day)["tracking"]
        assert tracking["previous_day"] == previous, (day, tracking)
        assert tracking["stale_days"] == []
        assert tracking["continuing"] >= (1 if previous else 0), tracking
        assert (stack.data / analysis_prefix(day) / "events.csv").is_file()
        assert (stack.data / analysis_prefix(day) / "timeline.html").is_file()
    assert summary_of(stack.data, TRIGGER_DAY)["tracking"]["previous_day"] == str(BACKFILL_DAYS[-1])

    # 4. Re-running one day's tracking from the API gives the same ids, and nothing goes stale.
    middle = BACKFILL_DAYS[2]
    ids_before = community_uids(stack.data, middle)
    stack.clear(DAG_ID, by_day[middle.isoformat()], ["track"])
    deadline = time.monotonic() + 180
    rerun = stack.task_instance(DAG_ID, by_day[middle.isoformat()], "track")
    while rerun["state"] != "success" and time.monotonic() < deadline:
        assert rerun["state"] not in ("failed", "upstream_failed"), rerun
        time.sleep(2)
        rerun = stack.task_instance(DAG_ID, by_day[middle.isoformat()], "track")
    assert rerun["state"] == "success" and rerun["try_number"] >= 2, rerun
    assert community_uids(stack.data, middle) == ids_before
    stack.mark("tracking re-run checked")

    # 5. Every date has its own outputs in the lake, made with that run's params.
    for day in [TRIGGER_DAY, *BACKFILL_DAYS]:
        summary = summary_of(stack.data, day)
        assert summary["date"] == day.isoformat()
        assert summary["counts"]["communities"] >= 2, summary["counts"]
    trigger_summary = json.dumps(summary_of(stack.data, TRIGGER_DAY))
    assert '"algorithm": "louvain"' in trigger_summary, trigger_summary[:500]

    # 6. The failure and the run summaries reached the topic: subscribers got emails.
    notes = inbox.receive(5, timeout=60)
    subjects = [m["Subject"] for m in notes]
    assert any(s.startswith(f"[ViewerAtlas] {TRIGGER_DAY}: ") for s in subjects), subjects
    alerts = [m for m in notes if FAIL_DAG_ID in m["Subject"]]
    assert alerts, "no failure alert arrived on the SNS topic"
    message = alerts[0]["Message"]
    assert alerts[0]["Subject"] == f"[ViewerAtlas] FAILED {FAIL_DAG_ID}.explode"
    assert "Try:          1" in message
    assert "AirflowFailException: planted failure {{ conn.aws_default.password }}" in message
    assert "line two" not in message
    assert f"{stack.base_url}/dags/{FAIL_DAG_ID}/runs/" in message
