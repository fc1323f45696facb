"""vod_discovery: new archive VODs of the day's live channels, their chat downloaded in parallel."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, dag, task

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE
from vieweratlas.settings import dag_setting
from vieweratlas.vod_operator import DownloadChatOperator

POOL = "vod_downloads"
DOWNLOAD_TIMEOUT = timedelta(hours=3)
VOD_PRESENCE_ASSET = Asset(name="vieweratlas_vod_presence")  # curated/vod_presence/

DOC = """
### VOD discovery

Daily (`VIEWERATLAS_VOD_DISCOVERY_SCHEDULE`). For every channel in the hourly
channel lists of the 24 hours before the data interval end, asks Helix
*Get Videos* (`type=archive`, `period=day`) for VODs created in that window.
VODs not yet in the ledger (`state/vod_ledger.parquet`) are recorded as
*discovered*; due VODs (new, or failed fewer than `vod_max_attempts` times for a
transient reason) are downloaded, at most `vod_max_per_run` per run (the rest
wait for the next run, so the map stays far below `max_map_length`).

`download_chat` is mapped, one instance per VOD, in the `vod_downloads` pool;
it reads `VIEWERATLAS_DOWNLOAD_MODE` when it runs:

* `ecs`: the Amazon provider's `EcsRunTaskOperator` runs the `vod-downloader`
  Fargate task (arguments in the container overrides, `reattach=True`, logs
  from CloudWatch);
* `local`: the same program as a child process of the task.

Exit code 3 (deleted or sub-only VOD, malformed chat) skips the instance;
other failures are retried. `record_outcomes` runs whatever happened, reads
each VOD's result object and updates the ledger, so a VOD is never downloaded
twice; it updates the `vieweratlas_vod_presence` asset.
"""


@dag(
    schedule=dag_setting("vod_discovery_schedule"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["vieweratlas", "ingestion", "twitch", "vod"],
    description="Find new VODs of the watched channels and download their chat.",
    doc_md=DOC,
)
def vod_discovery():
    @task
    def plan_downloads(data_interval_end=None) -> list[dict]:
        """Discover new VODs into the ledger; one job per VOD to download now."""
        from vieweratlas.airflow_glue import open_lake, runtime_settings
        from vieweratlas.vod_discovery import run_plan

        settings = runtime_settings()
        return run_plan(open_lake(settings), settings, data_interval_end)

    jobs = plan_downloads()

    downloads = DownloadChatOperator.partial(
        task_id="download_chat",
        pool=POOL,
        max_active_tis_per_dagrun=dag_setting("vod_download_concurrency"),
        execution_timeout=DOWNLOAD_TIMEOUT,
    ).expand(job=jobs)

    @task(trigger_rule="all_done", outlets=[VOD_PRESENCE_ASSET])
    def record_outcomes(jobs: list[dict] | None) -> dict:
        """Fold every planned VOD's outcome into the ledger, whatever the downloads did."""
        from vieweratlas.airflow_glue import open_lake, runtime_settings
        from vieweratlas.vod_discovery import run_collect

        settings = runtime_settings()
        return run_collect(open_lake(settings), settings, jobs)

    downloads >> record_outcomes(jobs)


vod_discovery()
