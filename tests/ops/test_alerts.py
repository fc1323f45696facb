"""Failure alerts and run summaries: content, safety, and delivery through SNS."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import airflow.sdk.log  # noqa: F401 - its import configures logging; before caplog attaches
import pytest
from tests.testkit import aws_connection

from vieweratlas import alerts, dag_defaults
from vieweratlas.settings import Settings

SETTINGS = Settings(log_base_url="https://airflow.example.org/")
WHEN = datetime(2026, 11, 21, tzinfo=UTC)


def context(exception: object, **ti_fields) -> dict:
    ti = SimpleNamespace(
        **{
            "dag_id": "daily_analysis",
            "task_id": "communities",
            "run_id": "scheduled__2026-11-21T00:00:00+00:00",
            "map_index": -1,
            "try_number": 3,
        }
        | ti_fields
    )
    return {"ti": ti, "logical_date": WHEN, "exception": exception}


def test_failure_message_names_dag_task_date_try_error_and_log_link():
    subject, body = alerts.failure_message(
        context(ValueError("graph is empty\nmore detail")), SETTINGS
    )
    assert subject == "[ViewerAtlas] FAILED daily_analysis.communities"
    assert "DAG:          daily_analysis" in body
    assert "Task:         communities" in body
    assert "Logical date: 2026-11-21T00:00:00+00:00" in body
    assert "Try:          3" in body
    assert "Error:        ValueError: graph is empty" in body
    assert "more detail" not in body
    assert (
        "Log:          https://airflow.example.org/dags/daily_analysis/runs/"
        "scheduled__2026-11-21T00%3A00%3A00%2B00%3A00/tasks/communities?try_number=3"
    ) in body


def test_dag_level_failure_without_a_task_instance():
    run = SimpleNamespace(dag_id="collector_watchdog", run_id="scheduled__x")
    subject, body = alerts.failure_message(
        {"dag_run": run, "reason": "timed_out", "logical_date": WHEN}, SETTINGS
    )
    assert subject == "[ViewerAtlas] FAILED collector_watchdog.(dag run)"
    assert "Error:        timed_out" in body


def test_mapped_task_link_and_label():
    subject, body = alerts.failure_message(context(RuntimeError("x"), map_index=7), SETTINGS)
    assert subject.endswith("communities[7]")
    assert "/tasks/communities/mapped/7?try_number=3" in body


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("connect to postgresql://admin:hunter2@db:5432/x failed", "hunter2"),
        ("bad key AKIAIOSFODNN7EXAMPLE in request", "AKIAIOSFODNN7EXAMPLE"),
        ("Helix said: client_secret=abc123def token: zzz999", "abc123def"),
        ("Helix said: client_secret=abc123def token: zzz999", "zzz999"),
        ("Authorization: Bearer-eyJhbGciOi", "eyJhbGciOi"),
    ],
)
def test_secrets_in_exception_text_are_redacted(text, secret):
    subject, body = alerts.failure_message(context(RuntimeError(text)), SETTINGS)
    assert secret not in body and secret not in subject
    assert "***" in body


def test_secrets_registered_with_airflow_are_masked():
    from airflow.sdk.log import mask_secret

    mask_secret("sup3r-s3cret-value")
    _, body = alerts.failure_message(context(RuntimeError("oops sup3r-s3cret-value")), SETTINGS)
    assert "sup3r-s3cret-value" not in body


def test_hostile_text_is_inert_plain_text():
    hostile = "{{ conn.aws_default.password }}\x1b[31m\r\nSubject: forged\x00 ünïcode ☃"
    subject, body = alerts.failure_message(
        context(RuntimeError(hostile), task_id="t\u2028x"), SETTINGS
    )
    assert "{{ conn.aws_default.password }}" in body  # shown literally, never rendered
    assert "forged" not in body  # only the first line of the error
    assert "\x1b" not in body and "\x00" not in body and "\u2028" not in body
    assert subject.isascii() and subject.isprintable() and len(subject) < 100


def test_subject_is_sns_safe_for_long_unicode_labels():
    subject, _ = alerts.summary_message(
        {"date": "2026-11-21", "channels": 5, "communities": [{"label": "x"}]}, SETTINGS
    )
    long_subject = alerts._subject("Ünïcödé ☃ " * 30)
    assert long_subject.isascii() and len(long_subject) < 100 and long_subject.endswith("...")
    assert alerts._subject("[ViewerAtlas] Pokémon ☃") == "[ViewerAtlas] Pokemon ?"
    assert subject == "[ViewerAtlas] 2026-11-21: 1 communities, 5 channels"


SUMMARY = {  # the shape publish.build_summary writes to summary.json
    "date": "2026-11-21",
    "params": {"window_days": 7, "algorithm": "leiden"},
    "counts": {"channels": 4812, "chatters": 1234567, "edges": 9000, "communities": 12},
    "modularity": 0.6123,
    "top_communities": [
        {"community": 1, "label": "Minecraft / en", "channels": 120, "chatters": 9000},
        {"community": 0, "label": "Just Chatting / es", "channels": 800, "chatters": 310220},
        {"community": 2, "label": "{{ var.value.secret }}\nSubject: x", "channels": 5},
    ],
    "outputs": {"map_png": "s3://b/analysis/latest/map.png", "map_html": "https://x/map.html"},
}


def test_summary_message_lists_counts_biggest_communities_and_links():
    subject, body = alerts.summary_message(SUMMARY, SETTINGS)
    assert subject == "[ViewerAtlas] 2026-11-21: 12 communities, 4,812 channels"
    assert "(7-day window)" in body
    assert "Channels analysed:  4,812" in body
    assert "Chatters analysed:  1,234,567" in body
    assert "Communities found:  12" in body and "Modularity:         0.612" in body
    biggest = body.index("1. Just Chatting / es: 800 channels, 310,220 chatters")
    assert biggest < body.index("2. Minecraft / en: 120 channels")
    assert "{{ var.value.secret }} Subject: x" in body  # literal, one line
    assert "map_png: s3://b/analysis/latest/map.png" in body
    assert "https://airflow.example.org/dags/daily_analysis" in body


def test_summary_message_tolerates_a_sparse_summary():
    subject, body = alerts.summary_message({"communities": [{"label": "a"}] * 4}, SETTINGS)
    assert "4 communities" in subject and "Chatters analysed:  ?" in body
    assert "1. a: ? channels, ? chatters" in body


def test_without_a_topic_alerts_are_logged(caplog):
    caplog.set_level("WARNING", logger="vieweratlas.alerts")
    assert alerts.publish("subject line", "the body", Settings()) is False
    assert "subject line" in caplog.text and "the body" in caplog.text


def test_on_failure_never_raises_even_when_sns_is_unreachable(caplog, monkeypatch):
    monkeypatch.setenv(
        "VIEWERATLAS_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:missing-topic"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DEFAULT",
        aws_connection(
            "http://127.0.0.1:9",
            config_kwargs={"retries": {"max_attempts": 1}, "connect_timeout": 1},
        ),
    )
    alerts.on_failure(context(RuntimeError("boom")))
    assert "Could not publish the failure alert" in caplog.text
    assert "FAILED daily_analysis.communities" in caplog.text


def test_publish_sends_through_sns_to_subscribers(moto_server, inbox):
    settings = Settings(sns_topic_arn=moto_server.topic_arn)
    assert alerts.publish_summary(SUMMARY, settings) is True
    [note] = inbox.receive(1)
    assert note["Subject"] == "[ViewerAtlas] 2026-11-21: 12 communities, 4,812 channels"
    assert "Just Chatting / es" in note["Message"]


def test_every_dag_shares_the_one_failure_callback():
    assert dag_defaults.DEFAULT_ARGS["on_failure_callback"] is alerts.on_failure
    assert dag_defaults.DEFAULT_ARGS["retries"] >= 2
