"""The data lake helpers behave identically on file:// and s3:// (moto over HTTP)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa
import pytest

from vieweratlas import lake as layout
from vieweratlas import schema


def test_json_roundtrip_and_listing(lake):
    lake.write_json("state/a.json", {"name": "日本語", "n": 1})
    lake.write_json("state/sub/b.json", [1, 2])
    assert lake.read_json("state/a.json") == {"name": "日本語", "n": 1}
    assert lake.list("state/") == ["state/a.json", "state/sub/b.json"]
    assert lake.list("nothing/here/") == []
    assert lake.exists("state/a.json") and not lake.exists("state/zzz.json")
    assert lake.url("state/a.json").startswith(lake.root_url)


def test_parquet_roundtrip_with_schema(lake):
    ts = datetime(2026, 11, 20, 5, tzinfo=UTC)
    rows = [
        {
            "channel_id": 1,
            "channel_login": "a",
            "user_id": 9,
            "user_login": "u",
            "source": "live",
            "content_id": None,
            "first_seen": ts,
            "last_seen": ts,
            "message_count": 3,
        },
    ]
    table = schema.from_rows(rows, schema.PRESENCE)
    key = layout.raw_live_snapshot(date(2026, 11, 20), 5, "collector-0")
    lake.write_parquet(key, table)
    back = lake.read_parquet(key)
    assert back.schema.equals(schema.PRESENCE, check_metadata=False)
    assert back.to_pylist() == rows


def test_overwrite_is_atomic_and_leaves_no_temp_files(lake):
    key = "state/x.json"
    lake.write_json(key, {"v": 1})
    lake.write_json(key, {"v": 2})
    assert lake.read_json(key) == {"v": 2}
    assert lake.list("state/") == [key]


def test_delete_in_batches(lake, monkeypatch):
    monkeypatch.setattr("vieweratlas.storage.DELETE_BATCH", 2)
    keys = [f"tmp/{i}.json" for i in range(5)]
    for key in keys:
        lake.write_json(key, i := {"k": key})
        assert lake.read_json(key) == i
    assert lake.delete(keys) == 5
    assert lake.list("tmp/") == []


def test_missing_key_raises(lake):
    with pytest.raises(FileNotFoundError):
        lake.read_bytes("state/missing.json")


def test_keys_cannot_escape_the_root(lake):
    with pytest.raises(ValueError, match="escapes"):
        lake.path("../../etc/passwd")


def test_schema_conform_rejects_missing_columns():
    with pytest.raises(schema.SchemaError, match="missing"):
        schema.conform(pa.table({"channel_id": [1]}), schema.PRESENCE)
