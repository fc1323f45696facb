"""A bad setting never removes a DAG: the DAG parses, its task fails and the alert names it."""

from __future__ import annotations

import pytest


@pytest.mark.slow
@pytest.mark.parametrize("data_root", ["file"], indirect=True)
def test_a_bad_value_fails_the_task_and_the_alert_names_the_variable(
    load_dag, data_root, inbox, monkeypatch
):
    monkeypatch.setenv("VIEWERATLAS_TOP_CHANNELS", "lots")
    monkeypatch.setenv("VIEWERATLAS_CHANNEL_REFRESH_SCHEDULE", "every hour")

    dag = load_dag("channel_refresh")  # parses: the bad schedule falls back to the default

    assert dag.schedule == "@hourly"
    run = dag.test()
    assert run.state == "failed"
    assert run.get_task_instance("refresh_channels").try_number == 1  # no retries
    [alert] = inbox.receive(1)
    assert alert["Subject"] == "[ViewerAtlas] FAILED channel_refresh.refresh_channels"
    assert "VIEWERATLAS_TOP_CHANNELS must be a whole number" in alert["Message"]
