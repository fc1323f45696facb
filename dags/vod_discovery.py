"""vod_discovery: new archive VODs of the day's live channels, their chat downloaded in parallel."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, dag, task

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE
from vieweratlas.settings import load_settings
from vieweratlas.vod_downloader import EXIT_PERMANENT

SETTINGS = load_settings()
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

`download_chat` is mapped, one instance per VOD, in the `vod_downloads` pool:

* `VIEWERATLAS_DOWNLOAD_MODE=ecs`: `EcsRunTaskOperator` runs the
  `vod-downloader` Fargate task (arguments in the container overrides,
  `reattach=True`, logs from CloudWatch);
* `local`: the same program as a child process of the task.

Exit code 3 (deleted or sub-only VOD, malformed chat) skips the instance;
other failures are retried. `record_outcomes` runs whatever happened, reads
each VOD's result object and updates the ledger, so a VOD is never downloaded
twice; it updates the `vieweratlas_vod_presence` asset.
"""


def _ecs_overrides(job: dict) -> dict:
    """RunTask overrides for one job (runs on the worker, when the map expands)."""
    from vieweratlas.vod_discovery import ecs_overrides

    return ecs_overrides(SETTINGS.ecs_vod_container, job["args"])


@dag(
    schedule=SETTINGS.vod_discovery_schedule,
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

    if SETTINGS.download_mode == "ecs":
        from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

        downloads = EcsRunTaskOperator.partial(
            task_id="download_chat",
            aws_conn_id=SETTINGS.aws_conn_id,
            cluster=SETTINGS.ecs_cluster,
            task_definition=SETTINGS.ecs_vod_task_definition,
            launch_type="FARGATE",
            network_configuration={
                "awsvpcConfiguration": {
                    "subnets": list(SETTINGS.ecs_subnets),
                    "securityGroups": list(SETTINGS.ecs_security_groups),
                    "assignPublicIp": "DISABLED",
                }
            },
            container_name=SETTINGS.ecs_vod_container,
            awslogs_group=SETTINGS.ecs_log_group,
            awslogs_stream_prefix=f"ecs/{SETTINGS.ecs_vod_container}",
            awslogs_fetch_interval=timedelta(seconds=SETTINGS.ecs_waiter_delay),
            reattach=True,
            waiter_delay=SETTINGS.ecs_waiter_delay,
            skip_on_exit_code=EXIT_PERMANENT,
            pool=POOL,
            max_active_tis_per_dagrun=SETTINGS.vod_download_concurrency,
            execution_timeout=DOWNLOAD_TIMEOUT,
        ).expand(overrides=jobs.map(_ecs_overrides))
    else:

        @task(
            task_id="download_chat",
            pool=POOL,
            max_active_tis_per_dagrun=SETTINGS.vod_download_concurrency,
            execution_timeout=DOWNLOAD_TIMEOUT,
        )
        def download_chat(job: dict) -> int:
            """Run the downloader program for one VOD as a local process."""
            from vieweratlas.airflow_glue import runtime_settings
            from vieweratlas.vod_local import run_download

            return run_download(job["args"], runtime_settings())

        downloads = download_chat.expand(job=jobs)

    @task(trigger_rule="all_done", outlets=[VOD_PRESENCE_ASSET])
    def record_outcomes(jobs: list[dict] | None) -> dict:
        """Fold every planned VOD's outcome into the ledger, whatever the downloads did."""
        from vieweratlas.airflow_glue import open_lake, runtime_settings
        from vieweratlas.vod_discovery import run_collect

        settings = runtime_settings()
        return run_collect(open_lake(settings), settings, jobs)

    downloads >> record_outcomes(jobs)


vod_discovery()
