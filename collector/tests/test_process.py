"""The real collector process: SIGTERM flush, --once-for, token hygiene, spool recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from collector_helpers import free_port
from twitch_server import privmsg

from vieweratlas import lake as keys
from vieweratlas.storage import Lake

HEARTBEAT_FIELDS = {
    "collector_id", "shard", "written_at", "connections_up", "channels_joined",
    "channels_parked", "channels_unjoinable", "unjoinable", "messages_this_hour",
    "pairs_since_checkpoint", "last_checkpoint_age_seconds", "lines_per_second",
    "spool_backlog", "last_upload_at", "last_uploaded_key",
}  # fmt: skip


def start(tmp_path, twitch, *extra: str, env: dict | None = None) -> subprocess.Popen:
    channels = tmp_path / "channels.txt"
    channels.write_text("a_chan\nb_chan\n")
    args = [
        sys.executable, "-m", "vieweratlas_collector",
        "--channels-file", str(channels), "--spool-dir", str(tmp_path / "spool"),
        "--irc-host", "127.0.0.1", "--irc-port", str(twitch.port), "--irc-tls", "false",
        "--join-window", "0.5", "--heartbeat-seconds", "0.5", "--tick-seconds", "0.05",
        "--backoff-base", "0.1", "--backoff-max", "1", *extra,
    ]  # fmt: skip
    return subprocess.Popen(
        args, env={**os.environ, **(env or {})}, stderr=subprocess.PIPE, text=True
    )


def local_beat(tmp_path) -> dict:
    try:
        return json.loads((tmp_path / "spool" / "heartbeat.json").read_text())
    except (OSError, ValueError):
        return {}


def wait(predicate, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def snapshot_counts(lake: Lake) -> dict[tuple[str, str], int]:
    """Message counts over every snapshot (the test may straddle an hour)."""
    found: dict[tuple[str, str], int] = {}
    for key in lake.list(keys.RAW_LIVE.prefix):
        for row in lake.read_parquet(key).to_pylist():
            pair = (row["channel_login"], row["user_login"])
            found[pair] = found.get(pair, 0) + row["message_count"]
    return found


def test_sigterm_flushes_the_partial_hour_within_10_s(tmp_path, twitch, data_root):
    proc = start(tmp_path, twitch)
    try:
        twitch.wait_joined({"a_chan", "b_chan"}, timeout=90)  # slow start on a busy box
        twitch.broadcast([privmsg("a_chan", "alice", 1), privmsg("b_chan", "bob", 2)] * 3)
        wait(lambda: local_beat(tmp_path).get("messages_this_hour") == 6)
        sent = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
        elapsed = time.monotonic() - sent
    finally:
        proc.kill()
        stderr = proc.stderr.read()
    assert code == 0, stderr[-2000:]
    assert elapsed < 10
    assert snapshot_counts(Lake(data_root)) == {("a_chan", "alice"): 3, ("b_chan", "bob"): 3}
    logs = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(entry["msg"] == "part uploaded" for entry in logs)
    assert {"ts", "level", "logger", "msg"} <= set(logs[0])
    health = [
        sys.executable,
        "-m",
        "vieweratlas_collector.health",
        "--spool",
        str(tmp_path / "spool"),
    ]
    assert subprocess.run(health, capture_output=True).returncode == 0
    assert subprocess.run([*health, "--max-age", "0"], capture_output=True).returncode == 1


def test_once_for_with_a_token_never_logs_it(tmp_path, twitch, data_root):
    token = "oauth:sekrit0token0value"
    proc = start(
        tmp_path, twitch, "--once-for", "1.5", "--irc-nick", "AtlasBot", "--name", "smoke",
        "--shard", "1/2", env={"TWITCH_IRC_TOKEN": token, "COLLECTOR_LOG_LEVEL": "DEBUG"},
    )  # fmt: skip
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr[-2000:]
    assert twitch.passwords == [token] and twitch.nicks == ["atlasbot"]
    assert "sekrit0token0value" not in stderr
    beat = Lake(data_root).read_json(keys.heartbeat("smoke-shard-1-of-2"))
    assert set(beat) >= HEARTBEAT_FIELDS
    assert beat["collector_id"] == "smoke-shard-1-of-2" and beat["shard"] == "1/2"


def test_spool_left_by_a_previous_process_is_uploaded_at_next_start(
    tmp_path, twitch, moto_server, monkeypatch
):
    root = f"s3://{moto_server.bucket}/recovery-{time.time_ns()}"
    monkeypatch.setenv("VIEWERATLAS_DATA_ROOT", root)
    dead_s3 = {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_MAX_ATTEMPTS": "1"}
    proc = start(tmp_path, twitch, "--shutdown-timeout", "3", env=dead_s3)
    try:
        twitch.wait_joined({"a_chan", "b_chan"}, timeout=90)  # slow start on a busy box
        twitch.broadcast([privmsg("a_chan", "carol", 3)] * 2)
        wait(lambda: local_beat(tmp_path).get("messages_this_hour") == 2)
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    finally:
        proc.kill()
        proc.stderr.read()
    assert code == 3  # S3 unreachable: the hour stayed in the spool
    assert len(list((tmp_path / "spool").glob("*.parquet"))) == 1
    assert snapshot_counts(Lake(root)) == {}

    proc = start(tmp_path, twitch, "--once-for", "0.5")
    _, stderr = proc.communicate(timeout=90)
    assert proc.returncode == 0, stderr[-2000:]
    assert list((tmp_path / "spool").glob("*.parquet")) == []
    assert snapshot_counts(Lake(root)) == {("a_chan", "carol"): 2}
