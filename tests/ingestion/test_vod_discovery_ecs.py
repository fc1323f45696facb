"""vod_discovery in ECS mode: mapped EcsRunTaskOperator instances call RunTask on moto.

moto accepts Fargate ``RunTask`` but never runs or stops anything, and leaves
each container ``PENDING`` with exit code 0. The test plays Fargate: a thread
watches the cluster, runs the real downloader program with each task's
container-override command, then records its exit code on the moto task and
stops it. The operator, the DAG and the downloader are the production code.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest
from test_channel_refresh import load_dag, task_states
from test_vod_discovery import DAG_FILE, mapped_states

from conftest import DELETED_VOD, END, MIDNIGHT_VOD, UNICODE_VOD
from vieweratlas import lake as keys
from vieweratlas import vod_ledger

ACCOUNT, REGION = "123456789012", "us-east-1"
LOG_GROUP = "/va-test/vod-downloader"


class FakeFargate(threading.Thread):
    """Runs every RUNNING task of the cluster as a local process, then stops it."""

    def __init__(self, moto, cluster: str) -> None:
        super().__init__(daemon=True)
        self.ecs = moto.client("ecs")
        self.cluster = cluster
        self.handled: dict[str, dict] = {}  # task arn -> the RunTask it received
        self.exit_codes: dict[str, int] = {}
        self.outputs: dict[str, str] = {}
        self.logs = moto.client("logs")
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            arns = self.ecs.list_tasks(cluster=self.cluster, desiredStatus="RUNNING")["taskArns"]
            for arn in arns:
                if arn not in self.handled:
                    self._run_one(arn)
            time.sleep(0.2)

    def _ship_logs(self, arn: str, output: str) -> None:
        """What the awslogs driver does: the container's output into its log stream."""
        group, stream = LOG_GROUP, f"ecs/vod-downloader/{arn.rsplit('/', 1)[-1]}"
        self.logs.create_log_stream(logGroupName=group, logStreamName=stream)
        events = [
            {"timestamp": int(time.time() * 1000), "message": line}
            for line in output.splitlines()
            if line.strip()
        ] or [{"timestamp": int(time.time() * 1000), "message": "(no output)"}]
        self.logs.put_log_events(logGroupName=group, logStreamName=stream, logEvents=events)
        self.outputs[arn] = output

    def _run_one(self, arn: str) -> None:
        from moto.backends import get_backend

        (task,) = self.ecs.describe_tasks(cluster=self.cluster, tasks=[arn])["tasks"]
        self.handled[arn] = task
        command = task["overrides"]["containerOverrides"][0]["command"]
        done = subprocess.run(
            [sys.executable, "-m", "vieweratlas.vod_downloader", *command],
            capture_output=True,
            timeout=120,
            check=False,
        )
        self.exit_codes[arn] = done.returncode
        self._ship_logs(arn, done.stderr.decode(errors="replace"))
        # moto's gap: containers never leave PENDING and always report exit code 0
        backend = get_backend("ecs")[ACCOUNT][REGION]
        for container in backend.tasks[self.cluster][arn].containers:
            container.last_status = container.lastStatus = "STOPPED"
            container.exitCode = container.exit_code = done.returncode
        self.ecs.stop_task(cluster=self.cluster, task=arn, reason="Essential container exited")


@pytest.fixture
def ecs_world(moto_server, monkeypatch):
    """Cluster, task definition, VPC and log group on moto; the ECS settings pointing there."""
    from moto.ec2.models.elastic_network_interfaces import NetworkInterface

    # moto's gap: Fargate RunTask reads an ENI attribute its EC2 model never sets
    monkeypatch.setattr(
        NetworkInterface, "private_dns_name", "ip-10-9-1-9.ec2.internal", raising=False
    )
    ec2 = moto_server.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName="vod", Description="vod", VpcId=vpc)["GroupId"]
    ecs = moto_server.client("ecs")
    ecs.create_cluster(clusterName="va-test")
    ecs.register_task_definition(
        family="va-vod-downloader",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[
            {
                "name": "vod-downloader",
                "image": "vieweratlas/vod-downloader",
                "essential": True,
                "cpu": 256,  # moto's RunTask needs container-level cpu/memory (AWS does not)
                "memory": 512,
            }
        ],
    )
    moto_server.client("logs").create_log_group(logGroupName=LOG_GROUP)
    for name, value in {
        "DOWNLOAD_MODE": "ecs",
        "ECS_CLUSTER": "va-test",
        "ECS_VOD_TASK_DEFINITION": "va-vod-downloader",
        "ECS_SUBNETS": subnet,
        "ECS_SECURITY_GROUPS": group,
        "ECS_LOG_GROUP": LOG_GROUP,
        "ECS_WAITER_DELAY": "1",
    }.items():
        monkeypatch.setenv(f"VIEWERATLAS_{name}", value)
    # moto's gap: tasks drift to STOPPED on their own after a few DescribeTasks; keep
    # them RUNNING until the fake Fargate has run the container and stops them
    from moto.moto_api import state_manager

    state_manager.set_transition("ecs::task", {"progression": "manual", "times": 10**9})
    fargate = FakeFargate(moto_server, "va-test")
    fargate.start()
    yield {"subnet": subnet, "group": group, "fargate": fargate}
    fargate.halt.set()
    fargate.join(timeout=5)
    state_manager.unset_transition("ecs::task")


@pytest.mark.slow
@pytest.mark.timeout(150)
@pytest.mark.parametrize("data_root", ["s3"], indirect=True)
def test_ecs_mode_runs_one_fargate_task_per_vod(vod_world, ecs_world, data_root, fake_cli):
    store = vod_world
    dag = load_dag("vod_discovery", DAG_FILE)
    assert type(dag.get_task("download_chat")).__name__ == "MappedOperator"
    assert dag.get_task("download_chat").operator_name == "DownloadChatOperator"
    # if something breaks, fail now instead of waiting out two retry delays (not needed when green)
    dag.get_task("download_chat").partial_kwargs["retries"] = 0

    run = dag.test(logical_date=END)

    assert run.state == "success", task_states(run)
    fargate = ecs_world["fargate"]
    assert mapped_states(run) == ["skipped", "success", "success"], fargate.outputs
    tasks = list(fargate.handled.values())
    commands = sorted(t["overrides"]["containerOverrides"][0]["command"] for t in tasks)
    assert commands == [
        ["--vod-id", vod, "--data-root", data_root]
        for vod in sorted([MIDNIGHT_VOD, UNICODE_VOD, DELETED_VOD])
    ]
    assert {t["overrides"]["containerOverrides"][0]["name"] for t in tasks} == {"vod-downloader"}
    assert {t["launchType"] for t in tasks} == {"FARGATE"}
    assert len({t["startedBy"] for t in tasks}) == 3  # one reattach key per mapped instance
    assert sorted(fargate.exit_codes.values()) == [0, 0, 3]

    ledger = vod_ledger.read_ledger(store)
    assert ledger[MIDNIGHT_VOD].status == "downloaded"
    assert ledger[UNICODE_VOD].status == "downloaded"
    assert ledger[DELETED_VOD].status == "failed" and ledger[DELETED_VOD].permanent
    assert store.exists(keys.vod_presence("2026-11-22", MIDNIGHT_VOD))
    assert fake_cli.downloads_of(MIDNIGHT_VOD) == 1
