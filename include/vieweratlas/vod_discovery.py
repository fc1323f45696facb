"""VOD discovery: find new archive VODs, plan their downloads, fold the outcomes in.

``plan_downloads`` reads which channels were live in the 24 hours before the
run's data interval end (the hourly channel metadata), asks Helix for each
one's archive VODs of the last day, keeps those created in that window, adds
the unknown ones to the ledger and returns the due VODs (capped per run).
``collect_outcomes`` reads each planned VOD's result object, which the
downloader writes in both modes, updates the ledger and deletes the results.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from vieweratlas import lake, vod_ledger
from vieweratlas.helix import HelixClient
from vieweratlas.settings import Settings
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Plan:
    """One run's discovery: what was found and what to download now."""

    channels: int
    found: int
    new: int
    vod_ids: list[str]
    waiting: int  # due VODs left for later runs by the per-run cap


def live_channels(store: Lake, end: datetime) -> dict[int, str]:
    """Channel id -> login of every channel in the hourly lists of the 24 h before ``end``."""
    start = end - WINDOW
    keys: list[str] = []
    for day in sorted({start.date(), (end - timedelta(microseconds=1)).date()}):
        keys += store.list(lake.channels_day_prefix(day))
    channels: dict[int, str] = {}
    for key in keys:
        hour = _hour_of(key)
        if hour is None or not start <= hour < end:
            continue
        table = store.read_parquet(key, columns=["channel_id", "login"])
        for channel_id, login in zip(
            table["channel_id"].to_pylist(), table["login"].to_pylist(), strict=True
        ):
            channels[int(channel_id)] = login
    return channels


def _hour_of(key: str) -> datetime | None:
    day = lake.partition_date(key)
    marker = key.find("hour=")
    if day is None or marker < 0 or not key[marker + 5 : marker + 7].isdigit():
        return None
    return datetime(day.year, day.month, day.day, int(key[marker + 5 : marker + 7]), tzinfo=UTC)


def find_vods(helix: HelixClient, channels: dict[int, str], end: datetime) -> list[dict[str, Any]]:
    """Archive VODs of ``channels`` created in the 24 hours before ``end``."""
    start = end - WINDOW
    vods: dict[str, dict[str, Any]] = {}
    for channel_id, login in sorted(channels.items()):
        for video in helix.archive_videos(str(channel_id)):
            created = lake.maybe_utc(video.get("created_at"))
            try:
                vod_id = lake.safe_id(video.get("id", ""))
            except lake.UnsafeKeyError:
                log.warning("Skipping a video with an invalid id from channel %s", channel_id)
                continue
            if video.get("type", "archive") != "archive" or created is None:
                continue
            if str(video.get("user_id")) != str(channel_id) or not start <= created < end:
                continue
            vods[vod_id] = {
                "vod_id": vod_id,
                "channel_id": channel_id,
                "channel_login": login,
                "created_at": created,
            }
    return sorted(vods.values(), key=lambda v: (v["created_at"], v["vod_id"]))


def plan_downloads(
    store: Lake,
    helix: HelixClient,
    end: datetime,
    now: datetime,
    max_per_run: int,
    max_attempts: int,
) -> Plan:
    """Discover new VODs into the ledger and choose the ones to download in this run."""
    channels = live_channels(store, end)
    vods = find_vods(helix, channels, end)
    ledger = vod_ledger.read_ledger(store)
    new = vod_ledger.add_discovered(ledger, vods, now)
    due_all = vod_ledger.due(ledger, max_attempts, limit=len(ledger))
    chosen = due_all[:max_per_run]
    vod_ledger.write_ledger(store, ledger)
    log.info(
        "%d channels live in the window, %d VODs found, %d new; downloading %d, %d left for later",
        len(channels), len(vods), len(new), len(chosen), len(due_all) - len(chosen),
    )  # fmt: skip
    return Plan(len(channels), len(vods), len(new), [r.vod_id for r in chosen],
                len(due_all) - len(chosen))  # fmt: skip


def downloader_args(vod_id: str, data_root: str) -> list[str]:
    """The downloader program's arguments for one VOD (same in both modes)."""
    return ["--vod-id", lake.safe_id(vod_id), "--data-root", data_root]


def ecs_overrides(container: str, args: list[str]) -> dict[str, Any]:
    """``RunTask`` overrides that hand the downloader its arguments."""
    return {"containerOverrides": [{"name": container, "command": list(args)}]}


def collect_outcomes(
    store: Lake, vod_ids: list[str], now: datetime, max_attempts: int
) -> dict[str, int]:
    """Fold each planned VOD's result into the ledger; count the statuses."""
    ledger = vod_ledger.read_ledger(store)
    counts = {vod_ledger.DOWNLOADED: 0, vod_ledger.FAILED: 0, "given_up": 0}
    done_keys = []
    for vod_id in vod_ids:
        key = lake.vod_result(vod_id)
        result = store.read_json(key) if store.exists(key) else None
        if vod_id not in ledger:
            log.warning("VOD %s has a result but no ledger record; ignored", vod_id)
            continue
        record = vod_ledger.record_outcome(ledger, vod_id, result, now)
        counts[record.status] += 1
        if record.status == vod_ledger.FAILED and not record.due(max_attempts):
            counts["given_up"] += 1
        if result is not None:
            done_keys.append(key)
    vod_ledger.write_ledger(store, ledger)
    store.delete(done_keys)
    log.info("Outcomes: %s", counts)
    return counts


# -- the two tasks' bodies (Airflow-aware only through their arguments) --------------------


def run_plan(store: Lake, settings: Settings, end: datetime | None) -> list[dict[str, Any]]:
    """``plan_downloads``: one job (VOD id + downloader arguments) per VOD to fetch now."""
    from vieweratlas.helix import helix_from_connection

    # a plain UTC datetime: Airflow passes pendulum objects, which compare badly with datetime
    end = lake.to_utc(end or datetime.now(UTC))
    plan = plan_downloads(
        store,
        helix_from_connection(settings.twitch_conn_id),
        end,
        datetime.now(UTC),
        settings.vod_max_per_run,
        settings.vod_max_attempts,
    )
    return [
        {"vod_id": vod_id, "args": downloader_args(vod_id, settings.data_root)}
        for vod_id in plan.vod_ids
    ]


def run_collect(
    store: Lake, settings: Settings, jobs: list[dict[str, Any]] | None
) -> dict[str, int]:
    """``record_outcomes``: the ledger follows what the downloads did."""
    if jobs is None:  # plan_downloads failed: there is nothing to record
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException("plan_downloads produced no plan; nothing to record")
    vod_ids = [job["vod_id"] for job in jobs]
    return collect_outcomes(store, vod_ids, datetime.now(UTC), settings.vod_max_attempts)
