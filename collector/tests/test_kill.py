"""SIGKILL the real collector at random moments; every replacement starts on an empty spool.

The fake Twitch sends a scripted stream: message ``i`` is (channel, user) with
a ``tmi-sent-ts`` that walks through UTC hours, so the hour of every message is
known. The collector runs as a subprocess with ``--checkpoint-seconds 0.5``
and ``--test-clock`` (an hour lasts 3 s). Each run is killed with SIGKILL:
at a random moment, right after a checkpoint was spooled (its upload under
way), and right after the stream crossed an hour boundary; the last run gets
SIGTERM. Then, for every run and hour, the parts that run uploaded must hold
*exactly* the first ``k`` messages of that hour it received (nothing twice,
nothing invented), and ``k`` must include everything received more than the
loss bound before the kill.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime

from twitch_server import privmsg

from vieweratlas import lake as keys
from vieweratlas.storage import Lake

CHANNELS = [f"kchan_{i}" for i in range(5)]
USERS = 40
PER_HOUR = 1000  # messages per scripted hour
BATCH, PAUSE = 20, 0.02  # ~1,000 messages/s
CHECKPOINT = 0.5
BOUND = CHECKPOINT + 6.0  # checkpoint interval + encode/upload time on a loaded test box
BASE = datetime(2026, 11, 22, 4, 59, 58, tzinfo=UTC).timestamp()


def message(i: int) -> tuple[str, int, int, str]:
    """(channel, user id, hour, line) of scripted message ``i``."""
    rng = random.Random(i)
    channel, user = rng.choice(CHANNELS), rng.randrange(USERS)
    sent = BASE + i * 3600 / PER_HOUR
    _, line = privmsg(channel, f"user{user}", 1000 + user, **{"tmi-sent-ts": str(int(sent * 1000))})
    return channel, user, int(sent // 3600), line


class Run:
    """One collector process, its stderr read in a thread."""

    def __init__(self, tmp_path, twitch, n: int) -> None:
        spool = tmp_path / f"spool-{n}"  # a fresh disk every time
        channels = tmp_path / "channels.txt"
        channels.write_text("\n".join(CHANNELS) + "\n")
        args = [
            sys.executable, "-m", "vieweratlas_collector",
            "--channels-file", str(channels), "--spool-dir", str(spool),
            "--irc-host", "127.0.0.1", "--irc-port", str(twitch.port), "--irc-tls", "false",
            "--join-window", "0.5", "--heartbeat-seconds", "0.5", "--tick-seconds", "0.05",
            "--checkpoint-seconds", str(CHECKPOINT), "--backoff-base", "0.1",
            "--backoff-max", "1", "--sent-ts-tolerance", "864000",
            "--test-clock", "2026-11-22T04:59:58Z/3",
        ]  # fmt: skip
        self.proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=os.environ)
        self.run_id: str | None = None
        self.spooled = threading.Event()
        self.lines: list[str] = []
        self.received: list[tuple[int, float]] = []  # (message index, time sent to it)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line)
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry["msg"] == "collector starting":
                self.run_id = entry["run"]
            elif entry["msg"] == "checkpoint spooled":
                self.spooled.set()


def lake_parts(lake: Lake) -> dict[tuple[str, int], Counter]:
    """(run id, hour) -> Counter of (channel, user id) over that run's parts."""
    found: dict[tuple[str, int], Counter] = {}
    for key in lake.list(keys.RAW_LIVE.prefix):
        run_id = key.rsplit("/", 1)[-1].split(".")[1].rsplit("-", 1)[0]
        for row in lake.read_parquet(key).to_pylist():
            hour = int(row["first_seen"].timestamp() // 3600)
            assert hour == int(row["last_seen"].timestamp() // 3600)
            counter = found.setdefault((run_id, hour), Counter())
            counter[(row["channel_login"], row["user_id"] - 1000)] += row["message_count"]
    return found


def test_sigkill_at_any_moment_loses_at_most_the_bound_and_never_counts_twice(
    tmp_path, twitch, moto_server, monkeypatch
):
    root = f"s3://{moto_server.bucket}/kill-{time.time_ns()}"
    monkeypatch.setenv("VIEWERATLAS_DATA_ROOT", root)
    script = [message(i) for i in range(40 * PER_HOUR)]
    rng = random.Random(16)
    kills = ["random", "during-upload", "hour-boundary", "random", "sigterm"]
    runs, kill_times = [], []
    i = 0
    for n, how in enumerate(kills):
        run = Run(tmp_path, twitch, n)
        runs.append(run)
        twitch.wait_joined(set(CHANNELS), timeout=90)  # process start is slow on a busy box
        run.spooled.clear()
        started, deadline = time.monotonic(), time.monotonic() + rng.uniform(0.8, 2.5)
        while True:
            assert i + BATCH < len(script), f"{how}: the kill condition never came"
            batch = script[i : i + BATCH]
            for offset, (channel, _user, _hour, line) in enumerate(batch):
                if twitch.broadcast([(channel, line)]):
                    run.received.append((i + offset, time.monotonic()))
            crossed = any(script[j][2] != script[j - 1][2] for j in range(max(i, 1), i + BATCH))
            i += BATCH
            time.sleep(PAUSE)
            if how == "hour-boundary" and crossed and time.monotonic() - started > 0.8:
                break
            if how == "during-upload" and run.spooled.is_set() and time.monotonic() > deadline:
                break
            if how in ("random", "sigterm") and time.monotonic() > deadline:
                break
        kill_times.append(time.monotonic())
        run.proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGKILL)
        assert run.proc.wait(timeout=20) == (0 if how == "sigterm" else -signal.SIGKILL)
        deadline = time.monotonic() + 10
        while twitch.clients and time.monotonic() < deadline:  # the server saw it go
            time.sleep(0.02)

    found = lake_parts(Lake(root))
    expected_total: Counter = Counter()
    lost_total = 0
    for run, how, killed in zip(runs, kills, kill_times, strict=True):
        assert run.run_id, "".join(run.lines[-20:])
        for hour in sorted({script[m][2] for m, _t in run.received}):
            mine = [(m, t) for m, t in run.received if script[m][2] == hour]
            got = found.pop((run.run_id, hour), Counter())
            k = sum(got.values())
            prefix = Counter((script[m][0], script[m][1]) for m, _t in mine[:k])
            assert got == prefix, f"{how}: hour {hour} is not the first {k} messages"
            safe = sum(1 for _m, t in mine if t < killed - BOUND)
            if how == "sigterm":
                safe = len(mine)
            assert k >= safe, f"{how}: lost messages older than {BOUND} s"
            lost_total += len(mine) - k
            expected_total += Counter({(c, u, hour): n for (c, u), n in prefix.items()})
    assert found == {}, f"parts from no run: {sorted(found)}"
    # The lake, read as presence reads it (union, summed counts), matches exactly.
    union: Counter = Counter()
    for key in Lake(root).list(keys.RAW_LIVE.prefix):
        for row in Lake(root).read_parquet(key).to_pylist():
            hour = int(row["first_seen"].timestamp() // 3600)
            union[(row["channel_login"], row["user_id"] - 1000, hour)] += row["message_count"]
    assert union == expected_total
    assert sum(len(r.received) for r in runs) - lost_total == sum(union.values())
    hours = {h for _c, _u, h in union}
    assert len(hours) >= 2  # the stream did cross hour boundaries
