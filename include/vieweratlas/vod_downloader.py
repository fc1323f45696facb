"""The VOD chat downloader program (what the ECS task and the local task run).

    python -m vieweratlas.vod_downloader --vod-id 123 --data-root s3://bucket/prefix

It runs ``TwitchDownloaderCLI chatdownload`` into a temporary folder, stores the
raw chat JSON gzipped (``lake.raw_vod_chat``), writes one presence file per
UTC day the chat covers (``lake.vod_presence``) and records the outcome in
``lake.vod_result`` for the ledger. Re-running it for a VOD whose outcome
says ``downloaded`` does nothing; otherwise it rewrites the same keys.

Exit codes (the ledger and ECS record them):

* 0 downloaded (or already downloaded)
* 2 bad arguments
* 3 permanent: the VOD is deleted, expired or sub-only, or its chat JSON is malformed
* 4 the CLI is missing or not executable (deployment problem)
* 75 transient: the CLI failed for another reason, or storage was unreachable

No Airflow import: the container has only this package and its light dependencies.
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from vieweratlas import lake

log = logging.getLogger("vieweratlas.vod_downloader")

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_PERMANENT = 3
EXIT_CLI_MISSING = 4
EXIT_TRANSIENT = 75

CLI_TIMEOUT_S = 6 * 3600
# What TwitchDownloaderCLI prints when Twitch has no such VOD (deleted, expired) or
# refuses it (subscriber-only); anything else is treated as transient.
UNAVAILABLE_MARKERS = ("deleted/expired", "invalid vod", "subscriber", "sub-only", "not found")


class DownloadError(Exception):
    """A download failed; ``exit_code`` says how."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class Outcome:
    """What happened to one VOD."""

    vod_id: str
    status: str  # "downloaded" | "failed"
    exit_code: int
    error: str = ""
    rows: int = 0
    days: tuple[str, ...] = ()
    dropped: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "vod_id": self.vod_id,
            "status": self.status,
            "exit_code": self.exit_code,
            "permanent": self.exit_code == EXIT_PERMANENT,
            "error": self.error[:500],
            "rows": self.rows,
            "days": list(self.days),
            "dropped": self.dropped,
            "finished_at": datetime.now(UTC).isoformat(),
        }


def run_cli(cli: str, vod_id: str, out: Path, timeout: float = CLI_TIMEOUT_S) -> None:
    """Run ``chatdownload`` for one VOD into ``out``; raise DownloadError on failure."""
    command = [cli, "chatdownload", "--id", lake.safe_id(vod_id), "-o", str(out)]
    command += ["--temp-path", str(out.parent)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise DownloadError(f"TwitchDownloaderCLI not found at {cli!r}", EXIT_CLI_MISSING) from None
    except PermissionError:
        raise DownloadError(
            f"TwitchDownloaderCLI at {cli!r} is not executable", EXIT_CLI_MISSING
        ) from None
    except subprocess.TimeoutExpired:
        raise DownloadError(
            f"chatdownload timed out after {timeout:.0f}s", EXIT_TRANSIENT
        ) from None
    output = f"{done.stdout}\n{done.stderr}".strip()
    if done.returncode != 0:
        tail = output[-400:]
        if any(marker in output.lower() for marker in UNAVAILABLE_MARKERS):
            raise DownloadError(f"VOD {vod_id} is unavailable: {tail}", EXIT_PERMANENT)
        raise DownloadError(f"chatdownload exited {done.returncode}: {tail}", EXIT_TRANSIENT)
    if not out.exists():
        raise DownloadError("chatdownload succeeded but wrote no file", EXIT_TRANSIENT)


def store_chat(store, vod_id: str, raw: bytes) -> Outcome:
    """Parse the chat, write the raw copy and the per-day presence files."""
    from vieweratlas.schema import PRESENCE, from_rows
    from vieweratlas.vod_chat import MalformedChatError, parse_chat

    try:
        chat = parse_chat(json.loads(raw), vod_id)
    except (ValueError, MalformedChatError) as exc:  # JSONDecodeError is a ValueError
        raise DownloadError(
            f"malformed chat JSON for VOD {vod_id}: {exc}", EXIT_PERMANENT
        ) from None
    store.write_bytes(lake.raw_vod_chat(chat.created_at, vod_id), gzip.compress(raw, mtime=0))
    rows = 0
    for day, day_rows in sorted(chat.days.items()):
        store.write_parquet(lake.vod_presence(day, vod_id), from_rows(day_rows, PRESENCE))
        rows += len(day_rows)
    days = tuple(day.isoformat() for day in sorted(chat.days))
    log.info(
        "VOD %s: %d comments, %d presence rows over %s, %d comments dropped",
        vod_id, chat.comments, rows, ", ".join(days) or "no days", chat.dropped,
    )  # fmt: skip
    return Outcome(vod_id, "downloaded", EXIT_OK, rows=rows, days=days, dropped=chat.dropped)


def download(store, vod_id: str, cli: str) -> Outcome:
    """Download and store one VOD's chat; never raises for a failed download."""
    result_key = lake.vod_result(vod_id)
    if store.exists(result_key) and store.read_json(result_key).get("status") == "downloaded":
        log.info("VOD %s is already downloaded; nothing to do", vod_id)
        return Outcome(vod_id, "downloaded", EXIT_OK, error="already downloaded")
    try:
        with tempfile.TemporaryDirectory(prefix="vod-") as tmp:
            out = Path(tmp) / f"{vod_id}.json"
            run_cli(cli, vod_id, out)
            raw = out.read_bytes()
        outcome = store_chat(store, vod_id, raw)
    except DownloadError as exc:
        log.error("VOD %s failed (exit %d): %s", vod_id, exc.exit_code, exc)
        outcome = Outcome(vod_id, "failed", exc.exit_code, error=str(exc))
    store.write_json(result_key, outcome.as_dict())
    return outcome


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(prog="vod_downloader", description=__doc__.split("\n")[0])
    parser.add_argument("--vod-id", required=True)
    parser.add_argument("--data-root", help="file:///... or s3://bucket/prefix")
    parser.add_argument("--cli", help="path of TwitchDownloaderCLI")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    from vieweratlas.settings import SettingsError, load_settings
    from vieweratlas.storage import Lake

    try:
        vod_id = lake.safe_id(args.vod_id)
        overrides = {"data_root": args.data_root} if args.data_root else {}
        if args.cli:
            overrides["downloader_cli"] = args.cli
        settings = load_settings(overrides=overrides)
    except (lake.UnsafeKeyError, SettingsError) as exc:
        log.error("%s", exc)
        return EXIT_USAGE
    try:
        outcome = download(Lake(settings.data_root), vod_id, settings.downloader_cli)
    except OSError as exc:  # storage unreachable: the outcome could not even be recorded
        log.error("VOD %s: storage error %s: %s", vod_id, type(exc).__name__, exc)
        return EXIT_TRANSIENT
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
