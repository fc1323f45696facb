"""Local download mode: run the downloader program as a child process of the task.

The same program the ECS task runs (``python -m vieweratlas.vod_downloader``),
with the same arguments. Its exit code becomes the task's state the way
``EcsRunTaskOperator(skip_on_exit_code=...)`` does it in ECS mode: permanent
failures skip (the ledger records them; retrying cannot help), bad arguments
or a missing CLI fail without retries, anything else fails and is retried.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

from vieweratlas import vod_downloader as program
from vieweratlas.settings import Settings

INCLUDE_DIR = Path(program.__file__).resolve().parents[1]

log = logging.getLogger(__name__)


def child_env(settings: Settings) -> dict[str, str]:
    """The child's environment: ours, the library on the path, S3 credentials if needed."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(INCLUDE_DIR), env.get("PYTHONPATH")] if p)
    env["VIEWERATLAS_DOWNLOADER_CLI"] = settings.downloader_cli
    if settings.is_s3:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        hook = AwsBaseHook(aws_conn_id=settings.aws_conn_id, client_type="s3")
        credentials = hook.get_credentials()
        env["AWS_ACCESS_KEY_ID"] = credentials.access_key
        env["AWS_SECRET_ACCESS_KEY"] = credentials.secret_key
        if credentials.token:
            env["AWS_SESSION_TOKEN"] = credentials.token
        else:
            env.pop("AWS_SESSION_TOKEN", None)
        if hook.conn_config.endpoint_url:
            env["AWS_ENDPOINT_URL"] = hook.conn_config.endpoint_url
        if hook.conn_region_name:
            env["AWS_DEFAULT_REGION"] = hook.conn_region_name
    return env


def run_download(args: list[str], settings: Settings) -> int:
    """Run the downloader for one VOD; raise the Airflow exception its exit code calls for."""
    from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

    command = [sys.executable, "-m", "vieweratlas.vod_downloader", *args]
    done = subprocess.run(command, env=child_env(settings), check=False)
    code = done.returncode
    if code == program.EXIT_OK:
        return code
    if code == program.EXIT_PERMANENT:
        raise AirflowSkipException(f"VOD unavailable or its chat malformed (exit {code})")
    if code in (program.EXIT_USAGE, program.EXIT_CLI_MISSING):
        raise AirflowFailException(f"the downloader cannot run here (exit {code}); see the log")
    raise AirflowException(f"the downloader failed (exit {code}); it will be retried")
