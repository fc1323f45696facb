"""The template's collector monitoring: alarms on its EMF metrics, to the alerts topic."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from cfnlint.decode import decode

ROOT = Path(__file__).resolve().parents[2]


def template() -> dict:
    decoded, problems = decode(str(ROOT / "infra" / "vieweratlas.yaml"))
    assert not problems, problems
    return json.loads(json.dumps(decoded, default=str))


def emitted_metrics() -> set[str]:
    """Metric names the collector logs (read from its source: no collector import here)."""
    tree = ast.parse((ROOT / "collector" / "vieweratlas_collector" / "metrics.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "METRICS":
            return {key.value for key in node.value.keys}
    raise AssertionError("no METRICS in metrics.py")


def test_collector_alarms_watch_emitted_metrics_and_notify_the_topic():
    resources = template()["Resources"]
    alarms = {k: v for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    assert {"CollectorStalledAlarm", "CollectorBacklogAlarm"} <= set(alarms)
    container = resources["CollectorTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    index, count = env["COLLECTOR_SHARD"].split("/")
    for name in ("CollectorStalledAlarm", "CollectorBacklogAlarm"):
        props = alarms[name]["Properties"]
        assert props["Namespace"] == "ViewerAtlas/Collector"
        assert props["MetricName"] in emitted_metrics()
        assert props["Dimensions"] == [
            {"Name": "CollectorId", "Value": f"shard-{index}-of-{count}"}
        ]
        assert props["AlarmActions"] == [{"Ref": "AlertsTopic"}]
    assert alarms["CollectorStalledAlarm"]["Properties"]["TreatMissingData"] == "breaching"
    assert "HealthCheck" in container
    # CloudWatch can only publish to a topic under a key whose policy lets it.
    topic = resources["AlertsTopic"]["Properties"]
    assert topic["KmsMasterKeyId"] == {"Ref": "AlertsKey"}
    statements = resources["AlertsKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert any(s["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in statements)
    assert resources["CollectorService"]["Properties"]["DesiredCount"] == {
        "Ref": "CollectorDesiredCount"
    }
    assert template()["Parameters"]["CollectorDesiredCount"]["AllowedValues"] == [0, 1]
