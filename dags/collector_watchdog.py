"""Collector watchdog: alert when collectors stop heartbeating or an hour's snapshot is missing."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE

DOC = """
### Collector watchdog

Every 30 minutes, reads the collectors' heartbeats (`state/heartbeats/*.json`,
rewritten once a minute by each collector) and the raw live snapshots of the
last hour whose upload is due (the hour before *now minus 20 minutes*).

The task fails, without retrying, and the failure alert (SNS email) names
each problem: a shard whose heartbeat is older than
`vieweratlas_heartbeat_stale_minutes` (default 10), no fresh heartbeat at
all, an unreadable heartbeat, or a missing hourly snapshot. A heartbeat older
than a day counts as a retired collector and only matters if none is fresh.
"""


@dag(
    schedule="*/30 * * * *",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(minutes=20),
    default_args=DEFAULT_ARGS,
    tags=["vieweratlas", "ops", "collector"],
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

    check_collectors()


collector_watchdog()
