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


def glue_type(arrow: pa.DataType) -> str:
    """The Glue type of an Arrow type as read back from Parquet (list item names vary)."""
    if pa.types.is_list(arrow):
        return f"array<{glue_type(arrow.value_type)}>"
    return GLUE_TYPES.get(arrow, str(arrow))


def glue_prefixes(resources: dict) -> dict[str, str]:
    """Each Glue table's location as a key prefix of the lake (``${DataPrefix}/`` removed)."""
    root = "s3://${DataBucket}/${DataPrefix}/"
    found = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::Glue::Table":
            spec = resource["Properties"]["TableInput"]
            location = spec["StorageDescriptor"]["Location"]["Fn::Sub"]
            assert location.startswith(root), location
            found[spec["Name"]] = location[len(root) :]
    return found


def test_every_object_under_a_glue_table_is_parquet_after_a_real_run(resources, lake):
    """Athena reads every object in a partition except ``_*``/``.*``: only Parquet may be there.

    Runs the daily_analysis chain (presence, overlap, communities, labels, track,
    publish) on a synthetic window, then lists each table's location in the lake.
    """
    from datetime import date

    from vieweratlas.history import track_step
    from vieweratlas.params import AnalysisParams, window
    from vieweratlas.pipeline import communities_step, labels_step, overlap_step, presence_step
    from vieweratlas.publish import publish_step
    from vieweratlas.synthetic import SyntheticSpec, generate, write_snapshots

    day = "2026-03-02"
    spec = SyntheticSpec(channels=40, users=2_500, communities=4, days=2, lurkers=2, seed=11)
    write_snapshots(lake, generate(spec), date.fromisoformat(day), hours=2)
    params = AnalysisParams.from_mapping({"window_days": 2, "min_chatters": 5, "top_k": 5})
    steps: dict = {"presence": [presence_step(lake, d, day, params) for d in window(day, 2)]}
    steps["overlap"] = overlap_step(lake, day, params)
    steps["communities"] = communities_step(lake, day, params)
    steps["labels"] = labels_step(lake, day, params)
    steps["track"] = track_step(lake, day, params)
    publish_step(lake, day, params, steps)

    prefixes = glue_prefixes(resources)
    assert set(prefixes) == {athena.PRESENCE_TABLE, "raw_live", *keys.ANALYSIS_TABLES}
    for name, prefix in prefixes.items():
        found = lake.list(prefix)
        visible = [k for k in found if not k.rsplit("/", 1)[-1].startswith(("_", "."))]
        assert visible, f"{name}: nothing written under {prefix}"
        assert all(k.endswith(".parquet") for k in visible), (name, visible)
        columns = {
            c["Name"]: c["Type"] for c in table(resources, name)["StorageDescriptor"]["Columns"]
        }
        for key in visible:
            written = lake.parquet_file(key).schema_arrow  # a real Parquet footer
            if name in keys.ANALYSIS_TABLES:  # every published column is declared, same type
                got = {f.name: glue_type(f.type) for f in written}
                assert got == {n: columns[n] for n in got}, (name, got)
    assert lake.exists(keys.daily_presence_manifest(day))  # hidden, not gone
