"""Upload the MWAA bundle (dist/) to the environment's bucket and point MWAA at the new files.

    python scripts/deploy_mwaa.py --stack-name vieweratlas            # read names from the stack
    python scripts/deploy_mwaa.py --stack-outputs outputs.json        # the same, from a file
    python scripts/deploy_mwaa.py --bucket B --environment E --env-file deploy.env
    ... --dry-run [--deployed-manifest manifest.json]                 # offline: print, send none

With ``--stack-name`` the bucket, environment and the ``VIEWERATLAS_*`` settings for
startup.sh come from the CloudFormation stack's outputs (``--env-file`` lines win);
``--stack-outputs`` reads them from a file instead (``aws cloudformation
describe-stacks --stack-name S > outputs.json``, or ``{"OutputKey": "value"}``).
The bundle build refuses settings that would run MWAA on local defaults.

``--dry-run`` sends nothing and needs no AWS account (use ``--stack-outputs`` or
``--bucket``): it prints the diff against the deployed bundle's ``manifest.json``
(which every deploy uploads last; pass a saved copy with ``--deployed-manifest``,
e.g. ``aws s3 cp s3://<bucket>/manifest.json .``; without it everything counts as
new) and the calls a deploy would make, an environment update only if
requirements, plugins or startup script differ.
DAG files are synced under ``dags/`` (stale ones deleted); MWAA picks them up by
itself. requirements.txt, plugins.zip and startup.sh are uploaded only when their
sha256 differs from the version MWAA runs, and ``UpdateEnvironment`` (a restart of
20-30 minutes) is called only when one of them changed.
"""

from __future__ import annotations

import argparse
import hashlib
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
MANIFEST = "manifest.json"
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


def read_outputs_file(path: Path) -> dict[str, str]:
    """Stack outputs from describe-stacks JSON, an Outputs list, or a flat object."""
    data = json.loads(path.read_text())
    if isinstance(data, dict) and "Stacks" in data:
        data = data["Stacks"][0].get("Outputs", [])
    if isinstance(data, list):
        return {o["OutputKey"]: o["OutputValue"] for o in data}
    if isinstance(data, dict) and all(isinstance(v, str) for v in data.values()):
        return dict(data)
    raise ValueError(f"{path}: not describe-stacks output nor an OutputKey -> value object")


@dataclass
class Diff:
    """What a deploy changes in the bucket, by bundle path."""

    added: list[str]
    changed: list[str]
    removed: list[str]
    unchanged: int

    def environment_changed(self) -> bool:
        """True when MWAA must be updated (requirements, plugins or startup script)."""
        files = {name for name, _ in ENVIRONMENT_FILES}
        return bool(files & set(self.added + self.changed + self.removed))

    def lines(self) -> list[str]:
        """Human-readable diff, one path per line."""
        out = [f"+ {k}" for k in self.added] + [f"~ {k}" for k in self.changed]
        out += [f"- {k}" for k in self.removed]
        return [*out, f"= {self.unchanged} unchanged"]


def diff_manifests(deployed: dict[str, str], bundle: dict[str, str]) -> Diff:
    """Compare the deployed manifest with the new one (manifest.json itself excluded)."""
    old = {k: v for k, v in deployed.items() if k != MANIFEST}
    new = {k: v for k, v in bundle.items() if k != MANIFEST}
    return Diff(
        added=sorted(set(new) - set(old)),
        changed=sorted(k for k in set(new) & set(old) if new[k] != old[k]),
        removed=sorted(k for k in set(old) - set(new) if k.startswith("dags/")),
        unchanged=sum(1 for k in set(new) & set(old) if new[k] == old[k]),
    )


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
        self,
        s3: Any,
        mwaa: Any,
        target: Target,
        dist: Path,
        dry_run: bool,
        pool_slots: int = 4,
        deployed: dict[str, str] | None = None,
    ) -> None:
        self.s3, self.mwaa, self.target, self.dist, self.dry_run = s3, mwaa, target, dist, dry_run
        self.pool_slots = pool_slots
        self.calls: list[str] = []
        self.manifest: dict[str, str] = json.loads((dist / MANIFEST).read_text())
        self.deployed = deployed  # the manifest in the bucket; None: read it (live) / none

    def deployed_manifest(self) -> dict[str, str]:
        """The manifest of the bundle in the bucket ({} when there is none)."""
        if self.deployed is None:
            self.deployed = {}
            if not self.dry_run:
                try:
                    body = self.s3.get_object(Bucket=self.target.bucket, Key=MANIFEST)["Body"]
                    self.deployed = json.loads(body.read())
                except ClientError:
                    pass
        return self.deployed

    def diff(self) -> Diff:
        """The bundle against what is deployed, printed."""
        diff = diff_manifests(self.deployed_manifest(), self.manifest)
        print(f"diff against the deployed bundle in s3://{self.target.bucket}/:")
        for line in diff.lines():
            print(f"  {line}")
        return diff

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
        sha = self.manifest.get(key) or hashlib.sha256(path.read_bytes()).hexdigest()
        params["Metadata"] = {"sha256": sha}
        shown = {**params, "Body": f"<{path.relative_to(self.dist.parent)}>"}
        result = self._call("s3", "put_object", shown, Body=path.read_bytes(), **params)
        return result.get("VersionId") if result else None

    def sync_dags(self) -> None:
        """Upload every file under dags/ and delete keys under dags/ the bundle no longer has."""
        keys = sorted(k for k in self.manifest if k.startswith("dags/"))
        deployed = self.deployed_manifest()
        for key in keys:
            if not self.dry_run or deployed.get(key) != self.manifest[key]:
                self._put(key)
        if self.dry_run:
            stale = sorted(k for k in deployed if k.startswith("dags/") and k not in self.manifest)
            if stale:
                delete = {"Objects": [{"Key": k} for k in stale], "Quiet": True}
                self._call("s3", "delete_objects", {"Bucket": self.target.bucket, "Delete": delete})
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
            same = self.deployed_manifest().get(key) == self.manifest[key]
            return "<VersionId in the bucket>" if same else None
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
        self.diff()
        self.sync_dags()
        if not upload_only:
            self.ensure_pools()
        params, changed = self.upload_environment_files()
        self._put(MANIFEST)  # last: it describes a complete upload
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
    where.add_argument("--stack-outputs", type=Path, help="the stack's outputs in a JSON file")
    where.add_argument("--bucket", help="MWAA source bucket (with --environment)")
    parser.add_argument("--environment", help="MWAA environment name (with --bucket)")
    parser.add_argument("--env-file", type=Path, help="VIEWERATLAS_*=value lines (win)")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--region", default=os.environ.get("AWS_REGION"))
    parser.add_argument("--pool-slots", type=int, default=4, help="slots of vod_downloads")
    parser.add_argument(
        "--dry-run", action="store_true", help="offline: print the diff and calls, send none"
    )
    parser.add_argument(
        "--deployed-manifest", type=Path, help="dry run: the deployed bundle's manifest.json"
    )
    parser.add_argument(
        "--upload-only", action="store_true", help="first deploy: upload, no MWAA calls"
    )
    args = parser.parse_args(argv)
    if args.bucket and not args.environment:
        parser.error("--bucket needs --environment")
    if args.dry_run and args.stack_name:
        parser.error(
            "--dry-run sends nothing, DescribeStacks included: save the outputs with "
            "`aws cloudformation describe-stacks --stack-name S > outputs.json` and pass "
            "--stack-outputs outputs.json"
        )
    deployed = None
    if args.deployed_manifest:
        deployed = json.loads(args.deployed_manifest.read_text())
    elif args.dry_run:
        print("no --deployed-manifest: every file counts as new")

    session = None
    if not args.dry_run:
        import boto3

        session = boto3.Session(region_name=args.region)
    if args.stack_name:
        target = target_from_stack(stack_outputs(session.client("cloudformation"), args.stack_name))
    elif args.stack_outputs:
        target = target_from_stack(read_outputs_file(args.stack_outputs))
    else:
        target = Target(args.bucket, args.environment)
    if args.env_file:
        target.env.update(build_mwaa_bundle.read_env_file(args.env_file))
    try:
        build_mwaa_bundle.build(args.dist, target.env)
    except ValueError as exc:
        parser.error(str(exc))
    s3 = None if session is None else session.client("s3")
    mwaa = None if session is None else session.client("mwaa")
    deployer = Deployer(
        s3, mwaa, target, args.dist.resolve(), args.dry_run, args.pool_slots, deployed
    )
    deployer.run(args.upload_only)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
