"""Security and consistency properties of infra/vieweratlas.yaml that linters do not check.

cfn-lint (schema) and checkov (security rules) run in `make iac`; these tests pin what
this project promises: least privilege, no public data, encryption, no hard-coded
accounts or regions, and names that match the settings the DAGs and scripts use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode

import build_mwaa_bundle as bundle
import deploy_mwaa as deploy
from vieweratlas.airflow_glue import SETTINGS_VARIABLE
from vieweratlas.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = ROOT / "infra" / "vieweratlas.yaml"
# Actions AWS does not scope to resources (or MWAA's documented role needs as "*").
STAR_RESOURCE_OK = {
    "ecr:GetAuthorizationToken",
    "s3:GetAccountPublicAccessBlock",
    "logs:DescribeLogGroups",
    "cloudwatch:PutMetricData",
    "ecs:DescribeTaskDefinition",
    "ecs:ListTasks",
}


def plain(node: Any) -> Any:
    """cfn-lint's nodes as plain dicts and lists."""
    return json.loads(json.dumps(node, default=str))


@pytest.fixture(scope="module")
def template() -> dict:
    decoded, problems = decode(str(TEMPLATE_PATH))
    assert not problems, problems
    return plain(decoded)


def resources(template: dict, kind: str) -> dict[str, dict]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def statements(template: dict) -> list[tuple[str, dict]]:
    """Every IAM statement of every role, as (role name, statement)."""
    found = []
    for name, role in resources(template, "AWS::IAM::Role").items():
        for policy in role["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                found.append((name, statement))
    return found


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def test_no_hard_coded_accounts_or_regions():
    text = TEMPLATE_PATH.read_text()
    assert not re.search(r"\b\d{12}\b", text), "use ${AWS::AccountId}"
    assert not re.search(r"\b(us|eu|ap|sa|ca|me|af)-[a-z]+-\d\b", text), "use ${AWS::Region}"
    assert "arn:aws:" not in text, "use arn:${AWS::Partition}:"


def test_buckets_are_private_encrypted_versioned_and_tls_only(template):
    buckets = resources(template, "AWS::S3::Bucket")
    assert set(buckets) == {"DataBucket", "MwaaBucket"}
    policies = resources(template, "AWS::S3::BucketPolicy")
    for name, bucket in buckets.items():
        props = bucket["Properties"]
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}, name
        assert len(props["PublicAccessBlockConfiguration"]) == 4, name
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
        assert props["VersioningConfiguration"]["Status"] == "Enabled", name
        assert bucket["DeletionPolicy"] == "Retain", name
        denies = [
            s
            for p in policies.values()
            if p["Properties"]["Bucket"] == {"Ref": name}
            for s in p["Properties"]["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] == "false"
        ]
        assert denies, f"{name} must deny plain HTTP"
    assert buckets["MwaaBucket"]["Properties"]["BucketName"]["Fn::Sub"].startswith("airflow-")


def test_lifecycle_rules_back_up_every_retained_dataset(template):
    from vieweratlas import lake

    rules = template["Resources"]["DataBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    prefixes = [r["Prefix"]["Fn::Sub"] for r in rules if "Prefix" in r]
    retained = [d for d in vars(lake).values() if isinstance(d, lake.Dataset)]
    retained = [d for d in retained if d.retention_setting]
    # A lifecycle rule matches a key prefix: files picked by name inside each day's
    # analysis partition (analysis_bulk) have no backstop; retention_cleanup alone deletes them.
    assert [d.name for d in retained if d.suffixes] == ["analysis_bulk"]
    retained = [d for d in retained if not d.suffixes]
    assert len(retained) >= 5
    for dataset in retained:
        assert any(f"${{DataPrefix}}/{dataset.prefix}/".startswith(p) for p in prefixes), dataset
    assert not any("analysis" in p or "state" in p for p in prefixes), "outputs are kept"
    assert "${DataPrefix}/athena-results/" in prefixes  # query results never pile up
    defaults = {
        "ExpireRawLiveDays": Settings.retention_raw_live_days,
        "ExpireRawVodDays": Settings.retention_raw_vod_days,
        "ExpireCuratedDays": Settings.retention_curated_days,
        "ExpireChannelsDays": Settings.retention_channels_days,
    }
    for parameter, retention in defaults.items():
        default = int(template["Parameters"][parameter]["Default"])
        assert default > retention, f"{parameter} must expire after the DAG's {retention} days"


def test_no_wildcard_actions_and_star_resources_only_where_unavoidable(template):
    for role, statement in statements(template):
        if statement["Effect"] != "Allow":
            continue
        actions = as_list(statement["Action"])
        assert "*" not in actions and not any(a.endswith(":*") for a in actions), role
        if "*" in as_list(statement.get("Resource", [])):
            assert set(actions) <= STAR_RESOURCE_OK, (role, actions)


def test_pass_role_only_our_task_roles_only_to_ecs(template):
    passing = [s for _, s in statements(template) if "iam:PassRole" in as_list(s["Action"])]
    assert len(passing) == 1
    statement = passing[0]
    targets = {r["Fn::GetAtt"][0] for r in statement["Resource"]}
    assert targets == {"VodTaskRole", "TaskExecutionRole"}
    condition = statement["Condition"]["StringEquals"]["iam:PassedToService"]
    assert condition == "ecs-tasks.amazonaws.com"


def test_run_task_only_our_downloader_in_our_cluster(template):
    run = [s for _, s in statements(template) if "ecs:RunTask" in as_list(s["Action"])]
    assert len(run) == 1
    assert "task-definition/${EnvironmentName}-vod-downloader:*" in run[0]["Resource"]["Fn::Sub"]
    assert run[0]["Condition"]["ArnEquals"]["ecs:cluster"] == {"Fn::GetAtt": ["Cluster", "Arn"]}


def test_data_access_stays_under_the_data_prefix(template):
    for role, statement in statements(template):
        for resource in as_list(statement.get("Resource", [])):
            text = json.dumps(resource)
            if "DataBucket.Arn}/" in text:
                assert "DataBucket.Arn}/${DataPrefix}/" in text, (role, text)
    secrets = [s for _, s in statements(template) if "secretsmanager:GetSecretValue" in s["Action"]]
    assert len(secrets) == 1
    for resource in secrets[0]["Resource"]:
        assert ":secret:${SecretsPrefix}/" in resource["Fn::Sub"]


def test_mwaa_environment(template):
    env = template["Resources"]["MwaaEnvironment"]["Properties"]
    assert template["Parameters"]["AirflowVersion"]["AllowedValues"] == [bundle.AIRFLOW_VERSION]
    options = env["AirflowConfigurationOptions"]
    assert options["secrets.backend"].endswith("secrets_manager.SecretsManagerBackend")
    kwargs = json.loads(
        options["secrets.backend_kwargs"]["Fn::Sub"].replace("${SecretsPrefix}", "p")
    )
    assert kwargs["connections_prefix"] == "p/connections"
    assert kwargs["variables_prefix"] == "p/variables"
    # only our Twitch connection and settings Variable go to Secrets Manager
    connections, variables = (
        kwargs["connections_lookup_pattern"],
        kwargs["variables_lookup_pattern"],
    )
    assert re.search(connections, Settings().twitch_conn_id)
    assert not re.search(connections, Settings().aws_conn_id)
    assert re.search(variables, SETTINGS_VARIABLE)
    assert not re.search(variables, "vieweratlas_top_channels")
    assert template["Parameters"]["WebserverAccessMode"]["Default"] == "PRIVATE_ONLY"
    assert (env["DagS3Path"], env["RequirementsS3Path"], env["StartupScriptS3Path"]) == (
        "dags",
        "requirements.txt",
        "startup.sh",
    )
    assert all(v["Enabled"] for v in env["LoggingConfiguration"].values())


def test_logs_have_retention_and_topic_is_encrypted(template):
    for name, group in resources(template, "AWS::Logs::LogGroup").items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
    topic = template["Resources"]["AlertsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"]
    for repo in resources(template, "AWS::ECR::Repository").values():
        assert repo["Properties"]["ImageScanningConfiguration"]["ScanOnPush"] is True
        assert repo["Properties"]["ImageTagMutability"] == "IMMUTABLE"


def test_containers_are_private_and_read_only(template):
    service = template["Resources"]["CollectorService"]["Properties"]
    vpc = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert vpc["AssignPublicIp"] == "DISABLED"
    for name, task in resources(template, "AWS::ECS::TaskDefinition").items():
        for container in task["Properties"]["ContainerDefinitions"]:
            assert container["ReadonlyRootFilesystem"] is True, name
            assert not container.get("Privileged"), name
            names = [e["Name"] for e in container.get("Environment", [])]
            assert not [n for n in names if re.search("SECRET|PASSWORD|TOKEN", n)], name
    for group in resources(template, "AWS::EC2::SecurityGroup").values():
        assert "SecurityGroupIngress" not in group["Properties"]


def test_names_match_the_settings_the_dags_use(template):
    """With the default EnvironmentName the stack matches the settings' defaults."""
    defaults = Settings()
    env_name = template["Parameters"]["EnvironmentName"]["Default"]
    vod = template["Resources"]["VodTaskDefinition"]["Properties"]
    family = vod["Family"]["Fn::Sub"].replace("${EnvironmentName}", env_name)
    assert family == defaults.ecs_vod_task_definition
    container = vod["ContainerDefinitions"][0]
    assert container["Name"] == defaults.ecs_vod_container
    assert env_name == defaults.ecs_cluster
    group = template["Resources"]["VodLogGroup"]["Properties"]["LogGroupName"]["Fn::Sub"]
    assert group.replace("${EnvironmentName}", env_name) == defaults.ecs_log_group
    # EcsRunTaskOperator reads streams <prefix>/<task id> with prefix "ecs/<container>".
    assert container["LogConfiguration"]["Options"]["awslogs-stream-prefix"] == "ecs"


def test_outputs_cover_what_the_deploy_script_reads(template):
    outputs = set(template["Outputs"])
    assert set(deploy.OUTPUT_SETTINGS) <= outputs
    assert {"MwaaBucketName", "MwaaEnvironmentName", "TwitchSecretName"} <= outputs


def test_container_environment_names_are_ones_the_programs_read(template):
    """A typo in a task definition's environment would be silently ignored: refuse it."""
    # The collector's options are the fields of CollectorSettings (COLLECTOR_<FIELD>).
    source = (ROOT / "collector" / "vieweratlas_collector" / "settings.py").read_text()
    options = re.findall(r"^    ([a-z_]+): [^=]+= field\(", source, re.M)
    assert "spool_dir" in options
    collector_env = {"COLLECTOR_" + o.upper() for o in options}
    settings_env = {"VIEWERATLAS_" + f.upper() for f in Settings.__dataclass_fields__}
    general = {"AWS_DEFAULT_REGION", "TMPDIR", "DOTNET_BUNDLE_EXTRACT_BASE_DIR"}
    allowed = {
        "collector": settings_env | collector_env | general,
        "vod-downloader": settings_env | general,
    }
    for task in resources(template, "AWS::ECS::TaskDefinition").values():
        for container in task["Properties"]["ContainerDefinitions"]:
            names = {e["Name"] for e in container.get("Environment", [])}
            assert names <= allowed[container["Name"]], names - allowed[container["Name"]]


def test_mwaa_security_group_follows_aws_networking_guidance(template):
    """Self-referencing inbound, all traffic outbound, and HTTPS to the private UI
    only from the VPN/bastion CIDR or security group the operator names."""
    res = template["Resources"]
    egress = res["MwaaSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert [(e["IpProtocol"], e["CidrIp"]) for e in egress] == [("-1", "0.0.0.0/0")]
    ingress = resources(template, "AWS::EC2::SecurityGroupIngress")
    self_rule = ingress.pop("MwaaSecurityGroupSelfIngress")["Properties"]
    assert (
        self_rule["SourceSecurityGroupId"] == self_rule["GroupId"] == {"Ref": "MwaaSecurityGroup"}
    )
    ui = {
        name: rule
        for name, rule in ingress.items()
        if rule["Properties"]["GroupId"] == {"Ref": "MwaaSecurityGroup"}
    }
    sources = {}
    for name, rule in ui.items():
        props = rule["Properties"]
        assert (props["IpProtocol"], props["FromPort"], props["ToPort"]) == ("tcp", 443, 443)
        condition = template["Conditions"][rule["Condition"]]
        source = props.get("CidrIp") or props.get("SourceSecurityGroupId")
        # created only when its parameter is set
        assert condition == {"Fn::Not": [{"Fn::Equals": [source, ""]}]}, name
        sources[source["Ref"]] = template["Parameters"][source["Ref"]]
    assert set(sources) == {"UiAccessCidr", "UiAccessSecurityGroupId"}
    assert all(p["Default"] == "" for p in sources.values())


def test_log_groups_survive_stack_deletion_and_replacement(template):
    for name, group in resources(template, "AWS::Logs::LogGroup").items():
        assert group.get("DeletionPolicy") == "Retain", name
        assert group.get("UpdateReplacePolicy") == "Retain", name


SUBNETS = {
    "subnet-0a": {"AvailabilityZone": "az-1", "VpcId": "vpc-01"},
    "subnet-0b": {"AvailabilityZone": "az-2", "VpcId": "vpc-01"},
    "subnet-0c": {"AvailabilityZone": "az-1", "VpcId": "vpc-01"},
    "subnet-0d": {"AvailabilityZone": "az-3", "VpcId": "vpc-99"},
}


def evaluate(node: Any, params: dict[str, str], template: dict) -> Any:
    """CloudFormation's rule functions over parameter values, subnets looked up in SUBNETS."""
    if not isinstance(node, dict):
        return [evaluate(n, params, template) for n in node] if isinstance(node, list) else node
    ((fn, arg),) = node.items()
    if fn == "Ref":
        return params[arg]
    if fn == "Fn::ValueOf":
        return SUBNETS[params[arg[0]]][arg[1]]
    if fn == "Fn::ValueOfAll":
        kinds = template["Parameters"]
        return [SUBNETS[params[p]][arg[1]] for p in params if kinds[p]["Type"] == arg[0]]
    args = evaluate(arg, params, template)
    return {
        "Fn::Not": lambda: not args[0],
        "Fn::And": lambda: all(args),
        "Fn::Equals": lambda: args[0] == args[1],
        "Fn::Contains": lambda: args[1] in args[0],
        "Fn::EachMemberEquals": lambda: all(a == args[1] for a in args[0]),
    }[fn]()


@pytest.mark.parametrize(
    "first, second, ok",
    [
        ("subnet-0a", "subnet-0b", True),
        ("subnet-0a", "subnet-0c", False),  # same AZ
        ("subnet-0a", "subnet-0a", False),  # same subnet twice
        ("subnet-0a", "subnet-0d", False),  # another VPC
    ],
)
def test_rules_allow_only_two_subnets_in_different_azs_of_the_vpc(template, first, second, ok):
    params = {"VpcId": "vpc-01", "PrivateSubnet1Id": first, "PrivateSubnet2Id": second}
    kinds = {k: template["Parameters"][k]["Type"] for k in params}
    assert kinds["PrivateSubnet1Id"] == kinds["PrivateSubnet2Id"] == "AWS::EC2::Subnet::Id"
    # exactly two: no list parameter of subnets anywhere
    assert not [
        p for p in template["Parameters"].values() if "Subnet" in p["Type"] and "List" in p["Type"]
    ]
    assertions = [a["Assert"] for rule in template["Rules"].values() for a in rule["Assertions"]]
    assert all(evaluate(a, params, template) for a in assertions) is ok
