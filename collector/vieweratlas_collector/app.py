"""The collector process: wires channels, connections, checkpoints, spool and heartbeat.

Everything runs on one asyncio loop; blocking storage calls (S3, Parquet) run
in worker threads so chat keeps flowing while S3 is slow or down. Chats are
counted into per-hour buckets (the hour of ``tmi-sent-ts``); every
``checkpoint_seconds`` those buckets are swapped for empty ones and written
as incremental parts (spool, then upload), so a kill loses at most one
checkpoint interval plus the upload time, even on a fresh disk. ``clock``
(Unix seconds) is injectable for in-process tests; a subprocess takes
``--test-clock``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime

from vieweratlas import lake as keys
from vieweratlas.storage import Lake
from vieweratlas_collector import __version__
from vieweratlas_collector.backoff import Backoff
from vieweratlas_collector.channels import ChannelSource
from vieweratlas_collector.heartbeat import iso, write_local
from vieweratlas_collector.irc import Chat
from vieweratlas_collector.metrics import emf
from vieweratlas_collector.pool import Pool
from vieweratlas_collector.presence import HourBucket, event_time, hour_of, hour_start
from vieweratlas_collector.ratelimit import JoinLimiter
from vieweratlas_collector.settings import CollectorSettings
from vieweratlas_collector.snapshot import Spool, Uploader

log = logging.getLogger(__name__)
UNJOINABLE_LISTED = 50  # names in the heartbeat (the count is complete)


class Collector:
    """One collector instance."""

    def __init__(
        self,
        settings: CollectorSettings,
        clock: Callable[[], float] | None = None,
        lake: Lake | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock or settings.clock()
        self.id = settings.collector_id
        self.lake = lake or Lake(settings.data_root)
        self.spool = Spool(settings.spool_dir, self.id)
        self.uploader = Uploader(
            self.lake, self.spool, Backoff(settings.backoff_base, settings.backoff_max)
        )
        self.source = ChannelSource(
            settings.shard,
            lake=None if settings.channels_file else self.lake,
            static=settings.channels_file,
        )
        # Part names sort by run start, then sequence: <ms since epoch, hex>x<random>-<seq>.
        self.run_id = f"{int(time.time() * 1000):011x}x{os.urandom(3).hex()}"
        self.sequence = 0
        self.pending: dict[int, HourBucket] = {}  # hour -> chatters since the last checkpoint
        self.hour = hour_of(self.clock())
        self.messages_this_hour = 0
        self.messages_total = 0
        self.last_cut = time.time()  # when the last checkpoint's parts were spooled
        self.started_at = datetime.now(UTC)
        self.fully_joined_at: datetime | None = None  # last heartbeat with every channel joined
        self.wanted: list[str] = []
        self.pool: Pool | None = None
        self.stop = asyncio.Event()
        self._background: set[asyncio.Task] = set()
        self._checkpointing = asyncio.Lock()
        self._last_beat = (time.monotonic(), 0, 0, 0)  # time, lines, malformed, failures

    # -- chat -------------------------------------------------------------------------------

    def on_chat(self, chat: Chat) -> None:
        """Count one message in the UTC hour it was sent."""
        now = self.clock()
        sent = event_time(chat.sent_ms, now, self.settings.sent_ts_tolerance)
        hour = int(sent // 3600)
        bucket = self.pending.get(hour)
        if bucket is None:
            bucket = self.pending[hour] = HourBucket(hour)
        bucket.add(chat.channel_id, chat.channel_login, chat.user_id, chat.user_login, sent)
        if now >= (self.hour + 1) * 3600:
            self.hour, self.messages_this_hour = hour_of(now), 0
        self.messages_this_hour += 1
        self.messages_total += 1

    async def checkpoint(self) -> int:
        """Spool what was seen since the last checkpoint (one part per hour); wake the upload."""
        async with self._checkpointing:
            buckets, self.pending = self.pending, {}
            self.sequence += 1
            part = f"{self.run_id}-{self.sequence:08d}"
            full = [b for _, b in sorted(buckets.items()) if len(b)]
            if full:
                await asyncio.to_thread(self._spool, full, part)
                log.info(
                    "checkpoint spooled",
                    extra={"part": part, "hours": len(full), "pairs": sum(map(len, full))},
                )
            self.last_cut = time.time()
            self.uploader.wake.set()
            return len(full)

    def _spool(self, buckets: list[HourBucket], part: str) -> None:
        for bucket in buckets:
            self.spool.put(bucket.hour, bucket.table(), part)

    # -- periodic work ------------------------------------------------------------------

    def _spawn(self, name: str, coro) -> None:
        if any(t.get_name() == name for t in self._background):
            coro.close()  # the previous one is still running (e.g. S3 is slow)
            return
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def refresh_channels(self) -> None:
        """Re-read the channel list and JOIN/PART the difference."""
        logins = await asyncio.to_thread(self.source.read)
        if logins is None:
            return
        self.wanted = logins
        if self.pool is not None:
            self.pool.sync(logins)

    def checkpoint_age(self) -> float:
        """Seconds of chat not yet durable in the lake (what a kill on a fresh disk loses)."""
        oldest = self.last_cut
        for item in self.spool.pending():
            with contextlib.suppress(OSError):
                oldest = min(oldest, item.path.stat().st_mtime)
        return max(0.0, time.time() - oldest)

    def heartbeat(self) -> dict:
        """The heartbeat object (fields documented in :mod:`.heartbeat`)."""
        pool = self.pool
        count = pool.counter if pool else (lambda _name: 0)
        unjoinable = pool.unjoinable if pool else []
        now = time.monotonic()
        then, lines0, malformed0, failures0 = self._last_beat
        lines, malformed, failures = count("lines"), count("malformed"), self.uploader.failures
        self._last_beat = (now, lines, malformed, failures)
        joined = pool.channels_joined if pool else 0
        if self.wanted and joined >= len(self.wanted) - (len(pool.parked) if pool else 0):
            self.fully_joined_at = datetime.now(UTC)
        return {
            "collector_id": self.id,
            "shard": f"{self.settings.shard.index}/{self.settings.shard.count}",
            "version": __version__,
            "written_at": iso(datetime.now(UTC)),
            "started_at": iso(self.started_at),
            "hour": iso(hour_start(self.hour)),
            "connections": len(pool.connections) if pool else 0,
            "connections_up": pool.connections_up if pool else 0,
            "channels_wanted": len(self.wanted),
            "channels_joined": joined,
            "fully_joined_at": iso(self.fully_joined_at),
            "channels_parked": len(pool.parked) if pool else 0,
            "channels_unjoinable": len(unjoinable),
            "unjoinable": unjoinable[:UNJOINABLE_LISTED],
            "messages_this_hour": self.messages_this_hour,
            "pairs_since_checkpoint": sum(map(len, self.pending.values())),
            "lines_total": lines,
            "lines_per_second": round((lines - lines0) / max(now - then, 1e-3), 1),
            "malformed_total": malformed,
            "malformed_since_last": malformed - malformed0,
            "dropped_total": count("dropped"),
            "join_retries_total": count("join_retries"),
            "spool_backlog": len(self.spool.pending()),
            "upload_failures": failures,
            "upload_failures_since_last": failures - failures0,
            "last_checkpoint_age_seconds": round(self.checkpoint_age(), 1),
            "last_upload_at": iso(self.uploader.last_upload_at),
            "last_uploaded_key": self.uploader.last_uploaded_key,
            "channel_list_error": self.source.last_error,
        }

    async def write_heartbeat(self) -> None:
        beat = self.heartbeat()
        write_local(self.settings.spool_dir, beat)
        log.info(
            "heartbeat", extra=emf(beat, self.settings.metrics_namespace, int(time.time() * 1000))
        )
        if beat["unjoinable"]:
            log.warning(
                "channels not joined",
                extra={"count": beat["channels_unjoinable"], "channels": beat["unjoinable"]},
            )
        try:
            await asyncio.to_thread(self.lake.write_json, keys.heartbeat(self.id), beat)
        except Exception as exc:  # noqa: BLE001 - S3 down must not stop collecting
            log.warning("heartbeat not written to the lake", extra={"error": repr(exc)[:300]})

    async def _ticker(self) -> None:
        cfg = self.settings
        next_beat = next_refresh = time.monotonic()
        next_checkpoint = next_beat + cfg.checkpoint_seconds
        while True:
            now = time.monotonic()
            if now >= next_refresh:
                next_refresh = now + cfg.refresh_seconds
                self._spawn("refresh", self.refresh_channels())
            if now >= next_checkpoint:
                next_checkpoint = now + cfg.checkpoint_seconds
                self._spawn("checkpoint", self.checkpoint())
            if now >= next_beat:
                next_beat = now + cfg.heartbeat_seconds
                self._spawn("heartbeat", self.write_heartbeat())
            await asyncio.sleep(cfg.tick_seconds)

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self, once_for: float | None = None, install_signals: bool = True) -> int:
        """Collect until SIGTERM/SIGINT (or ``once_for`` seconds); 0 when all was uploaded."""
        cfg = self.settings
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop.set)
        limiter = JoinLimiter(cfg.join_limit, cfg.join_window)
        self.pool = Pool(cfg, limiter, self.on_chat)
        log.info(
            "collector starting",
            extra={"collector_id": self.id, "irc": cfg.irc_host, "run": self.run_id},
        )
        uploader = asyncio.create_task(self.uploader.run(), name="uploader")
        ticker = asyncio.create_task(self._ticker(), name="ticker")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), once_for)
        log.info("collector stopping", extra={"collector_id": self.id})
        return await self.shutdown([uploader, ticker])

    async def shutdown(self, tasks: list[asyncio.Task]) -> int:
        """Stop reading, checkpoint what is left, upload within ``shutdown_timeout``."""
        deadline = time.monotonic() + self.settings.shutdown_timeout
        for task in tasks:
            task.cancel()
        if self.pool is not None:
            await self.pool.close()
        try:
            await asyncio.wait_for(self.checkpoint(), max(0.1, deadline - time.monotonic()))
            await asyncio.wait_for(
                asyncio.to_thread(self.uploader.drain), max(0.1, deadline - time.monotonic())
            )
        except Exception as exc:  # noqa: BLE001 - whatever failed, the spool keeps the data
            log.error("shutdown upload incomplete; left in spool", extra={"error": repr(exc)[:300]})
        for task in self._background:
            task.cancel()
        left = len(self.spool.pending())
        write_local(self.settings.spool_dir, self.heartbeat())
        log.info("collector stopped", extra={"spool_backlog": left})
        return 0 if left == 0 else 3
