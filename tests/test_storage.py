"""The data lake helpers behave identically on file:// and s3:// (moto over HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pytest

from vieweratlas import lake as layout
from vieweratlas import schema
from vieweratlas.storage import Lake


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


def test_delete(lake):
    keys = [f"tmp/{i}.json" for i in range(5)]
    for key in keys:
        lake.write_json(key, i := {"k": key})
        assert lake.read_json(key) == i
    assert lake.delete(keys) == 5
    assert lake.delete([]) == 0
    assert lake.list("tmp/") == []


class Interrupted(ConnectionError):
    pass


class InterruptingFS:
    """The lake's real filesystem, except that a write stops half way (a lost connection).

    The first half really goes out (into the temp file, or as the first part of an S3
    multipart upload), then the write raises: what a killed task or a dropped link leaves.
    """

    def __init__(self, fs) -> None:
        self._fs = fs

    def __getattr__(self, name):
        return getattr(self._fs, name)

    def open(self, path, mode="rb", **kwargs):
        handle = self._fs.open(path, mode, **kwargs)
        write = handle.write

        def half_then_fail(data):
            write(data[: len(data) // 2])
            raise Interrupted("connection lost mid-write")

        handle.write = half_then_fail
        return handle


def test_an_interrupted_write_never_shows_a_partial_object(lake, moto_server):
    """A reader sees the old object or none, never half a new one (file:// and s3://)."""
    broken = Lake(lake.root_url, InterruptingFS(lake.fs))
    new = bytes(range(256)) * (48 * 1024)  # 12 MiB: more than one S3 multipart part
    with pytest.raises(Interrupted):
        broken.write_bytes("state/new.bin", new)
    assert not lake.exists("state/new.bin")

    lake.write_bytes("state/old.bin", b"old content")
    with pytest.raises(Interrupted):
        broken.write_bytes("state/old.bin", new)
    assert lake.read_bytes("state/old.bin") == b"old content"
    assert lake.list("state/") == ["state/old.bin"]
    if lake.root_url.startswith("s3://"):  # the half-sent multipart upload was aborted
        uploads = moto_server.client("s3").list_multipart_uploads(Bucket=moto_server.bucket)
        prefix = lake.path("state/").split("/", 1)[1]
        assert not [u for u in uploads.get("Uploads", []) if u["Key"].startswith(prefix)]


def s3_calls(lake) -> list[tuple[str, dict]]:
    """Record the S3 operations the lake's own client sends from now on."""
    calls: list[tuple[str, dict]] = []
    lake.exists("anything")  # connects the client

    def record(params, model, **_):
        calls.append((model.name, params))

    lake.fs.s3.meta.events.register("before-parameter-build.s3", record)
    return calls


def test_s3_delete_sends_one_request_per_1000_keys(moto_server):
    """s3fs chunks DeleteObjects by the S3 limit itself: the lake adds no batching."""
    root = f"s3://{moto_server.bucket}/t-{uuid.uuid4().hex[:12]}"
    lake = Lake(root)
    keys = [f"tmp/{i:05d}" for i in range(1001)]
    for key in (keys[0], keys[500], keys[-1]):  # S3 deletes absent keys quietly: 3 are enough
        lake.write_bytes(key, b"x")
    calls = s3_calls(lake)
    assert lake.delete(keys) == 1001
    deletes = [params for name, params in calls if name == "DeleteObjects"]
    assert sorted(len(p["Delete"]["Objects"]) for p in deletes) == [1, 1000]
    assert [name for name, _ in calls if name != "DeleteObjects"] == []
    assert lake.list("tmp/") == []


def test_copy_is_server_side_on_s3(moto_server):
    lake = Lake(f"s3://{moto_server.bucket}/t-{uuid.uuid4().hex[:12]}")
    lake.write_bytes("a/src.bin", b"payload")
    calls = s3_calls(lake)
    lake.copy("a/src.bin", "b/dst.bin")
    names = {name for name, _ in calls}
    assert "CopyObject" in names and not names & {"GetObject", "PutObject"}, names
    assert lake.read_bytes("b/dst.bin") == b"payload"


def test_copy(lake):
    lake.write_bytes("a/src.bin", b"payload")
    lake.copy("a/src.bin", "b/c/dst.bin")
    assert lake.read_bytes("b/c/dst.bin") == b"payload"
    lake.write_bytes("a/src.bin", b"second")
    lake.copy("a/src.bin", "b/c/dst.bin")  # replaces
    assert lake.read_bytes("b/c/dst.bin") == b"second"
    with pytest.raises(FileNotFoundError):
        lake.copy("a/missing.bin", "b/x.bin")


def test_missing_key_raises(lake):
    with pytest.raises(FileNotFoundError):
        lake.read_bytes("state/missing.json")


def test_keys_cannot_escape_the_root(lake):
    with pytest.raises(ValueError, match="escapes"):
        lake.path("../../etc/passwd")


def test_schema_conform_rejects_missing_columns():
    with pytest.raises(schema.SchemaError, match="missing"):
        schema.conform(pa.table({"channel_id": [1]}), schema.PRESENCE)


def test_local_path_only_on_a_local_lake(lake, data_root):
    lake.write_bytes("raw/a.bin", b"abc")
    path = lake.local_path("raw/a.bin")
    if data_root.startswith("file://"):
        assert Path(path).read_bytes() == b"abc"
    else:
        assert path is None  # an S3 object has no path on this machine: it is downloaded
