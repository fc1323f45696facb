"""Retention cleanup: delete data older than each dataset's window, once a day."""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE

DOC = """
### Retention cleanup

Deletes objects in the data lake that are older than their dataset's window,
judged by the `date=` partition in the key (never by object timestamps):
raw live snapshots (`retention_raw_live_days` (in `vieweratlas_settings`), default 30), raw
VOD chat (`..._raw_vod_days`, 7), curated presence (`..._curated_days`, 90)
and hourly channel lists (`..._channels_days`, 30). Analysis outputs are kept.
Windows are settings: environment variables, or Airflow Variables from the UI.

**Dry run**: runs triggered from the UI only list what would go unless you
untick `dry_run`; scheduled runs delete. Every run writes counts and bytes per
dataset to the log and to `reports/retention/date=YYYY-MM-DD/report.json`
(`dry_run.json` for dry runs).

It refuses (fails without retrying, and alerts) if the data root is a bucket
root, a window would delete today's partitions, or the run is dated in the future.
"""


@dag(
    schedule="@daily",
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vieweratlas", "ops"],
    description="Daily: delete lake partitions older than their retention window.",
    doc_md=DOC,
    params={
        "dry_run": Param(
            True,
            type="boolean",
            title="Dry run",
            description_md="Manual runs: only **list** what would be deleted. Scheduled runs "
            "always delete.",
        ),
    },
)
def retention_cleanup():
    @task
    def cleanup(params=None, dag_run=None) -> dict:
        """Plan, delete and report; a refused policy fails without retries."""
        from airflow.sdk.exceptions import AirflowFailException

        from vieweratlas import retention
        from vieweratlas.airflow_glue import open_lake, runtime_settings

        settings = runtime_settings()
        dry_run = retention.is_dry_run(dag_run.run_type, params["dry_run"])
        try:
            report = retention.run(
                open_lake(settings),
                retention.windows(settings),
                today=dag_run.run_after.date(),
                dry_run=dry_run,
            )
        except retention.RetentionRefused as exc:
            raise AirflowFailException(f"retention refused: {exc}") from exc
        return {k: report[k] for k in ("date", "dry_run", "objects", "bytes", "report_url")}

    cleanup()


retention_cleanup()
