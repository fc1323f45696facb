"""Upload the MWAA bundle (dist/) to the environment's bucket and point MWAA at the new files.

    python scripts/deploy_mwaa.py --stack-name vieweratlas            # read names from the stack
    python scripts/deploy_mwaa.py --bucket B --environment E --env-file deploy.env
    ... --dry-run                                                     # print the calls, send none

With ``--stack-name`` the bucket, environment and the ``VIEWERATLAS_*`` settings for
startup.sh come from the CloudFormation stack's outputs (``--env-file`` lines win).
DAG files are synced under ``dags/`` (stale ones deleted); MWAA picks them up by
itself. requirements.txt, plugins.zip and startup.sh are uploaded only when their
sha256 differs from the version MWAA runs, and ``UpdateEnvironment`` (a restart of
20-30 minutes) is called only when one of them changed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

import build_mwaa_bundle  # noqa: E402

#: Stack output -> setting written into startup.sh.
OUTPUT_SETTINGS = {
    "DataRoot": "VIEWERATLAS_DATA_ROOT",
    "AlertsTopicArn": "VIEWERATLAS_SNS_TOPIC_ARN",
    "EcsClusterName": "VIEWERATLAS_ECS_CLUSTER",
    "VodTaskDefinitionFamily": "VIEWERATLAS_ECS_VOD_TASK_DEFINITION",
    "VodContainerName": "VIEWERATLAS_ECS_VOD_CONTAINER",
    "TaskSubnetIds": "VIEWERATLAS_ECS_SUBNETS",
    "TaskSecurityGroupId": "VIEWERATLAS_ECS_SECURITY_GROUPS",
    "VodLogGroupName": "VIEWERATLAS_ECS_LOG_GROUP",
    "AirflowUiUrl": "VIEWERATLAS_LOG_BASE_URL",
}
#: Top-level files MWAA installs at start-up: (file in dist, UpdateEnvironment key prefix).
ENVIRONMENT_FILES = (
    ("requirements.txt", "Requirements"),
    ("plugins.zip", "Plugins"),
    ("startup.sh", "StartupScript"),
)
SSE = {"ServerSideEncryption": "AES256"}
#: Pools the DAGs use (airflow_settings.yaml has the same for `astro dev start`).
POOLS = {"vod_downloads": "VOD chat downloads running at once (ECS tasks)"}


@dataclass
class Target:
    """Where the bundle goes and which settings startup.sh carries."""

    bucket: str
    environment: str
    env: dict[str, str] = field(default_factory=dict)


def target_from_stack(outputs: dict[str, str]) -> Target:
    """Bucket, environment and settings from the stack's outputs (see infra/vieweratlas.yaml)."""
    env = {name: outputs[key] for key, name in OUTPUT_SETTINGS.items() if outputs.get(key)}
    env["VIEWERATLAS_DOWNLOAD_MODE"] = "ecs"
    return Target(outputs["MwaaBucketName"], outputs["MwaaEnvironmentName"], env)


def stack_outputs(cfn: Any, stack_name: str) -> dict[str, str]:
    """``{OutputKey: OutputValue}`` of one CloudFormation stack."""
    stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def show(call: str, **params: Any) -> str:
    """One AWS call as ``service.operation(Param=value, ...)``."""
    return f"{call}({', '.join(f'{k}={v!r}' for k, v in params.items())})"


class Deployer:
    """Runs (or, with ``dry_run``, only prints) the S3 and MWAA calls of one deployment."""

    def __init__(
        self, s3: Any, mwaa: Any, target: Target, dist: Path, dry_run: bool, pool_slots: int = 4
    ) -> None:
        self.s3, self.mwaa, self.target, self.dist, self.dry_run = s3, mwaa, target, dist, dry_run
        self.pool_slots = pool_slots
        self.calls: list[str] = []
        self.manifest: dict[str, str] = json.loads((dist / "manifest.json").read_text())

    def _call(self, service: str, operation: str, shown: dict[str, Any], **params: Any) -> Any:
        line = show(f"{service}.{operation}", **shown)
        self.calls.append(line)
        print(("DRY-RUN " if self.dry_run else "") + line)
        if self.dry_run:
            return None
        return getattr(self.s3 if service == "s3" else self.mwaa, operation)(**params)

    def _put(self, key: str) -> str | None:
        path = self.dist / key
        params = {"Bucket": self.target.bucket, "Key": key, **SSE}
        params["Metadata"] = {"sha256": self.manifest[key]}
        shown = {**params, "Body": f"<{path.relative_to(self.dist.parent)}>"}
        result = self._call("s3", "put_object", shown, Body=path.read_bytes(), **params)
        return result.get("VersionId") if result else None

    def sync_dags(self) -> None:
        """Upload every file under dags/ and delete keys under dags/ the bundle no longer has."""
        keys = sorted(k for k in self.manifest if k.startswith("dags/"))
        for key in keys:
            self._put(key)
        if self.dry_run:
            line = f"s3.list_objects_v2(Bucket={self.target.bucket!r}, Prefix='dags/')"
            line += " then s3.delete_objects"
            print(f"DRY-RUN {line} for keys not in the bundle")
            self.calls.append(line)
            return
        stale: list[str] = []
        for page in self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.target.bucket, Prefix="dags/"
        ):
            stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in self.manifest]
        if stale:
            delete = {"Objects": [{"Key": k} for k in stale], "Quiet": True}
            self._call("s3", "delete_objects", {"Bucket": self.target.bucket, "Delete": delete},
                       Bucket=self.target.bucket, Delete=delete)  # fmt: skip

    def _current_version(self, key: str) -> str | None:
        """The version id of ``key`` when its stored sha256 equals the bundle's, else None."""
        if self.dry_run:
            return None
        try:
            head = self.s3.head_object(Bucket=self.target.bucket, Key=key)
        except ClientError:
            return None
        if head.get("Metadata", {}).get("sha256") == self.manifest[key]:
            return head.get("VersionId")
        return None

    def upload_environment_files(self) -> tuple[dict[str, str], bool]:
        """UpdateEnvironment parameters for the top-level files, and whether any changed."""
        params: dict[str, str] = {}
        changed = False
        for name, prefix in ENVIRONMENT_FILES:
            if name not in self.manifest:
                continue
            version = self._current_version(name)
            if version is None:
                changed = True
                version = self._put(name) or f"<VersionId of the new {name}>"
            params[f"{prefix}S3Path"] = name
            params[f"{prefix}S3ObjectVersion"] = version
        return params, changed

    def ensure_pools(self) -> None:
        """Create or resize the DAGs' pools through MWAA's Airflow REST API (tasks in a
        missing pool are never scheduled)."""
        for name, description in POOLS.items():
            body = {"name": name, "slots": self.pool_slots, "description": description}
            body["include_deferred"] = False
            params = {"Name": self.target.environment, "Method": "PATCH", "Body": body}
            params["Path"] = f"/pools/{name}"
            try:
                self._call("mwaa", "invoke_rest_api", params, **params)
            except ClientError as exc:  # Airflow's 404 arrives as RestApiClientException
                if exc.response.get("RestApiStatusCode") != 404:
                    raise
                params.update(Method="POST", Path="/pools")
                self._call("mwaa", "invoke_rest_api", params, **params)

    def run(self, upload_only: bool = False) -> list[str]:
        """The whole deployment; returns the calls made (or printed).

        ``upload_only`` stops after the uploads: the first deploy, before the stack has
        created the environment (which needs requirements.txt and startup.sh in place).
        """
        self.sync_dags()
        if not upload_only:
            self.ensure_pools()
        params, changed = self.upload_environment_files()
        if upload_only:
            print("uploaded; the environment is not touched (--upload-only)")
        elif changed:
            params = {"Name": self.target.environment, **params}
            self._call("mwaa", "update_environment", params, **params)
        else:
            print("requirements, plugins and startup script unchanged: no environment update")
        return self.calls


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack-name", help="CloudFormation stack of infra/vieweratlas.yaml")
    where.add_argument("--bucket", help="MWAA source bucket (with --environment)")
    parser.add_argument("--environment", help="MWAA environment name (with --bucket)")
    parser.add_argument("--env-file", type=Path, help="VIEWERATLAS_*=value lines (win)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION"))
    parser.add_argument("--pool-slots", type=int, default=4, help="slots of vod_downloads")
    parser.add_argument("--dry-run", action="store_true", help="print the calls, send none")
    parser.add_argument(
        "--upload-only", action="store_true", help="first deploy: upload, no MWAA calls"
    )
    args = parser.parse_args(argv)
    if args.bucket and not args.environment:
        parser.error("--bucket needs --environment")

    import boto3

    session = boto3.Session(region_name=args.region)
    if args.stack_name:
        target = target_from_stack(stack_outputs(session.client("cloudformation"), args.stack_name))
    else:
        target = Target(args.bucket, args.environment)
    if args.env_file:
        target.env.update(build_mwaa_bundle.read_env_file(args.env_file))
    build_mwaa_bundle.build(args.dist, target.env)
    s3 = None if args.dry_run else session.client("s3")
    mwaa = None if args.dry_run else session.client("mwaa")
    Deployer(s3, mwaa, target, args.dist.resolve(), args.dry_run, args.pool_slots).run(
        args.upload_only
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
