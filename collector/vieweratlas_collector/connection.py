"""One IRC connection to Twitch: login, CAP, JOINs, the read loop, reconnects.

A :class:`Connection` holds a set of wanted channels. While connected it joins
the ones not yet joined (each JOIN waits on the shared :class:`JoinLimiter`),
answers PINGs, and hands every chatter to ``on_chat``. On ``RECONNECT``, a
dropped socket or a silent one, it reconnects after a jittered exponential
backoff and rejoins every channel it holds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vieweratlas_collector.irc import Chat, Message, chatter, parse
from vieweratlas_collector.ratelimit import JoinLimiter

log = logging.getLogger(__name__)

CAPABILITIES = "twitch.tv/tags twitch.tv/commands"
MAX_LINE = 1 << 20
#: NOTICE msg-ids after which a channel is parked (not rejoined for a while).
PARK_NOTICES = frozenset(
    {
        "msg_channel_suspended",
        "msg_banned",
        "msg_room_not_found",
        "msg_channel_blocked",
        "tos_ban",
        "msg_concurrent_channel_limit_reached",
    }
)


@dataclass(frozen=True)
class IrcConfig:
    """Where and how to connect; anonymous (``justinfan``) unless a token is given."""

    host: str = "irc.chat.twitch.tv"
    port: int = 6697
    tls: bool = True
    ca_file: str = ""  # extra CA bundle to trust (default: the system's)
    nick: str = ""  # required with a token; anonymous connections pick justinfanNNNNN
    token: str = field(default="", repr=False)
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    connect_timeout: float = 15.0
    idle_timeout: float = 360.0  # Twitch PINGs about every 5 minutes


class Reconnect(Exception):
    """The server asked us to reconnect, or the session must be restarted."""


@dataclass
class Counters:
    """What one connection has seen since it was created."""

    lines: int = 0
    chats: int = 0
    dropped: int = 0  # PRIVMSG/USERNOTICE not counted (shared-chat relays, bad tags)
    malformed: int = 0
    sessions: int = 0


class Connection:
    """One socket's worth of channels."""

    def __init__(
        self,
        index: int,
        config: IrcConfig,
        limiter: JoinLimiter,
        on_chat: Callable[[Chat], None],
        on_park: Callable[[str, str], None],
    ) -> None:
        self.index = index
        self.config = config
        self.channels: set[str] = set()
        self.joined: set[str] = set()
        self.up = False
        self.counters = Counters()
        self._limiter = limiter
        self._on_chat = on_chat
        self._on_park = on_park
        self._writer: asyncio.StreamWriter | None = None
        self._wake = asyncio.Event()
        self._requested: set[str] = set()
        self._last_rx = time.monotonic()
        self.nick = config.nick.lower() if config.token else ""

    # -- channel set (called by the pool) ---------------------------------------------

    def add(self, login: str) -> None:
        """Join ``login`` (now if connected, else on connect)."""
        self.channels.add(login)
        self._wake.set()

    def remove(self, login: str) -> None:
        """Leave ``login``."""
        self.channels.discard(login)
        if login in self.joined or login in self._requested:
            self._send(f"PART #{login}")
        self.joined.discard(login)
        self._requested.discard(login)

    # -- the session loop ---------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff; forever (until cancelled)."""
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                await self._session()
            except asyncio.CancelledError:
                raise
            except Reconnect as exc:
                log.info("reconnecting", extra={"conn": self.index, "reason": str(exc)})
            except (OSError, EOFError, TimeoutError, ssl.SSLError) as exc:
                log.warning("connection lost", extra={"conn": self.index, "error": repr(exc)})
            except Exception:  # a bug must cost a reconnect, not the connection
                log.exception("connection failed", extra={"conn": self.index})
            finally:
                self._teardown()
            if time.monotonic() - started > self.config.backoff_max:
                attempt = 0
            ceiling = min(self.config.backoff_max, self.config.backoff_base * 2**attempt)
            delay = random.uniform(0, ceiling)  # noqa: S311 - jitter, not crypto
            attempt += 1
            await asyncio.sleep(delay)

    async def _session(self) -> None:
        cfg = self.config
        tls = ssl.create_default_context(cafile=cfg.ca_file or None) if cfg.tls else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                cfg.host, cfg.port, ssl=tls, server_hostname=cfg.host if tls else None
            ),
            cfg.connect_timeout,
        )
        self._writer = writer
        self.counters.sessions += 1
        if not cfg.token:
            self.nick = f"justinfan{random.randint(10000, 99999)}"  # noqa: S311
        self._send(f"CAP REQ :{CAPABILITIES}")
        if cfg.token:
            token = cfg.token if cfg.token.startswith("oauth:") else f"oauth:{cfg.token}"
            self._send(f"PASS {token}")
        self._send(f"NICK {self.nick}")
        self._last_rx = time.monotonic()
        tasks = [asyncio.create_task(self._joiner()), asyncio.create_task(self._watchdog())]
        try:
            await self._read_loop(reader)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        buffer = b""
        while True:
            data = await reader.read(65536)
            if not data:
                raise EOFError("server closed the connection")
            self._last_rx = time.monotonic()
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            if len(buffer) > MAX_LINE:
                raise Reconnect("line too long")
            for raw in lines:
                try:
                    self._handle(raw.rstrip(b"\r").decode("utf-8", "replace"))
                except Reconnect:
                    raise
                except Exception:  # one odd line must not drop the socket
                    self.counters.malformed += 1
                    log.exception("line not handled", extra={"conn": self.index})

    async def _joiner(self) -> None:
        """JOIN every wanted channel not yet requested in this session, one by one."""
        while True:
            self._wake.clear()
            for login in sorted(self.channels - self._requested) if self.up else ():
                await self._limiter.acquire()
                if login in self.channels and self.up:
                    self._requested.add(login)
                    self._send(f"JOIN #{login}")
            if self._writer is not None:
                await self._writer.drain()
            await self._wake.wait()

    async def _watchdog(self) -> None:
        """PING a quiet server; give up on one that stays silent."""
        idle = self.config.idle_timeout
        while True:
            await asyncio.sleep(idle / 4)
            quiet = time.monotonic() - self._last_rx
            if quiet > idle:
                log.warning("server silent; reconnecting", extra={"conn": self.index})
                if self._writer is not None:
                    self._writer.transport.abort()
                return
            if quiet > idle / 2:
                self._send("PING :tmi.twitch.tv")

    def _teardown(self) -> None:
        self.up = False
        self.joined.clear()
        self._requested.clear()
        if self._writer is not None:
            self._writer.transport.abort()
            self._writer = None

    def _send(self, line: str) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(line.encode("utf-8") + b"\r\n")

    # -- one line -------------------------------------------------------------------------

    def _handle(self, line: str) -> None:
        counters = self.counters
        counters.lines += 1
        msg = parse(line)
        if msg is None:
            counters.malformed += 1
            return
        command = msg.command
        if command in ("PRIVMSG", "USERNOTICE"):
            chat = chatter(msg)
            if chat is None or chat.channel_login not in self.channels:
                counters.dropped += 1
            else:
                counters.chats += 1
                self._on_chat(chat)
        elif command == "PING":
            self._send(f"PONG :{msg.params[-1] if msg.params else 'tmi.twitch.tv'}")
        else:
            self._control(msg)

    def _control(self, msg: Message) -> None:
        command, channel = msg.command, msg.channel
        if command == "001":
            self.up = True
            self._wake.set()
            log.info("connected", extra={"conn": self.index, "host": self.config.host})
        elif command == "RECONNECT":
            raise Reconnect("server sent RECONNECT")
        elif command in ("JOIN", "ROOMSTATE") and channel in self.channels:
            if command == "ROOMSTATE" or msg.nick == self.nick:
                self.joined.add(channel)
        elif command == "PART" and msg.nick == self.nick:
            self.joined.discard(channel)
        elif command == "NOTICE":
            self._notice(msg, channel)
        elif command == "CAP" and len(msg.params) > 1 and msg.params[1] == "NAK":
            log.error("capabilities refused", extra={"conn": self.index, "caps": msg.params[-1]})

    def _notice(self, msg: Message, channel: str) -> None:
        msg_id = msg.tags.get("msg-id", "")
        text = msg.params[-1] if msg.params else ""
        if msg_id in PARK_NOTICES and channel in self.channels:
            self.remove(channel)
            self._on_park(channel, msg_id)
        elif "authentication failed" in text.lower() or "improperly formatted auth" in text:
            log.error("login refused by Twitch", extra={"conn": self.index})
            raise Reconnect("login refused")
        else:
            log.info("notice", extra={"conn": self.index, "channel": channel, "msg_id": msg_id})

    async def close(self) -> None:
        """Close the socket (the run task is cancelled by its owner)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
