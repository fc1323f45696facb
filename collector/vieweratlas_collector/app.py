"""The collector process: wires channels, connections, the hour bucket, spool and heartbeat.

Everything runs on one asyncio loop; blocking storage calls (S3, Parquet) run
in worker threads so chat keeps flowing while S3 is slow or down. ``clock`` is
injectable (Unix seconds) so tests can cross hour boundaries without waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from vieweratlas import lake as keys
from vieweratlas.storage import Lake
from vieweratlas_collector import __version__
from vieweratlas_collector.channels import ChannelSource, Shard
from vieweratlas_collector.connection import IrcConfig
from vieweratlas_collector.heartbeat import iso, write_local
from vieweratlas_collector.irc import Chat
from vieweratlas_collector.pool import Pool
from vieweratlas_collector.presence import HourBucket, hour_of, hour_start
from vieweratlas_collector.ratelimit import JoinLimiter
from vieweratlas_collector.snapshot import Spool, Uploader

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CollectorConfig:
    """Everything the CLI can set; defaults are production's."""

    data_root: str
    spool_dir: Path
    shard: Shard = field(default_factory=Shard)
    name: str = ""
    channels_file: Path | None = None
    refresh_seconds: float = 300.0
    heartbeat_seconds: float = 60.0
    tick_seconds: float = 1.0
    per_connection: int = 50
    join_limit: int = 20
    join_window: float = 10.0
    park_seconds: float = 3600.0
    upload_backoff_base: float = 1.0
    upload_backoff_max: float = 60.0
    shutdown_timeout: float = 10.0
    irc: IrcConfig = field(default_factory=IrcConfig)

    @property
    def collector_id(self) -> str:
        """``shard-0-of-2`` or ``<name>-shard-0-of-2``; safe for a key."""
        prefix = f"{self.name}-" if self.name else ""
        return keys.safe_token(prefix + self.shard.name)


class Collector:
    """One collector instance."""

    def __init__(
        self,
        config: CollectorConfig,
        clock: Callable[[], float] = time.time,
        lake: Lake | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.id = config.collector_id
        self.lake = lake or Lake(config.data_root)
        self.spool = Spool(config.spool_dir, self.id)
        self.uploader = Uploader(
            self.lake, self.spool, config.upload_backoff_base, config.upload_backoff_max
        )
        self.source = ChannelSource(
            config.shard,
            lake=None if config.channels_file else self.lake,
            static=config.channels_file,
        )
        self.bucket = HourBucket(hour_of(clock()))
        self.started_at = datetime.now(UTC)
        self.wanted: list[str] = []
        self.pool: Pool | None = None
        self.stop = asyncio.Event()
        self._background: set[asyncio.Task] = set()
        self._seals: list[asyncio.Task] = []

    # -- chat -------------------------------------------------------------------------------

    def on_chat(self, chat: Chat) -> None:
        """Count one message in the hour it arrived (by the collector's clock)."""
        now = self.clock()
        if hour_of(now) > self.bucket.hour:
            self.roll(hour_of(now))
        self.bucket.add(chat.channel_id, chat.channel_login, chat.user_id, chat.user_login, now)

    def roll(self, hour: int) -> None:
        """Start ``hour``; the finished bucket is spooled and uploaded in the background."""
        done, self.bucket = self.bucket, HourBucket(hour)
        log.info("hour closed", extra={"hour": iso(hour_start(done.hour)), "pairs": len(done)})
        self._seals.append(asyncio.create_task(self._seal(done)))

    async def _seal(self, bucket: HourBucket) -> None:
        if len(bucket):
            await asyncio.to_thread(lambda: self.spool.put(bucket.hour, bucket.table()))
        self.uploader.wake.set()

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

    def heartbeat(self) -> dict:
        """The heartbeat object (fields documented in :mod:`.heartbeat`)."""
        pool = self.pool
        count = pool.counter if pool else (lambda _name: 0)
        return {
            "collector_id": self.id,
            "shard": f"{self.config.shard.index}/{self.config.shard.count}",
            "version": __version__,
            "written_at": iso(datetime.now(UTC)),
            "started_at": iso(self.started_at),
            "hour": iso(hour_start(self.bucket.hour)),
            "connections": len(pool.connections) if pool else 0,
            "connections_up": pool.connections_up if pool else 0,
            "channels_wanted": len(self.wanted),
            "channels_joined": pool.channels_joined if pool else 0,
            "channels_parked": len(pool.parked) if pool else 0,
            "messages_this_hour": self.bucket.messages,
            "unique_chatters_this_hour": len(self.bucket),
            "lines_total": count("lines"),
            "malformed_total": count("malformed"),
            "dropped_total": count("dropped"),
            "spool_backlog": len(self.spool.pending()),
            "upload_failures": self.uploader.failures,
            "last_upload_at": iso(self.uploader.last_upload_at),
            "last_uploaded_key": self.uploader.last_uploaded_key,
            "channel_list_error": self.source.last_error,
        }

    async def write_heartbeat(self) -> None:
        beat = self.heartbeat()
        write_local(self.config.spool_dir, beat)
        try:
            await asyncio.to_thread(self.lake.write_json, keys.heartbeat(self.id), beat)
        except Exception as exc:  # noqa: BLE001 - S3 down must not stop collecting
            log.warning("heartbeat not written to the lake", extra={"error": repr(exc)[:300]})

    async def _ticker(self) -> None:
        cfg = self.config
        next_beat = next_refresh = time.monotonic()  # intervals in real time, hours by clock
        while True:
            if hour_of(self.clock()) > self.bucket.hour:
                self.roll(hour_of(self.clock()))
            now = time.monotonic()
            if now >= next_refresh:
                next_refresh = now + cfg.refresh_seconds
                self._spawn("refresh", self.refresh_channels())
            if now >= next_beat:
                next_beat = now + cfg.heartbeat_seconds
                self._spawn("heartbeat", self.write_heartbeat())
            await asyncio.sleep(cfg.tick_seconds)

    # -- lifecycle ----------------------------------------------------------------------

    async def run(self, once_for: float | None = None, install_signals: bool = True) -> int:
        """Collect until SIGTERM/SIGINT (or ``once_for`` seconds); 0 when all was uploaded."""
        cfg = self.config
        loop = asyncio.get_running_loop()
        if install_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self.stop.set)
        limiter = JoinLimiter(cfg.join_limit, cfg.join_window)
        self.pool = Pool(cfg.irc, limiter, self.on_chat, cfg.per_connection, cfg.park_seconds)
        log.info("collector starting", extra={"collector_id": self.id, "irc": cfg.irc.host})
        uploader = asyncio.create_task(self.uploader.run(), name="uploader")
        ticker = asyncio.create_task(self._ticker(), name="ticker")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), once_for)
        log.info("collector stopping", extra={"collector_id": self.id})
        return await self.shutdown([uploader, ticker])

    async def shutdown(self, tasks: list[asyncio.Task]) -> int:
        """Stop reading, spool the partial hour, upload within ``shutdown_timeout``."""
        deadline = time.monotonic() + self.config.shutdown_timeout
        for task in [*tasks, *self._background]:
            task.cancel()
        if self.pool is not None:
            await self.pool.close()
        done, self.bucket = self.bucket, HourBucket(self.bucket.hour)
        self._seals.append(asyncio.create_task(self._seal(done)))
        try:
            await asyncio.wait_for(
                asyncio.gather(*self._seals), max(0.1, deadline - time.monotonic())
            )
            await asyncio.wait_for(
                asyncio.to_thread(self.uploader.drain), max(0.1, deadline - time.monotonic())
            )
        except Exception as exc:  # noqa: BLE001 - whatever failed, the spool keeps the data
            log.error("shutdown upload incomplete; left in spool", extra={"error": repr(exc)[:300]})
        left = len(self.spool.pending())
        write_local(self.config.spool_dir, self.heartbeat())
        log.info("collector stopped", extra={"spool_backlog": left})
        return 0 if left == 0 else 3
