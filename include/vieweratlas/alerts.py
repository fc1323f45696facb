"""Failure alerts and run summaries: SNS (so people get emails) or the task log.

The one place that defines the callbacks every DAG uses (through
``dag_defaults.DEFAULT_ARGS``). With an SNS topic configured, messages go
through the Amazon provider's ``SnsNotifier`` to the topic people's email
addresses are subscribed to; without one (local runs) the same text is logged.

Messages are plain text built here and sent with ``SnsNotifier.notify`` (which
does not render templates), so a hostile channel name or exception text cannot
inject Jinja. Nothing from the context's connections, variables or
configuration is read, text known to Airflow's secrets masker is redacted, and
URL credentials and key-like strings are blanked out as well.

For ``daily_analysis``'s final task: ``publish(*summary_message(summary))``
(or :func:`publish_summary`) sends the run summary.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from vieweratlas.links import date_file_path
from vieweratlas.settings import Settings, SettingsError, env_name, load_settings

log = logging.getLogger(__name__)
#: The settings an alert needs; read on their own when the full settings fail.
_ALERT_ENV = tuple(env_name(f) for f in ("sns_topic_arn", "log_base_url", "aws_conn_id"))

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # line breaks too
_SECRETS = (
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*:[^/\s@]*@"), r"\1***@"),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), "***"),
    (
        re.compile(
            r"(?i)(\w*(?:password|passwd|secret|token|api[_-]?key|authorization))(\s*[:=]\s*)\S+"
        ),
        r"\1\2***",
    ),
)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SUBJECT_MAX = 99  # SNS: ASCII, no line breaks, under 100 characters
BODY_MAX = 20_000  # far below SNS's 256 KB, readable in a mail client
TOP_COMMUNITIES = 5


def _redact(text: str) -> str:
    try:
        from airflow.sdk.log import redact

        text = str(redact(text))
    except Exception:  # noqa: BLE001 - outside Airflow there is nothing registered to mask
        log.debug("Airflow's secrets masker is not available; using our own patterns only")
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _clean(text: object, limit: int) -> str:
    """One safe line: secrets redacted, control characters blanked, length capped."""
    value = _CONTROL.sub(" ", _redact(str(text)))
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _subject(text: str) -> str:
    """An SNS subject: printable ASCII only, one line, under 100 characters."""
    ascii_text = unicodedata.normalize("NFKD", _clean(text, 1000))
    ascii_text = "".join(
        c if " " <= c <= "~" else "?"
        for c in ascii_text
        if c.isprintable() and not unicodedata.combining(c)  # é -> e, not e?
    )
    ascii_text = " ".join(ascii_text.split()) or "[ViewerAtlas] alert"
    return ascii_text if len(ascii_text) <= SUBJECT_MAX else ascii_text[: SUBJECT_MAX - 3] + "..."


def _settings() -> Settings:
    try:
        from vieweratlas.airflow_glue import runtime_settings

        return runtime_settings()
    except Exception as exc:  # noqa: BLE001 - an alert must still go out whatever failed
        log.warning("Settings for the alert: %s; using the alert's own settings", exc)
    # Only what the alert needs, so a bad unrelated setting (the very failure being
    # reported, e.g. VIEWERATLAS_TOP_CHANNELS=lots) cannot silence it.
    env = {name: os.environ[name] for name in _ALERT_ENV if name in os.environ}
    try:
        return load_settings(environ=env)
    except SettingsError as exc:
        log.warning("Alert settings unusable (%s); the alert is only logged", exc)
        return Settings()


def log_url(
    settings: Settings,
    dag_id: str,
    run_id: str,
    task_id: str,
    try_number: int,
    map_index: int | None = -1,
) -> str:
    """Link to one task try's log in the Airflow 3 UI."""
    base = settings.log_base_url.rstrip("/")
    mapped = f"/mapped/{int(map_index)}" if map_index not in (-1, None) else ""
    return (
        f"{base}/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"
        f"/tasks/{quote(task_id, safe='')}{mapped}?try_number={int(try_number)}"
    )


def _first_line(exception: object) -> tuple[str, str]:
    """The exception's type name and first non-empty line."""
    if exception is None:
        return "", "(no exception)"
    kind = "" if isinstance(exception, str) else type(exception).__name__
    lines = [line.strip() for line in str(exception).splitlines() if line.strip()]
    return kind, (lines[0] if lines else "(no message)")


def failure_message(context: Mapping[str, Any], settings: Settings) -> tuple[str, str]:
    """Subject and body of a failure alert for one task try."""
    ti = context.get("ti")
    if ti is None:  # a DAG-level callback (e.g. dagrun_timeout): no task instance
        run = context["dag_run"]
        ti = SimpleNamespace(dag_id=run.dag_id, task_id="(dag run)", run_id=run.run_id)
    dag_id, task_id, run_id = str(ti.dag_id), str(ti.task_id), str(ti.run_id)
    map_index = getattr(ti, "map_index", -1)
    try_number = int(getattr(ti, "try_number", 0) or 0)
    logical = context.get("logical_date")
    kind, first_line = _first_line(context.get("exception") or context.get("reason"))
    task_label = task_id if map_index in (-1, None) else f"{task_id}[{map_index}]"
    subject = _subject(f"[ViewerAtlas] FAILED {dag_id}.{task_label}")
    body = "\n".join(
        [
            "A ViewerAtlas task failed and will not be retried.",
            "",
            f"DAG:          {_clean(dag_id, 250)}",
            f"Task:         {_clean(task_label, 250)}",
            f"Logical date: {logical.isoformat() if logical else '(none)'}",
            f"Run:          {_clean(run_id, 250)}",
            f"Try:          {try_number}",
            f"Error:        {_clean(kind + ': ' if kind else '', 100)}{_clean(first_line, 500)}",
            f"Log:          {log_url(settings, dag_id, run_id, task_id, try_number, map_index)}",
        ]
    )
    return subject, body


def _number(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _count(value: object) -> str:
    try:
        return f"{int(value):,}"  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return "?"


def summary_message(summary: Mapping[str, Any], settings: Settings) -> tuple[str, str]:
    """Subject and body of the daily run summary, from ``summary.json``'s dict.

    Reads (all optional, unknown keys ignored): ``date``; counts ``channels``,
    ``chatters`` and ``communities`` from ``counts`` (or the top level);
    ``modularity``; the biggest communities from ``top_communities`` (or a
    ``communities`` list) as dicts with ``label``, ``channels``, ``chatters``;
    ``params.window_days``; links from ``outputs`` (name -> URL).
    """
    raw_counts = summary.get("counts")
    counts = raw_counts if isinstance(raw_counts, Mapping) else summary
    day = _clean(summary.get("date", "?"), 20)
    listed = summary.get("top_communities") or summary.get("communities")
    listed = listed if isinstance(listed, list) else []
    found = counts.get("communities")
    found = len(listed) if isinstance(found, list) else found
    channels = counts.get("channels")
    subject = _subject(
        f"[ViewerAtlas] {day}: {_count(found)} communities, {_count(channels)} channels"
    )
    raw_params = summary.get("params")
    params = raw_params if isinstance(raw_params, Mapping) else {}
    window = params.get("window_days") or summary.get("window_days")
    lines = [
        f"ViewerAtlas daily analysis for {day}"
        + (f" ({_count(window)}-day window)." if window else "."),
        "",
        f"Channels analysed:  {_count(channels)}",
        f"Chatters analysed:  {_count(counts.get('chatters'))}",
        f"Communities found:  {_count(found)}",
    ]
    if isinstance(summary.get("modularity"), int | float):
        lines.append(f"Modularity:         {summary['modularity']:.3f}")
    biggest = sorted(
        (c for c in listed if isinstance(c, Mapping)),
        key=lambda c: (-_number(c.get("channels")), -_number(c.get("chatters"))),
    )[:TOP_COMMUNITIES]
    if biggest:
        lines += ["", "Biggest communities:"]
        for rank, com in enumerate(biggest, 1):
            lines.append(
                f"  {rank}. {_clean(com.get('label') or 'unlabelled', 80)}: "
                f"{_count(com.get('channels'))} channels, {_count(com.get('chatters'))} chatters"
            )
    lines += _tracking_lines(summary.get("tracking"))
    links = summary.get("outputs") if isinstance(summary.get("outputs"), Mapping) else {}
    if links:
        lines += ["", "Outputs:"]
        lines += [f"  {_clean(name, 40)}: {_clean(url, 500)}" for name, url in links.items()]
    base = settings.log_base_url.rstrip("/")
    if isinstance(summary.get("date"), str) and _DAY.match(summary["date"]):
        lines += ["", f"Map: {base}{date_file_path(summary['date'])}"]
    lines += ["", f"Airflow: {base}/dags/daily_analysis"]
    return subject, "\n".join(lines)


_CHANGES = (("birth", "births"), ("death", "deaths"), ("merge", "merges"), ("split", "splits"))
_GROWTH = (("grow", "grew"), ("shrink", "shrank"), ("move", "channel moves"))


def _tracking_lines(tracking: object) -> list[str]:
    """Community changes since the previous analysed day (``summary["tracking"]``)."""
    if not isinstance(tracking, Mapping) or not isinstance(tracking.get("events"), Mapping):
        return []
    counts, listed = tracking["events"], tracking.get("listed") or {}
    since = tracking.get("previous_day")
    if not since:
        return ["", "Community tracking starts on this day (no earlier analysed day)."]
    parts = [f"{_count(counts.get(k))} {word}" for k, word in _CHANGES + _GROWTH]
    lines = ["", f"Changes since {_clean(since, 20)}: " + ", ".join(parts) + "."]
    for kind, word in _CHANGES:
        for event in (listed.get(kind) or [])[:TOP_COMMUNITIES]:
            if not isinstance(event, Mapping):
                continue
            ids = " + ".join(map(str, event.get("from_uids") or [])) + " -> "
            ids += " + ".join(map(str, event.get("to_uids") or []))
            label = _clean(event.get("label") or "unlabelled", 80)
            lines.append(f"  {word[:-1]}: {label} ({_clean(ids, 200)})")
    stale = tracking.get("stale_days") or []
    if stale:
        lines.append(
            f"  Stale until re-run (ids changed on this day): {_clean(', '.join(stale), 300)}"
        )
    return lines


def publish(
    subject: str, body: str, settings: Settings | None = None, level: int = logging.WARNING
) -> bool:
    """Send a message to the SNS topic, or log it at ``level`` when none is configured.

    Returns True when it went to SNS. The subject is made SNS-safe (ASCII, one
    line, under 100 characters) and the body capped at ``BODY_MAX`` characters.
    """
    settings = settings or _settings()
    subject = _subject(subject)
    body = body if len(body) <= BODY_MAX else body[: BODY_MAX - 20] + "\n… (truncated)"
    if not settings.sns_topic_arn:
        label = "ALERT" if level >= logging.WARNING else "Message"
        log.log(level, "%s (no SNS topic configured)\n%s\n%s", label, subject, body)
        return False
    from airflow.providers.amazon.aws.notifications.sns import SnsNotifier

    notifier = SnsNotifier(
        aws_conn_id=settings.aws_conn_id,
        target_arn=settings.sns_topic_arn,
        subject=subject,
        message=body,
    )
    notifier.notify({})  # notify() sends as is; calling the notifier would render Jinja
    log.info("Alert published to %s: %s", settings.sns_topic_arn, subject)
    return True


def publish_summary(summary: Mapping[str, Any], settings: Settings | None = None) -> bool:
    """Build the run summary from ``summary.json``'s dict and publish it (logged at INFO)."""
    settings = settings or _settings()
    return publish(*summary_message(summary, settings), settings=settings, level=logging.INFO)


def on_failure(context: Mapping[str, Any]) -> None:
    """``on_failure_callback`` for every task of every DAG; never raises."""
    subject = body = ""
    try:
        settings = _settings()
        subject, body = failure_message(context, settings)
        publish(subject, body, settings)
    except Exception:
        log.exception("Could not publish the failure alert; it was:\n%s\n%s", subject, body)
