"""Defaults every DAG shares: owner, retries, alerts. Cheap to import at parse time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from vieweratlas.alerts import on_failure

OWNER = "vieweratlas"
START_DATE = datetime(2026, 1, 1, tzinfo=UTC)

DEFAULT_ARGS = {
    "owner": OWNER,
    "retries": 2,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=15),
    "on_failure_callback": on_failure,
}
"""Task defaults: two retries with backoff, and an alert when the last try fails."""
