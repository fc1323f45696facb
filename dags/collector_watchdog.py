"""Collector watchdog: alert when collectors stop heartbeating or an hour's snapshot is missing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from airflow.sdk import dag, task

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE

DOC = """
### Collector watchdog

Every 30 minutes, reads the collectors' heartbeats (`state/heartbeats/*.json`,
rewritten once a minute by each collector) and the raw live snapshots of the
last hour whose upload is due (the hour before *now minus 20 minutes*).

The task fails, without retrying, and the failure alert (SNS email) names
each problem: a shard whose heartbeat is older than
`heartbeat_stale_minutes` (in `vieweratlas_settings`) (default 10), no fresh heartbeat at
all, an unreadable heartbeat, or a missing hourly snapshot. A heartbeat older
than a day counts as a retired collector and only matters if none is fresh.

`check_dag_imports` parses every DAG file of this folder, as the DAG processor
does, and fails (alert) naming each file that does not import: a DAG with an
import error vanishes from the UI without any other alert.
"""
DAGS_FOLDER = str(Path(__file__).resolve().parent)


@dag(
    schedule="*/30 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=20),
    default_args=DEFAULT_ARGS,
    tags=["vieweratlas", "ops", "collector"],
    description="Every 30 min: alert when a chat collector's heartbeat is stale.",
    doc_md=DOC,
)
def collector_watchdog():
    @task(execution_timeout=timedelta(minutes=5))
    def check_collectors() -> dict:
        """Fail with every problem in the first line of the error (it goes into the alert)."""
        import logging
        from datetime import UTC, datetime

        from airflow.sdk.exceptions import AirflowFailException

        from vieweratlas import watchdog
        from vieweratlas.airflow_glue import open_lake, runtime_settings

        settings = runtime_settings()
        now = datetime.now(UTC)  # the collectors' state now, even when an old run is re-run
        result = watchdog.check(
            open_lake(settings),
            now,
            settings.heartbeat_stale_minutes,
            min_joined_share=settings.collector_min_joined_share,
        )
        logging.getLogger(__name__).info("%s", result.details())
        if not result.ok:
            raise AirflowFailException(f"collector watchdog: {result.summary()}")
        return watchdog.to_dict(result)

    @task(execution_timeout=timedelta(minutes=5))
    def check_dag_imports(dags_folder: str) -> int:
        """Fail naming every DAG file that does not import (the alert lists them)."""
        from airflow.sdk.exceptions import AirflowFailException

        from vieweratlas.watchdog import dag_import_errors

        errors = dag_import_errors(dags_folder)
        if errors:
            found = "; ".join(f"{name}: {error}" for name, error in errors.items())
            raise AirflowFailException(f"DAG import errors: {found}")
        return 0

    check_collectors()
    check_dag_imports(DAGS_FOLDER)


collector_watchdog()
