"""The template's Glue tables and Athena workgroup match what the athena engine queries."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from cfnlint.decode import decode

from vieweratlas import athena, schema
from vieweratlas import lake as keys

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "vieweratlas.yaml"
GLUE_TYPES = {
    pa.int64(): "bigint",
    pa.int32(): "int",
    pa.int16(): "smallint",
    pa.float64(): "double",
    pa.string(): "string",
    pa.list_(pa.string()): "array<string>",
}


@pytest.fixture(scope="module")
def resources() -> dict:
    decoded, problems = decode(str(TEMPLATE_PATH))
    assert not problems, problems
    return json.loads(json.dumps(decoded, default=str))["Resources"]


def table(resources: dict, name: str) -> dict:
    found = [
        r["Properties"]["TableInput"]
        for r in resources.values()
        if r["Type"] == "AWS::Glue::Table" and r["Properties"]["TableInput"]["Name"] == name
    ]
    assert len(found) == 1, name
    return found[0]


@pytest.mark.parametrize(
    ("name", "arrow"),
    [
        ("communities", list(schema.COMMUNITIES) + list(schema.TRACKING_FIELDS)),
        ("graph_nodes", [*list(schema.GRAPH_NODES), schema.TRACKING_FIELDS[0]]),
        ("channel_neighbors", schema.CHANNEL_NEIGHBORS),
    ],
)
def test_published_tables_have_the_schema_columns(resources, name, arrow):
    columns = {c["Name"]: c["Type"] for c in table(resources, name)["StorageDescriptor"]["Columns"]}
    for field in arrow:
        assert columns.get(field.name) == GLUE_TYPES[field.type], (name, field.name)


def test_presence_table_is_projected_by_date_and_has_what_the_sql_reads(resources):
    presence = table(resources, athena.PRESENCE_TABLE)
    params = presence["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.date.format"] == "yyyy-MM-dd"
    # Fn::Sub renders ${!date} as the literal ${date} that projection fills in
    assert f"/{keys.DAILY_PRESENCE.prefix}/date=${{!date}}/" in json.dumps(params)
    assert [k["Name"] for k in presence["PartitionKeys"]] == ["date"]
    names = {c["Name"] for c in presence["StorageDescriptor"]["Columns"]}
    assert {"channel_id", "user_id"} <= names and "date" not in names
    raw = table(resources, "raw_live")["Parameters"]
    assert raw["projection.hour.range"] == "0,23" and raw["projection.hour.digits"] == "2"


def test_workgroup_enforces_cutoff_encryption_and_results_in_the_data_bucket(resources):
    (group,) = [r for r in resources.values() if r["Type"] == "AWS::Athena::WorkGroup"]
    config = group["Properties"]["WorkGroupConfiguration"]
    assert config["EnforceWorkGroupConfiguration"] is True
    assert "BytesScannedCutoffPerQuery" in config
    result = config["ResultConfiguration"]
    assert result["EncryptionConfiguration"]["EncryptionOption"] == "SSE_S3"
    assert "${DataBucket}" in json.dumps(result["OutputLocation"])
