"""vod_discovery through Airflow in local mode: Helix -> ledger -> mapped downloads -> ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_channel_refresh import asset_events, load_dag, task_states

from conftest import DELETED_VOD, END, MIDNIGHT_VOD, UNICODE_VOD
from vieweratlas import lake as keys
from vieweratlas import vod_ledger

DAG_FILE = Path(__file__).parents[2] / "dags" / "vod_discovery.py"


def mapped_states(run, task_id: str = "download_chat") -> list[str]:
    tis = [ti for ti in run.get_task_instances() if ti.task_id == task_id]
    return sorted(str(ti.state) for ti in tis if ti.map_index >= 0)


@pytest.mark.slow
def test_local_mode_end_to_end(vod_world, fake_cli, fake_twitch):
    store = vod_world
    dag = load_dag("vod_discovery", DAG_FILE)
    events_before = asset_events("vieweratlas_vod_presence")
    run = dag.test(logical_date=END)

    assert run.state == "success", task_states(run)
    assert asset_events("vieweratlas_vod_presence") == events_before + 1
    assert mapped_states(run) == ["skipped", "success", "success"]  # the deleted VOD skips
    queried = {r.query["user_id"][0] for r in fake_twitch.seen("/helix/videos")}
    assert queried == {"1001", "1002", "1003", "1004"}

    ledger = vod_ledger.read_ledger(store)
    assert set(ledger) == {MIDNIGHT_VOD, UNICODE_VOD, DELETED_VOD}  # not OLD_VOD, not 2999
    assert ledger[MIDNIGHT_VOD].status == "downloaded" and ledger[MIDNIGHT_VOD].attempts == 1
    assert ledger[DELETED_VOD].status == "failed" and ledger[DELETED_VOD].permanent
    assert ledger[DELETED_VOD].exit_code == 3
    assert ledger[MIDNIGHT_VOD].channel_login == "chan_1"
    assert store.list(keys.VOD_RESULTS_PREFIX) == []  # results folded in, then removed
    assert store.exists(keys.vod_presence("2026-11-21", MIDNIGHT_VOD))
    assert store.exists(keys.vod_presence("2026-11-22", MIDNIGHT_VOD))
    assert store.exists(keys.vod_presence("2026-11-21", UNICODE_VOD))
    assert fake_cli.downloads_of(MIDNIGHT_VOD) == 1

    again = dag.test(logical_date=END)  # the ledger prevents a second download

    assert again.state == "success", task_states(again)
    assert mapped_states(again) == []
    assert fake_cli.downloads_of(MIDNIGHT_VOD) == 1
    assert fake_cli.downloads_of(DELETED_VOD) == 1  # permanent: never tried again
    assert vod_ledger.read_ledger(store)[MIDNIGHT_VOD].attempts == 1


@pytest.mark.slow
@pytest.mark.parametrize("data_root", ["file"], indirect=True)
def test_the_per_run_cap_leaves_the_rest_for_later(vod_world, fake_cli, monkeypatch):
    store = vod_world
    monkeypatch.setenv("AIRFLOW_VAR_VIEWERATLAS_SETTINGS", '{"vod_max_per_run": 2}')
    dag = load_dag("vod_discovery", DAG_FILE)

    first = dag.test(logical_date=END)
    ledger = vod_ledger.read_ledger(store)
    assert len(mapped_states(first)) == 2
    assert ledger[UNICODE_VOD].status == "discovered"  # the newest waits (oldest go first)
    assert {ledger[DELETED_VOD].status, ledger[MIDNIGHT_VOD].status} == {"failed", "downloaded"}

    second = dag.test(logical_date=END + timedelta(days=1))  # nothing new in that window
    assert mapped_states(second) == ["success"]
    assert vod_ledger.read_ledger(store)[UNICODE_VOD].status == "downloaded"
    assert len(fake_cli.calls()) == 3  # every VOD downloaded exactly once over the runs


def test_transient_failures_are_retried_up_to_the_limit(tmp_path):
    """Ledger rules over the real lake: transient failures come back until the cap."""
    from vieweratlas.storage import Lake
    from vieweratlas.vod_discovery import collect_outcomes

    store = Lake((tmp_path / "lake").as_uri())
    now = datetime(2026, 11, 22, tzinfo=UTC)
    ledger: dict = {}
    vod = {"vod_id": "77", "channel_id": 1, "channel_login": "a", "created_at": now}
    vod_ledger.add_discovered(ledger, [vod], now)
    vod_ledger.write_ledger(store, ledger)
    for attempt in range(1, 4):
        assert [r.vod_id for r in vod_ledger.due(vod_ledger.read_ledger(store), 3, 10)] == ["77"]
        result = {"status": "failed", "exit_code": 75, "permanent": False, "error": "net"}
        store.write_json(keys.vod_result("77"), result)
        counts = collect_outcomes(store, ["77"], now, max_attempts=3)
        assert vod_ledger.read_ledger(store)["77"].attempts == attempt
    assert counts == {"downloaded": 0, "failed": 1, "given_up": 1}
    assert vod_ledger.due(vod_ledger.read_ledger(store), 3, 10) == []
    # a download that never reported (crashed container) counts as a failed attempt too
    vod_ledger.add_discovered(
        ledger := vod_ledger.read_ledger(store), [dict(vod, vod_id="78")], now
    )
    vod_ledger.write_ledger(store, ledger)
    collect_outcomes(store, ["78"], now, max_attempts=3)
    record = vod_ledger.read_ledger(store)["78"]
    assert (record.status, record.attempts, record.permanent) == ("failed", 1, False)
