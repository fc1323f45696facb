"""Collector watchdog: fresh, stale and missing-hour cases, on both roots and in the real DAG."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from vieweratlas import lake as layout
from vieweratlas import watchdog

DAGS = Path(__file__).resolve().parents[2] / "dags"
NOW = datetime(2026, 11, 22, 10, 25, tzinfo=UTC)


def beat(lake, collector_id: str, shard: int, age_minutes: float, now: datetime = NOW) -> None:
    written = now - timedelta(minutes=age_minutes)
    lake.write_json(
        layout.heartbeat(collector_id),
        {
            "collector_id": collector_id,
            "shard": f"{shard}/4",  # as the collector writes it: index/count
            "written_at": written.isoformat().replace("+00:00", "Z"),
            "connections_up": 3,
            "channels_joined": 480,
            "spool_backlog": 0,
            "last_upload_at": written.isoformat(),
        },
    )


def snapshot(lake, when: datetime, collector_id: str = "collector-0") -> None:
    lake.write_bytes(layout.raw_live_snapshot(when.date(), when.hour, collector_id), b"PAR1")


def test_fresh_heartbeats_and_last_hour_present_are_healthy(lake):
    beat(lake, "collector-0", 0, 1)
    beat(lake, "collector-1", 1, 9.5)
    snapshot(lake, NOW - timedelta(hours=1))
    result = watchdog.check(lake, NOW, stale_minutes=10)
    assert result.ok, result.problems
    assert result.snapshot_hour == datetime(2026, 11, 22, 9, tzinfo=UTC)
    assert len(result.heartbeats) == 2 and "collector-1" in result.details()


def test_one_stale_shard_is_named(lake):
    beat(lake, "collector-0", 0, 1)
    beat(lake, "collector-1", 1, 42)
    snapshot(lake, NOW - timedelta(hours=1))
    result = watchdog.check(lake, NOW, stale_minutes=10)
    assert result.problems == ["shard 1/4 (collector-1) stale: last heartbeat 42 min ago"]


def test_no_fresh_heartbeat_at_all(lake):
    beat(lake, "collector-0", 0, 11)
    beat(lake, "old-collector", 7, 60 * 24 * 5)  # retired: named only via "no fresh"
    snapshot(lake, NOW - timedelta(hours=1))
    result = watchdog.check(lake, NOW, stale_minutes=10)
    assert result.problems == [
        "no collector heartbeat in the last 10 min",
        "shard 0/4 (collector-0) stale: last heartbeat 11 min ago",
    ]
    assert "old-collector" in result.details()


def test_no_heartbeats_and_no_snapshot(lake):
    result = watchdog.check(lake, NOW, stale_minutes=10)
    assert result.problems == [
        "no collector heartbeat in the last 10 min",
        "raw live snapshot for 2026-11-22 09:00 UTC is missing",
    ]


def test_missing_hour_respects_the_grace_period(lake):
    early = NOW.replace(minute=10)  # hour 9 is not due before 10:20
    beat(lake, "collector-0", 0, 1, now=early)
    snapshot(lake, datetime(2026, 11, 22, 8, tzinfo=UTC))
    assert watchdog.check(lake, early, stale_minutes=10).ok
    beat(lake, "collector-0", 0, 1, now=NOW)
    late = watchdog.check(lake, NOW, stale_minutes=10)
    assert late.problems == ["raw live snapshot for 2026-11-22 09:00 UTC is missing"]


def test_unreadable_and_hostile_heartbeats_are_problems_not_crashes(lake):
    beat(lake, "collector-0", 0, 1)
    lake.write_bytes(layout.heartbeat("broken"), b"{not json")
    lake.write_json(
        layout.heartbeat("evil"),
        {"collector_id": "x\nSubject: forged {{ 7*7 }}", "shard": 2, "written_at": "soon"},
    )
    snapshot(lake, NOW - timedelta(hours=1))
    result = watchdog.check(lake, NOW, stale_minutes=10)
    assert "shard ? (broken) heartbeat unreadable" in result.problems
    assert "shard ? (evil) heartbeat unreadable" in result.problems
    assert "\n" not in result.summary()


def test_day_boundary_uses_the_previous_days_partition(lake):
    now = datetime(2026, 11, 22, 0, 30, tzinfo=UTC)
    beat(lake, "collector-0", 0, 1, now=now)
    snapshot(lake, datetime(2026, 11, 21, 23, tzinfo=UTC))
    assert watchdog.check(lake, now, stale_minutes=10).ok


# -- the DAG, run for real ------------------------------------------------------------


def test_dag_succeeds_when_collectors_are_healthy(load_dag, lake):
    now = datetime.now(UTC)
    beat(lake, "collector-0", 0, 0, now=now)
    for hours in (1, 2):  # the due hour is one or two hours back depending on the minute
        snapshot(lake, now - timedelta(hours=hours))
    run = load_dag("collector_watchdog").test()
    assert run.state == "success"


def test_dag_alerts_naming_the_stale_shard(load_dag, data_root, lake, inbox):
    now = datetime.now(UTC)
    beat(lake, "collector-0", 0, 0, now=now)
    beat(lake, "collector-3", 3, 25, now=now)
    for hours in (1, 2):
        snapshot(lake, now - timedelta(hours=hours))

    run = load_dag("collector_watchdog").test()

    assert run.state == "failed"
    assert run.get_task_instance("check_collectors").try_number == 1  # no retries
    [alert] = inbox.receive(1)
    assert alert["Subject"] == "[ViewerAtlas] FAILED collector_watchdog.check_collectors"
    assert "shard 3/4 (collector-3) stale: last heartbeat 25 min ago" in alert["Message"]


def test_dag_import_errors_are_reported_through_the_alert(
    load_dag, lake, inbox, tmp_path, monkeypatch
):
    """A DAG file that does not import makes check_dag_imports fail, and the alert names it."""
    import shutil

    from airflow.dag_processing.dagbag import DagBag

    folder = tmp_path / "dags"
    shutil.copytree(DAGS, folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "broken_dag.py").write_text(
        "from airflow.sdk import dag\n"
        "raise ValueError('VIEWERATLAS_TOP_CHANNELS must be a whole number')\n"
    )
    now = datetime.now(UTC)
    beat(lake, "collector-0", 0, 0, now=now)
    for hours in (1, 2):
        snapshot(lake, now - timedelta(hours=hours))
    bag = DagBag(dag_folder=str(folder / "collector_watchdog.py"))
    assert not bag.import_errors

    run = bag.dags["collector_watchdog"].test()

    assert run.state == "failed"
    states = {ti.task_id: ti.state for ti in run.get_task_instances()}
    assert states == {"check_collectors": "success", "check_dag_imports": "failed"}
    [alert] = inbox.receive(1)
    assert alert["Subject"] == "[ViewerAtlas] FAILED collector_watchdog.check_dag_imports"
    assert "broken_dag.py: ValueError: VIEWERATLAS_TOP_CHANNELS must be" in alert["Message"]


def test_our_dag_folder_has_no_import_errors_whatever_the_settings(monkeypatch):
    for name, value in {
        "TOP_CHANNELS": "lots",
        "CHANNEL_REFRESH_SCHEDULE": "every hour",
        "VOD_DISCOVERY_SCHEDULE": "61 * * * *",
        "VOD_DOWNLOAD_CONCURRENCY": "many",
        "DOWNLOAD_MODE": "k8s",
        "ECS_SUBNETS": "subnet-1;rm",
        "DATA_ROOT": "/not/a/url",
    }.items():
        monkeypatch.setenv(f"VIEWERATLAS_{name}", value)
    assert watchdog.dag_import_errors(str(DAGS)) == {}
