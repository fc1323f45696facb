"""Ingestion fixtures: a fake Twitch on loopback, a stand-in TwitchDownloaderCLI, chat fixtures."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from vieweratlas import lake as keys
from vieweratlas.schema import CHANNEL_METADATA, from_rows

sys.path.insert(0, str(Path(__file__).parent))

import helix_server


@pytest.fixture
def fake_twitch(monkeypatch):
    """A fake Twitch server and the ``twitch_default`` connection pointing at it."""
    state = helix_server.FakeTwitch()
    server = helix_server.start(state)
    monkeypatch.setenv("AIRFLOW_CONN_TWITCH_DEFAULT", state.connection_json())
    yield state
    server.shutdown()
    server.server_close()


# -- TwitchDownloader chat JSON ---------------------------------------------------------


def chat_doc(
    vod_id: str,
    channel_id: str,
    channel_login: str,
    created_at: datetime,
    comments: list[tuple[float, str, str, str]],  # offset, user id, login, display name
) -> dict:
    """A chat file in TwitchDownloaderCLI's JSON format."""
    return {
        "FileInfo": {"Version": {"Major": 1, "Minor": 4, "Patch": 0}},
        "streamer": {"name": channel_login.title(), "login": channel_login, "id": int(channel_id)},
        "video": {
            "title": "a VOD",
            "id": vod_id,
            "created_at": created_at.isoformat().replace("+00:00", "Z"),
            "start": 0,
            "end": 40000,
            "length": 40000,
            "game": "Just Chatting",
        },
        "comments": [
            {
                "_id": f"c{i}",
                "created_at": (created_at + timedelta(seconds=offset)).isoformat(),
                "channel_id": channel_id,
                "content_type": "video",
                "content_id": vod_id,
                "content_offset_seconds": offset,
                "commenter": {"display_name": display, "_id": user_id, "name": login},
                "message": {"body": "hi", "fragments": []},
            }
            for i, (offset, user_id, login, display) in enumerate(comments)
        ],
        "embeddedData": None,
    }


DELETED_MESSAGE = (
    "Unhandled exception. System.AggregateException: One or more errors occurred. "
    "(Invalid VOD, deleted/expired VOD possibly?)"
)

FAKE_CLI = """\
#!{python}
\"\"\"Stand-in TwitchDownloaderCLI: `chatdownload --id ID -o OUT` copies a fixture.\"\"\"
import json, os, shutil, sys
from pathlib import Path
args = sys.argv[1:]
fixtures = Path(os.environ.get("FAKE_TD_FIXTURES", {fixtures!r}))
with open(fixtures / "calls.log", "a") as log:
    log.write(json.dumps(args) + "\\n")
if not args or args[0] != "chatdownload":
    sys.exit(64)
vod = args[args.index("--id") + 1]
out = args[args.index("-o") + 1]
if (fixtures / f"{{vod}}.deleted").exists():
    print({deleted!r}, file=sys.stderr)
    sys.exit(1)
if (fixtures / f"{{vod}}.flaky").exists():
    print("HttpRequestException: Connection reset by peer", file=sys.stderr)
    sys.exit(1)
shutil.copy(fixtures / f"{{vod}}.json", out)
print("[STATUS] - Downloading 100% [3/3]")
"""


@dataclass
class FakeCli:
    """The stand-in CLI and the folder of chat fixtures it serves."""

    path: Path
    fixtures: Path

    def add_chat(self, vod_id: str, doc: dict | str) -> None:
        text = doc if isinstance(doc, str) else json.dumps(doc, ensure_ascii=False)
        (self.fixtures / f"{vod_id}.json").write_text(text, encoding="utf-8")

    def add_deleted(self, vod_id: str) -> None:
        (self.fixtures / f"{vod_id}.deleted").touch()

    def calls(self) -> list[list[str]]:
        log = self.fixtures / "calls.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def downloads_of(self, vod_id: str) -> int:
        return sum(1 for call in self.calls() if call[call.index("--id") + 1] == vod_id)


@pytest.fixture
def fake_cli(tmp_path, monkeypatch) -> FakeCli:
    """A stand-in ``TwitchDownloaderCLI`` set as ``VIEWERATLAS_DOWNLOADER_CLI``."""
    fixtures = tmp_path / "td-fixtures"
    fixtures.mkdir()
    path = tmp_path / "bin" / "TwitchDownloaderCLI"
    path.parent.mkdir()
    path.write_text(
        FAKE_CLI.format(python=sys.executable, fixtures=str(fixtures), deleted=DELETED_MESSAGE)
    )
    path.chmod(0o755)
    monkeypatch.setenv("VIEWERATLAS_DOWNLOADER_CLI", str(path))
    monkeypatch.setenv("FAKE_TD_FIXTURES", str(fixtures))
    return FakeCli(path, fixtures)


MIDNIGHT_VOD = "2001"  # starts 22:00 UTC, chat runs past midnight
UNICODE_VOD = "2002"  # unicode display names and hostile logins
DELETED_VOD = "2003"  # the CLI says it is gone
OLD_VOD = "2004"  # created before the window: not discovered
END = datetime(2026, 11, 21, tzinfo=UTC) + timedelta(days=1)  # data interval end of the run


def standard_chats(cli: FakeCli) -> None:
    """The chat fixtures the VOD tests share."""
    start = END - timedelta(hours=3)  # 2026-11-21T21:00Z
    cli.add_chat(
        MIDNIGHT_VOD,
        chat_doc(
            MIDNIGHT_VOD,
            "1001",
            "chan_1",
            start,
            [
                (60.0, "501", "alice", "Alice"),
                (3500.5, "501", "alice", "Alice"),
                (7300.0, "502", "bob_", "Bob"),  # 23:01:40
                (10900.25, "502", "bob_", "Bob"),  # 00:01:40.25 next day
                (11000.0, "503", "carol", "Carol"),
            ],
        ),
    )
    cli.add_chat(
        UNICODE_VOD,
        chat_doc(
            UNICODE_VOD,
            "1002",
            "chan_2",
            start,
            [
                (5.0, "601", "zoe_42", "ゾーイ"),  # unicode display name, fine login
                (6.0, "602", "../../etc/passwd", "x"),  # hostile login: dropped
                (7.0, "603", "Robert'); DROP TABLE--", "y"),  # hostile login: dropped
                (8.0, "60x", "mallory", "m"),  # non-numeric id: dropped
                (9.0, "604", "émile", "Émile"),  # non-ASCII login: dropped
                (10.0, "601", "zoe_42", "ゾーイ"),
            ],
        ),
    )
    cli.add_deleted(DELETED_VOD)


def setting_env(monkeypatch, **values: object) -> None:
    """Set ``VIEWERATLAS_*`` variables for one test."""
    for name, value in values.items():
        monkeypatch.setenv(f"VIEWERATLAS_{name.upper()}", str(value))


@pytest.fixture
def vod_pool(airflow_db):
    """The ``vod_downloads`` pool the mapped downloads run in."""
    from airflow.models.pool import Pool

    Pool.create_or_update_pool("vod_downloads", slots=4, description="test", include_deferred=False)
    return "vod_downloads"


@pytest.fixture
def clean_env(monkeypatch):
    """No leftover Airflow Variables from the environment."""
    for name in [n for n in os.environ if n.startswith("AIRFLOW_VAR_")]:
        monkeypatch.delenv(name)


# -- the VOD world: live channels in the lake, their VODs on the fake Twitch -------------


def seed_live_channels(store) -> None:
    """Hourly channel lists: four channels live in the window, one only before it."""

    def rows(when: datetime, channels: list[tuple[int, str]]):
        return from_rows(
            [
                {"observed_at": when, "rank": i + 1, "channel_id": cid, "login": login}
                for i, (cid, login) in enumerate(channels)
            ],
            CHANNEL_METADATA,
        )

    inside = END - timedelta(hours=4)  # 2026-11-21T20:00Z
    live = [(1001, "chan_1"), (1002, "chan_2"), (1003, "chan_3"), (1004, "chan_4")]
    store.write_parquet(keys.channels_hourly(inside, inside.hour), rows(inside, live))
    before = END - timedelta(hours=30)
    store.write_parquet(keys.channels_hourly(before, before.hour), rows(before, [(1009, "gone")]))


def seed_videos(fake_twitch) -> None:
    in_window = "2026-11-21T21:00:00Z"
    fake_twitch.videos = {
        "1001": [
            helix_server.video(MIDNIGHT_VOD, "1001", "chan_1", in_window),
            helix_server.video(
                "2999", "4242", "someone_else", in_window
            ),  # not this channel's: ignored
        ],
        "1002": [
            helix_server.video(UNICODE_VOD, "1002", "chan_2", in_window),
            helix_server.video("20x2/../1", "1002", "chan_2", in_window),  # hostile id: ignored
        ],
        "1003": [helix_server.video(DELETED_VOD, "1003", "chan_3", "2026-11-21T10:00:00Z")],
        "1004": [helix_server.video(OLD_VOD, "1004", "chan_4", "2026-11-20T12:00:00Z")],  # too old
        "1009": [
            helix_server.video("2010", "1009", "gone", in_window)
        ],  # channel not live in the window
    }


@pytest.fixture
def vod_world(airflow_db, vod_pool, lake, fake_twitch, fake_cli, clean_env):
    seed_live_channels(lake)
    seed_videos(fake_twitch)
    standard_chats(fake_cli)
    return lake
