"""deploy_mwaa.py against a moto server over HTTP (S3, CloudFormation) and a stubbed MWAA.

moto has no MWAA backend, so MWAA calls go through botocore's Stubber, which still
validates every request against the real service model.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from production_env import PRODUCTION_ENV

import build_mwaa_bundle as bundle
import deploy_mwaa as deploy

pytestmark = pytest.mark.xdist_group("deploy")

ENV = "vieweratlas"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    out = tmp_path / "dist"
    bundle.build(out, {**PRODUCTION_ENV, "VIEWERATLAS_TOP_CHANNELS": "100"})
    return out


@pytest.fixture
def bucket(moto_server) -> str:
    name = f"airflow-va-{uuid.uuid4().hex[:10]}"
    s3 = moto_server.client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


def mwaa_stub() -> tuple[object, Stubber]:
    client = boto3.client("mwaa", region_name="us-east-1")
    return client, Stubber(client)


def pool_call(stub: Stubber, method: str = "PATCH", path: str = "/pools/vod_downloads") -> None:
    body = {"name": "vod_downloads", "slots": 4, "include_deferred": False}
    body["description"] = deploy.POOLS["vod_downloads"]
    expected = {"Name": ENV, "Method": method, "Path": path, "Body": body}
    stub.add_response("invoke_rest_api", {"RestApiStatusCode": 200}, expected)


def test_first_deploy_uploads_everything_and_updates_the_environment(moto_server, bucket, dist):
    s3 = moto_server.client("s3")
    s3.put_object(Bucket=bucket, Key="dags/removed_dag.py", Body=b"old")
    mwaa, stub = mwaa_stub()
    pool_call(stub)
    stub.add_response("update_environment", {"Arn": "arn:aws:airflow:us-east-1:1:environment/x"})
    with stub:
        deploy.Deployer(s3, mwaa, deploy.Target(bucket, ENV), dist, dry_run=False).run()
        stub.assert_no_pending_responses()

    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    manifest = json.loads((dist / "manifest.json").read_text())
    assert keys == {*manifest, "manifest.json"}, "stale DAG deleted, every bundle file uploaded"
    assert json.loads(s3.get_object(Bucket=bucket, Key="manifest.json")["Body"].read()) == manifest
    head = s3.head_object(Bucket=bucket, Key="requirements.txt")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["sha256"] == manifest["requirements.txt"]
    body = s3.get_object(Bucket=bucket, Key="dags/vieweratlas/settings.py")["Body"].read()
    assert body == (dist / "dags" / "vieweratlas" / "settings.py").read_bytes()


def test_update_environment_names_the_uploaded_versions(moto_server, bucket, dist):
    s3 = moto_server.client("s3")
    mwaa, stub = mwaa_stub()
    pool_call(stub)
    stub.add_response("update_environment", {"Arn": "arn:aws:airflow:us-east-1:1:environment/x"})
    deployer = deploy.Deployer(s3, mwaa, deploy.Target(bucket, ENV), dist, dry_run=False)
    with stub:
        deployer.run()
    update = deployer.calls[-1]
    for key in ("requirements.txt", "startup.sh"):
        version = s3.head_object(Bucket=bucket, Key=key)["VersionId"]
        assert f"'{version}'" in update, update


def test_unchanged_environment_files_do_not_restart_mwaa(moto_server, bucket, dist):
    s3 = moto_server.client("s3")
    mwaa, stub = mwaa_stub()
    pool_call(stub)
    stub.add_response("update_environment", {"Arn": "arn:aws:airflow:us-east-1:1:environment/x"})
    pool_call(stub)  # second deploy: pool again, but no update_environment
    target = deploy.Target(bucket, ENV)
    with stub:
        deploy.Deployer(s3, mwaa, target, dist, dry_run=False).run()
        calls = deploy.Deployer(s3, mwaa, target, dist, dry_run=False).run()
        stub.assert_no_pending_responses()
    assert not any("update_environment" in c for c in calls)
    versions = s3.list_object_versions(Bucket=bucket, Prefix="requirements.txt")["Versions"]
    assert len(versions) == 1


def test_missing_pool_is_created(moto_server, bucket, dist):
    s3 = moto_server.client("s3")
    mwaa, stub = mwaa_stub()
    stub.add_client_error(
        "invoke_rest_api",
        service_error_code="RestApiClientException",
        http_status_code=400,
        modeled_fields={"RestApiStatusCode": 404, "RestApiResponse": {"detail": "not found"}},
    )
    pool_call(stub, "POST", "/pools")
    deployer = deploy.Deployer(s3, mwaa, deploy.Target(bucket, ENV), dist, dry_run=False)
    with stub:
        deployer.ensure_pools()
        stub.assert_no_pending_responses()
    assert [c.split("Method=")[1][:6] for c in deployer.calls] == ["'PATCH", "'POST'"]


def test_upload_only_never_calls_mwaa(moto_server, bucket, dist):
    s3 = moto_server.client("s3")
    mwaa, stub = mwaa_stub()
    with stub:  # no responses queued: any MWAA call would fail
        calls = deploy.Deployer(s3, mwaa, deploy.Target(bucket, ENV), dist, False).run(True)
    assert calls and all(c.startswith("s3.") for c in calls)


def test_dry_run_prints_every_call_and_sends_none(dist, capsys):
    calls = deploy.Deployer(None, None, deploy.Target("b", ENV), dist, dry_run=True).run()
    out = capsys.readouterr().out
    dag_files = [k for k in json.loads((dist / "manifest.json").read_text()) if k[:5] == "dags/"]
    puts = [c for c in calls if c.startswith("s3.put_object(")]
    plugins = int((dist / "plugins.zip").exists())
    assert len(puts) == len(dag_files) + 3 + plugins  # + requirements, startup.sh, manifest
    assert "Key='dags/daily_analysis.py'" in out and "ServerSideEncryption='AES256'" in out
    assert calls[-1].startswith("mwaa.update_environment(Name='vieweratlas'")
    assert "RequirementsS3Path='requirements.txt'" in calls[-1]
    assert all(line.startswith("DRY-RUN ") for line in out.splitlines() if "(" in line)


def test_stack_outputs_become_bucket_environment_and_settings(moto_server):
    outputs = {
        "MwaaBucketName": "airflow-va-1",
        "MwaaEnvironmentName": ENV,
        "DataRoot": "s3://va-data-1/lake",
        "AlertsTopicArn": "arn:aws:sns:us-east-1:123456789012:va-alerts",
        "EcsClusterName": "vieweratlas",
        "VodTaskDefinitionFamily": "vieweratlas-vod-downloader",
        "VodContainerName": "vod-downloader",
        "TaskSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "TaskSecurityGroupId": "sg-0123456789abcdef0",
        "VodLogGroupName": "/vieweratlas/vod-downloader",
    }
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    }
    cfn = moto_server.client("cloudformation")
    name = f"va-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps(template))
    target = deploy.target_from_stack(deploy.stack_outputs(cfn, name))
    assert (target.bucket, target.environment) == ("airflow-va-1", ENV)
    assert target.env["VIEWERATLAS_DOWNLOAD_MODE"] == "ecs"
    assert target.env["VIEWERATLAS_ECS_SUBNETS"] == outputs["TaskSubnetIds"]
    bundle.check_env(target.env)  # every value passes the project's settings parser


def test_dry_run_shows_the_real_diff_against_the_deployed_manifest(dist, capsys):
    """Offline: only changed files are put, the stale DAG deleted, no restart if env unchanged."""
    manifest = json.loads((dist / "manifest.json").read_text())
    deployed = dict(manifest)
    deployed["dags/channel_refresh.py"] = "0" * 64  # changed since the last deploy
    deployed["dags/removed_dag.py"] = "1" * 64  # no longer in the bundle
    del deployed["dags/vod_discovery.py"]  # new in this bundle
    target = deploy.Target("b", ENV)
    calls = deploy.Deployer(None, None, target, dist, True, deployed=deployed).run()
    out = capsys.readouterr().out

    assert "~ dags/channel_refresh.py" in out and "+ dags/vod_discovery.py" in out
    assert "- dags/removed_dag.py" in out
    puts = sorted(c.split("Key=")[1].split(",")[0] for c in calls if "put_object" in c)
    assert puts == ["'dags/channel_refresh.py'", "'dags/vod_discovery.py'", "'manifest.json'"]
    assert [c for c in calls if "delete_objects" in c and "removed_dag.py" in c]
    assert not [c for c in calls if c.startswith("mwaa.update_environment")]
    assert "no environment update" in out

    deployed["startup.sh"] = "2" * 64  # a settings change: MWAA must restart
    calls = deploy.Deployer(None, None, target, dist, True, deployed=deployed).run()
    assert calls[-1].startswith("mwaa.update_environment(") and "StartupScriptS3Path" in calls[-1]


def test_dry_run_from_an_outputs_file_needs_no_aws(tmp_path, monkeypatch, capsys):
    """The documented dry run, as a command, with no credentials or region at all."""
    for name in [n for n in os.environ if n.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    outputs = {
        "MwaaBucketName": "airflow-va-1", "MwaaEnvironmentName": ENV,
        "DataRoot": "s3://va-data-1/lake",
        "AlertsTopicArn": "arn:aws:sns:us-east-1:123456789012:va-alerts",
        "TaskSubnetIds": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "TaskSecurityGroupId": "sg-0123456789abcdef0",
    }  # fmt: skip
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({"Stacks": [{"Outputs": [
        {"OutputKey": k, "OutputValue": v} for k, v in outputs.items()
    ]}]}))  # fmt: skip
    dist = tmp_path / "dist"
    args = ["--stack-outputs", str(path), "--dry-run", "--dist", str(dist)]
    assert deploy.main(args) == 0
    out = capsys.readouterr().out
    assert "every file counts as new" in out
    assert "VIEWERATLAS_DATA_ROOT=s3://va-data-1/lake" in (dist / "startup.sh").read_text()
    with pytest.raises(SystemExit):  # --stack-name would call DescribeStacks
        deploy.main(["--stack-name", "vieweratlas", "--dry-run", "--dist", str(dist)])


def test_a_deploy_without_production_settings_is_refused(tmp_path, capsys):
    args = ["--bucket", "b", "--environment", ENV, "--dry-run", "--dist", str(tmp_path / "d")]
    with pytest.raises(SystemExit):
        deploy.main(args)
    assert "VIEWERATLAS_DATA_ROOT is not set" in capsys.readouterr().err
