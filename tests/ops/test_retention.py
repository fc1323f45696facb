"""Retention on both storage roots: windows, dry run, refusals, report, and the real DAG."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from vieweratlas import lake as layout
from vieweratlas import retention
from vieweratlas.settings import Settings

TODAY = date(2026, 11, 22)
WINDOWS = {"channels": 30, "raw_live": 30, "raw_vod": 7, "vod_presence": 90}
WINDOWS |= {"daily_presence": 90, "analysis_bulk": 14, "analysis": None}


def everything(lake) -> set[str]:
    """Every key in the lake."""
    tops = ("channels", "raw", "curated", "analysis", "state", "reports")
    return {key for top in tops for key in lake.list(top)}


def seed(lake, today: date) -> tuple[dict[str, int], set[str]]:
    """Objects on both sides of each window; returns (all keys with sizes, keys that must go)."""
    keys: dict[str, str] = {}  # key -> "keep" | "go"
    for days, fate in ((0, "keep"), (1, "keep"), ("edge", "keep"), ("old", "go"), (400, "go")):
        for ds in layout.DATASETS:
            window = WINDOWS[ds.name]
            if days == "edge":
                age = window or 365
            elif days == "old":
                age = (window or 365) + 1
            else:
                age = days
            day = today - timedelta(days=age)
            key = f"{ds.prefix}/date={day}" + (
                ds.suffixes[0] if ds.suffixes else f"/hour=05/part-{ds.name}.bin"
            )
            keys[key] = fate if (window is not None or fate == "keep") else "keep"
    keys[layout.CHANNELS_CURRENT] = "keep"
    keys[layout.heartbeat("collector-a")] = "keep"
    keys[layout.VOD_LEDGER] = "keep"
    keys[layout.analysis_prefix(today - timedelta(days=900)) + "summary.json"] = "keep"
    sizes = {}
    for n, key in enumerate(sorted(keys)):
        lake.write_bytes(key, b"x" * (10 + n))
        sizes[key] = 10 + n
    return sizes, {k for k, fate in keys.items() if fate == "go"}


def test_deletes_only_partitions_older_than_each_window(lake):
    sizes, doomed = seed(lake, TODAY)
    assert len(doomed) == 12  # 6 datasets with a window x (just past it, long ago)

    report = retention.run(lake, WINDOWS, TODAY, dry_run=False, utc_today=TODAY)

    remaining = everything(lake)
    assert remaining.isdisjoint(doomed)
    assert set(sizes) - doomed <= remaining
    assert report["objects"] == 12
    assert report["bytes"] == sum(sizes[k] for k in doomed)
    raw_vod = report["datasets"]["raw_vod"]
    assert raw_vod["cutoff"] == "2026-11-15" and raw_vod["objects"] == 2
    assert set(raw_vod["partitions"]) == {"2026-11-14", str(TODAY - timedelta(days=400))}
    assert report["datasets"]["analysis"]["objects"] == 0
    stored = lake.read_json(layout.retention_report(TODAY))
    assert stored["objects"] == 12 and stored["dry_run"] is False
    assert stored["datasets"]["raw_live"]["bytes"] == report["datasets"]["raw_live"]["bytes"]

    again = retention.run(lake, WINDOWS, TODAY, dry_run=False, utc_today=TODAY)
    assert again["objects"] == 0  # idempotent


def test_presence_manifests_go_and_stay_with_their_partition(lake):
    old, kept = TODAY - timedelta(days=91), TODAY - timedelta(days=90)
    named = {
        day: [
            layout.daily_presence(day),
            layout.daily_presence_manifest(day),
            layout.daily_presence_legacy_manifest(day),
        ]
        for day in (old, kept)
    }
    for key in named[old] + named[kept]:
        lake.write_bytes(key, b"{}")
    report = retention.run(lake, WINDOWS, TODAY, dry_run=False, utc_today=TODAY)
    assert report["datasets"]["daily_presence"]["objects"] == 3
    assert lake.list(layout.DAILY_PRESENCE.prefix) == sorted(named[kept])


def test_only_the_bulky_analysis_work_files_expire(lake):
    """pairs and members go after their window; outputs and the small work files stay."""
    old, kept = TODAY - timedelta(days=15), TODAY - timedelta(days=14)
    names = (*layout.ANALYSIS_WORK, "summary.json", "communities.parquet", "map.html")
    for day in (old, kept):
        for name in names:
            lake.write_bytes(layout.analysis_file(day, name), b"x")

    report = retention.run(lake, WINDOWS, TODAY, dry_run=False, utc_today=TODAY)

    gone = {layout.analysis_file(old, n) for n in ("pairs.parquet", "members.parquet")}
    everything_written = {layout.analysis_file(d, n) for d in (old, kept) for n in names}
    assert everything(lake) >= everything_written - gone
    assert everything(lake).isdisjoint(gone)
    bulk = report["datasets"]["analysis_bulk"]
    assert bulk["objects"] == 2 and bulk["cutoff"] == str(kept)
    assert report["datasets"]["analysis"]["objects"] == 0
    assert report["datasets"]["analysis"]["kept_objects"] == 2 * (len(names) - 2)  # no key twice


def test_dry_run_lists_but_changes_nothing(lake):
    sizes, doomed = seed(lake, TODAY)

    report = retention.run(lake, WINDOWS, TODAY, dry_run=True, utc_today=TODAY)

    dry_key = layout.retention_report(TODAY, dry_run=True)
    assert everything(lake) == set(sizes) | {dry_key}
    assert report["objects"] == len(doomed) and report["dry_run"] is True
    assert lake.read_json(dry_key)["objects"] == len(doomed)
    assert not lake.exists(layout.retention_report(TODAY))


def test_deletes_through_the_lake(lake):
    old = TODAY - timedelta(days=40)
    for hour in range(8):
        lake.write_bytes(layout.raw_live_snapshot(old, hour, "c1"), b"abc")
    report = retention.run(lake, WINDOWS, TODAY, dry_run=False, utc_today=TODAY)
    raw_live = report["datasets"]["raw_live"]
    assert (raw_live["objects"], raw_live["bytes"]) == (8, 24)
    assert lake.list(layout.raw_live_day_prefix(old)) == []


@pytest.mark.parametrize(
    "root",
    ["s3://vieweratlas-test", "s3://vieweratlas-test/", "file:///"],
)
def test_refuses_a_bucket_or_filesystem_root(root):
    with pytest.raises(retention.RetentionRefused, match="root"):
        retention.check_root(root)


def test_accepts_a_prefix():
    retention.check_root("s3://vieweratlas-test/prod")
    retention.check_root("file:///srv/vieweratlas")


def test_refuses_windows_that_delete_today_and_future_runs(lake):
    sizes, _ = seed(lake, TODAY)
    with pytest.raises(retention.RetentionRefused, match="today's partitions"):
        retention.run(lake, WINDOWS | {"raw_vod": 0}, TODAY, dry_run=False, utc_today=TODAY)
    with pytest.raises(retention.RetentionRefused, match=r"after today"):
        retention.run(lake, WINDOWS, TODAY + timedelta(days=2), dry_run=False, utc_today=TODAY)
    assert everything(lake) == set(sizes)


@pytest.mark.parametrize(
    ("run_type", "param", "expected"),
    [("manual", True, True), ("manual", False, False), ("scheduled", True, False)],
)
def test_only_manual_runs_are_dry_runs(run_type, param, expected):
    from airflow.sdk.api.datamodels._generated import DagRunType

    assert retention.is_dry_run(DagRunType(run_type), param) is expected
    assert retention.is_dry_run(run_type, param) is expected


def test_windows_come_from_settings():
    got = retention.windows(Settings(retention_raw_vod_days=3, retention_curated_days=60))
    assert got == WINDOWS | {"raw_vod": 3, "vod_presence": 60, "daily_presence": 60}


# -- the DAG, run for real -----------------------------------------------------------


def test_dag_manual_run_is_a_dry_run_by_default_and_deletes_when_asked(load_dag, lake):
    today = datetime.now(UTC).date()
    sizes, doomed = seed(lake, today)
    dag = load_dag("retention_cleanup")

    run = dag.test()
    assert run.state == "success"
    assert set(sizes) <= everything(lake)
    assert lake.read_json(layout.retention_report(today, dry_run=True))["objects"] == 12

    run = dag.test(run_conf={"dry_run": False})
    assert run.state == "success"
    assert everything(lake).isdisjoint(doomed)
    assert lake.read_json(layout.retention_report(today))["objects"] == 12


def test_dag_refuses_a_bucket_root_without_retrying_and_alerts(
    load_dag, moto_server, inbox, monkeypatch
):
    monkeypatch.setenv("VIEWERATLAS_DATA_ROOT", f"s3://{moto_server.bucket}")
    moto_server.client("s3").put_object(
        Bucket=moto_server.bucket, Key="raw/vod/date=2020-01-01/1.json.gz", Body=b"x"
    )
    dag = load_dag("retention_cleanup")

    run = dag.test(run_conf={"dry_run": False})

    assert run.state == "failed"
    ti = run.get_task_instance("cleanup")
    assert ti.state == "failed" and ti.try_number == 1  # refused, not retried
    [alert] = inbox.receive(1)
    assert alert["Subject"] == "[ViewerAtlas] FAILED retention_cleanup.cleanup"
    assert "bucket root" in alert["Message"] and "Try:          1" in alert["Message"]
    head = moto_server.client("s3").head_object(
        Bucket=moto_server.bucket, Key="raw/vod/date=2020-01-01/1.json.gz"
    )
    assert head["ContentLength"] == 1
