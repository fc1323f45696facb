"""Failure and success notifications: SNS (so people get emails) or the task log.

The one place that defines the callbacks every DAG uses. With an SNS topic
configured, messages go through the Amazon provider's ``SnsNotifier``; without
one (local runs) the same text is logged. Messages are built here as plain
text and sent with ``notify`` (not rendered as templates), so a hostile
channel name or exception text cannot inject Jinja, and nothing secret from the
context (connections, variables, configuration) is ever included.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import quote

from vieweratlas.settings import Settings, load_settings

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
SUBJECT_MAX = 100  # SNS subject limit


def _clean(text: object, limit: int) -> str:
    value = _CONTROL.sub(" ", str(text))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _settings() -> Settings:
    try:
        from vieweratlas.airflow_glue import runtime_settings

        return runtime_settings()
    except Exception:  # noqa: BLE001 - an alert must still go out if Variables are unreachable
        log.warning("Could not read Airflow Variables for the alert; using the environment")
        return load_settings()


def log_url(settings: Settings, dag_id: str, run_id: str, task_id: str, try_number: int) -> str:
    """Link to one task try's log in the Airflow 3 UI."""
    base = settings.log_base_url.rstrip("/")
    return (
        f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
        f"/tasks/{quote(task_id, safe='')}?try_number={int(try_number)}"
    )


def failure_message(context: dict[str, Any], settings: Settings) -> tuple[str, str]:
    """Subject and body of a failure alert for one task try."""
    ti = context["ti"]
    dag_id, task_id, run_id = ti.dag_id, ti.task_id, ti.run_id
    map_index = getattr(ti, "map_index", -1)
    try_number = int(getattr(ti, "try_number", 0) or 0)
    logical = context.get("logical_date")
    exception = context.get("exception")
    first_line = str(exception).strip().splitlines()[0] if exception else "(no exception)"
    task_label = task_id if map_index in (-1, None) else f"{task_id}[{map_index}]"
    subject = _clean(f"[ViewerAtlas] FAILED {dag_id}.{task_label}", SUBJECT_MAX)
    body = "\n".join(
        [
            "A ViewerAtlas task failed.",
            "",
            f"DAG:          {_clean(dag_id, 250)}",
            f"Task:         {_clean(task_label, 250)}",
            f"Logical date: {logical.isoformat() if logical else '(none)'}",
            f"Run:          {_clean(run_id, 250)}",
            f"Try:          {try_number}",
            f"Error:        {_clean(type(exception).__name__ if exception else '', 100)}: "
            f"{_clean(first_line, 500)}",
            f"Log:          {log_url(settings, dag_id, run_id, task_id, try_number)}",
        ]
    )
    return subject, body


def publish(subject: str, body: str, settings: Settings | None = None) -> bool:
    """Send a message to the SNS topic, or log it when none is configured.

    Returns True when it went to SNS.
    """
    settings = settings or _settings()
    if not settings.sns_topic_arn:
        log.warning("ALERT (no SNS topic configured)\n%s\n%s", subject, body)
        return False
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    notifier = SnsNotifier(
        aws_conn_id=settings.aws_conn_id,
        target_arn=settings.sns_topic_arn,
        subject=_clean(subject, SUBJECT_MAX),
        message=body,
    )
    notifier.notify({})
    log.info("Alert published to %s: %s", settings.sns_topic_arn, subject)
    return True


def on_failure(context: dict[str, Any]) -> None:
    """``on_failure_callback`` for every task of every DAG."""
    settings = _settings()
    subject, body = failure_message(context, settings)
    try:
        publish(subject, body, settings)
    except Exception:
        log.exception("Could not publish the failure alert; it was:\n%s\n%s", subject, body)
