"""The ``download_chat`` operator: one VOD's chat, on ECS Fargate or as a local process.

The download mode and every ECS setting are read when the task runs
(:func:`vieweratlas.airflow_glue.runtime_settings`), not when the DAG file is
parsed: the DAG has the same shape in both modes, parses in the same time (the
Amazon provider's ECS operator pulls in boto3, ~0.5 s cold, and is imported only
inside :meth:`DownloadChatOperator.execute`), and a bad setting fails the task
with an alert that names the variable instead of removing the DAG.

In ``ecs`` mode the work is the Amazon provider's ``EcsRunTaskOperator``
(Fargate, ``awsvpc`` without a public IP, container-override ``command``,
``reattach=True``, CloudWatch logs, exit code 3 skips); :meth:`on_kill` stops the
Fargate task when Airflow kills ours (timeout, mark failed).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator

from vieweratlas.settings import Settings


def ecs_run_task(settings: Settings, job: dict[str, Any], task_id: str) -> Any:
    """The provider's ``EcsRunTaskOperator`` for one job, configured from ``settings``."""
    from airflow.providers.amazon.aws.operators.ecs import EcsRunTaskOperator

    from vieweratlas.vod_discovery import ecs_overrides
    from vieweratlas.vod_downloader import EXIT_PERMANENT

    return EcsRunTaskOperator(
        task_id=task_id,
        aws_conn_id=settings.aws_conn_id,
        cluster=settings.ecs_cluster,
        task_definition=settings.ecs_vod_task_definition,
        launch_type="FARGATE",
        overrides=ecs_overrides(settings.ecs_vod_container, job["args"]),
        network_configuration={
            "awsvpcConfiguration": {
                "subnets": list(settings.ecs_subnets),
                "securityGroups": list(settings.ecs_security_groups),
                "assignPublicIp": "DISABLED",
            }
        },
        container_name=settings.ecs_vod_container,
        awslogs_group=settings.ecs_log_group,
        awslogs_stream_prefix=f"ecs/{settings.ecs_vod_container}",
        awslogs_fetch_interval=timedelta(seconds=settings.ecs_waiter_delay),
        reattach=True,
        waiter_delay=settings.ecs_waiter_delay,
        skip_on_exit_code=EXIT_PERMANENT,
    )


class DownloadChatOperator(BaseOperator):
    """Download one VOD's chat (``job`` from ``plan_downloads``) in the configured mode."""

    ui_color = "#e8f1fb"

    def __init__(self, *, job: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self._ecs: Any = None

    def execute(self, context: Any) -> Any:
        """Run the download; exit codes map to success, skip, fail or retry."""
        from vieweratlas.airflow_glue import runtime_settings

        settings = runtime_settings()
        if settings.download_mode == "ecs":
            self._ecs = ecs_run_task(settings, self.job, self.task_id)
            return self._ecs.execute(context)
        from vieweratlas.vod_local import run_download

        return run_download(self.job["args"], settings)

    def on_kill(self) -> None:
        """Stop the Fargate task too (the local child dies with the task's process)."""
        if self._ecs is not None:
            self._ecs.on_kill()
