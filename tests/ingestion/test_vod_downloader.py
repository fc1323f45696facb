"""The VOD downloader program: real process, stand-in CLI, both storage roots."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from conftest import DELETED_VOD, MIDNIGHT_VOD, UNICODE_VOD, standard_chats
from vieweratlas import lake as keys
from vieweratlas import vod_downloader as program
from vieweratlas.schema import PRESENCE


def run_program(*args: str) -> subprocess.CompletedProcess:
    """``python -m vieweratlas.vod_downloader`` as the ECS task runs it."""
    return subprocess.run(
        [sys.executable, "-m", "vieweratlas.vod_downloader", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_vod_crossing_midnight_lands_on_two_days(lake, data_root, fake_cli):
    standard_chats(fake_cli)
    done = run_program("--vod-id", MIDNIGHT_VOD, "--data-root", data_root)
    assert done.returncode == 0, done.stderr

    day1 = lake.read_parquet(keys.vod_presence("2026-11-21", MIDNIGHT_VOD))
    day2 = lake.read_parquet(keys.vod_presence("2026-11-22", MIDNIGHT_VOD))
    assert day1.schema.equals(PRESENCE, check_metadata=False)
    rows1 = {r["user_login"]: r for r in day1.to_pylist()}
    rows2 = {r["user_login"]: r for r in day2.to_pylist()}
    assert set(rows1) == {"alice", "bob_"} and set(rows2) == {"bob_", "carol"}
    assert rows1["alice"]["message_count"] == 2
    assert rows1["alice"]["first_seen"] == datetime(2026, 11, 21, 21, 1, tzinfo=UTC)
    assert rows2["bob_"]["first_seen"] == datetime(2026, 11, 22, 0, 1, 40, 250000, tzinfo=UTC)
    assert {r["source"] for r in day1.to_pylist() + day2.to_pylist()} == {"vod"}
    assert {r["content_id"] for r in day1.to_pylist()} == {MIDNIGHT_VOD}
    assert {(r["channel_id"], r["channel_login"]) for r in day1.to_pylist()} == {(1001, "chan_1")}
    assert rows1["alice"]["user_id"] == 501

    raw = json.loads(
        gzip.decompress(lake.read_bytes(keys.raw_vod_chat("2026-11-21", MIDNIGHT_VOD)))
    )
    assert raw["video"]["id"] == MIDNIGHT_VOD
    result = lake.read_json(keys.vod_result(MIDNIGHT_VOD))
    assert result["status"] == "downloaded" and result["rows"] == 4
    assert result["days"] == ["2026-11-21", "2026-11-22"]


def test_unicode_kept_hostile_logins_dropped(lake, data_root, fake_cli):
    standard_chats(fake_cli)
    assert program.main(["--vod-id", UNICODE_VOD, "--data-root", data_root]) == 0
    rows = lake.read_parquet(keys.vod_presence("2026-11-21", UNICODE_VOD)).to_pylist()
    assert [(r["user_id"], r["user_login"], r["message_count"]) for r in rows] == [
        (601, "zoe_42", 2)
    ]
    assert lake.read_json(keys.vod_result(UNICODE_VOD))["dropped"] == 4


def test_deleted_vod_is_a_permanent_failure(lake, data_root, fake_cli):
    standard_chats(fake_cli)
    done = run_program("--vod-id", DELETED_VOD, "--data-root", data_root)
    assert done.returncode == program.EXIT_PERMANENT
    assert "unavailable" in done.stderr
    result = lake.read_json(keys.vod_result(DELETED_VOD))
    assert result["status"] == "failed" and result["permanent"] is True
    assert not lake.list(keys.VOD_PRESENCE.prefix)


@pytest.mark.parametrize(
    "content", ["{not json", json.dumps({"video": {"id": "2005"}}), json.dumps([1, 2])]
)
def test_malformed_json_is_a_permanent_failure(tmp_path, fake_cli, content, caplog):
    from vieweratlas.storage import Lake

    root = (tmp_path / "lake").as_uri()
    fake_cli.add_chat("2005", content)
    assert program.main(["--vod-id", "2005", "--data-root", root]) == program.EXIT_PERMANENT
    assert "malformed chat JSON" in caplog.text
    assert Lake(root).read_json(keys.vod_result("2005"))["permanent"] is True


def test_flaky_cli_is_transient(tmp_path, fake_cli):
    (fake_cli.fixtures / "2006.flaky").touch()
    code = program.main(["--vod-id", "2006", "--data-root", (tmp_path / "lake").as_uri()])
    assert code == program.EXIT_TRANSIENT


def test_missing_cli_is_reported(tmp_path):
    root = (tmp_path / "lake").as_uri()
    done = run_program("--vod-id", "2001", "--data-root", root, "--cli", str(tmp_path / "nope"))
    assert done.returncode == program.EXIT_CLI_MISSING
    assert "TwitchDownloaderCLI not found" in done.stderr


@pytest.mark.parametrize("vod_id", ["../1", "1; rm -rf /", "", "12ab"])
def test_hostile_vod_ids_never_reach_the_cli(tmp_path, fake_cli, vod_id):
    code = program.main(["--vod-id", vod_id, "--data-root", (tmp_path / "lake").as_uri()])
    assert code == program.EXIT_USAGE
    assert fake_cli.calls() == []


def test_a_downloaded_vod_is_not_downloaded_again(lake, data_root, fake_cli):
    standard_chats(fake_cli)
    store_before = None
    for _ in range(2):
        outcome = program.download(lake, MIDNIGHT_VOD, str(fake_cli.path))
        assert outcome.status == "downloaded"
        store_before = store_before or lake.list("curated/")
    assert fake_cli.downloads_of(MIDNIGHT_VOD) == 1
    assert lake.list("curated/") == store_before
