"""One IRC connection to Twitch: login, CAP, JOINs, the read loop, reconnects.

A :class:`Connection` holds a set of wanted channels and runs one
:class:`Session` (one socket) at a time. A session joins the channels it has
not joined yet, best rank first (each JOIN waits on the shared
:class:`JoinLimiter`), re-sends a JOIN that got no answer within
``join_timeout`` (then with backoff) and reports a channel as unjoinable after
``unjoinable_after`` unanswered attempts. It answers PINGs, PINGs a quiet
server itself, and gives up on a server that stays silent (``silence_limit``)
or leaves a PING unanswered (``pong_timeout``).

On ``RECONNECT`` the replacement session is opened at once while the old one
keeps reading: a channel is counted from the old socket until the new one has
joined it, and during that overlap message ids are remembered so a message
seen on both sockets counts once. The old socket is closed when the new one
has joined everything, or after ``handover_timeout``. A dropped or dead
socket reconnects after a jittered exponential backoff, reset by a
successful login.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from vieweratlas_collector.backoff import Backoff
from vieweratlas_collector.irc import Chat, Message, chatter, parse
from vieweratlas_collector.logs import Throttle
from vieweratlas_collector.ratelimit import JoinLimiter
from vieweratlas_collector.settings import CollectorSettings

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


class Reconnect(Exception):
    """The session must be restarted (refused login, line too long, dead server)."""


@dataclass
class Counters:
    """What one connection has seen since it was created."""

    lines: int = 0
    chats: int = 0
    dropped: int = 0  # PRIVMSG/USERNOTICE not counted (shared-chat relays, bad tags)
    malformed: int = 0
    sessions: int = 0
    join_retries: int = 0


class Session:
    """One socket's state: what it joined and asked for, and when it last heard anything."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, nick: str
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.read_task: asyncio.Task | None = None
        self.nick = nick
        self.up = False
        self.joined: set[str] = set()
        self.requested: dict[str, float] = {}  # login -> monotonic time of the last JOIN
        self.last_rx = time.monotonic()
        self.ping_at: float | None = None
        self.replacing: Session | None = None  # the old session during a handover
        self.reconnect_requested = False

    def send(self, line: str) -> None:
        if not self.writer.is_closing():
            self.writer.write(line.encode("utf-8") + b"\r\n")

    def abort(self) -> None:
        self.up = False
        self.writer.transport.abort()


class Connection:
    """One IRC connection's worth of channels, across reconnects."""

    def __init__(
        self,
        index: int,
        settings: CollectorSettings,
        limiter: JoinLimiter,
        on_chat: Callable[[Chat], None],
        on_park: Callable[[str, str], None],
        priority: Callable[[str], float] = lambda _login: 0.0,
    ) -> None:
        self.index = index
        self.settings = settings
        self.channels: set[str] = set()
        self.counters = Counters()
        self.session: Session | None = None
        self._old: Session | None = None  # still reading during a RECONNECT handover
        self._limiter = limiter
        self._on_chat = on_chat
        self._on_park = on_park
        self._priority = priority
        self._wake = asyncio.Event()
        self._attempts: dict[str, int] = {}  # unanswered JOINs per channel
        self._retry: dict[str, Backoff] = {}
        self._handover_ids: set[str] = set()
        self._tracebacks = Throttle(budget=5, window=60.0)
        self._reconnect = asyncio.Event()
        self._backoff = Backoff(settings.backoff_base, settings.backoff_max)

    # -- what the pool and the heartbeat see --------------------------------------------

    @property
    def up(self) -> bool:
        return bool(self.session and self.session.up) or bool(self._old and self._old.up)

    @property
    def joined(self) -> set[str]:
        """Channels being read now (by the current session or, in a handover, the old)."""
        found = set(self.session.joined) if self.session else set()
        if self._old is not None:
            found |= self._old.joined
        return found & self.channels

    @property
    def unjoinable(self) -> set[str]:
        """Channels whose JOIN went unanswered ``unjoinable_after`` times or more."""
        limit = self.settings.unjoinable_after
        return {c for c, n in self._attempts.items() if n >= limit and c in self.channels}

    def add(self, login: str) -> None:
        """Join ``login`` (now if connected, else on connect)."""
        self.channels.add(login)
        self._wake.set()

    def remove(self, login: str) -> None:
        """Leave ``login``."""
        self.channels.discard(login)
        self._attempts.pop(login, None)
        self._retry.pop(login, None)
        for session in (self.session, self._old):
            if session is not None and (login in session.joined or login in session.requested):
                session.send(f"PART #{login}")
                session.joined.discard(login)
                session.requested.pop(login, None)

    # -- the session loop ---------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve, reconnect with backoff; forever (until cancelled)."""
        old: Session | None = None
        while True:
            session: Session | None = None
            try:
                session = await self._open(old)
                await self._serve(session)
            except asyncio.CancelledError:
                raise
            except Reconnect as exc:
                log.warning("reconnecting", extra={"conn": self.index, "reason": str(exc)})
            except (OSError, EOFError, TimeoutError, ssl.SSLError) as exc:
                log.warning("connection lost", extra={"conn": self.index, "error": repr(exc)})
            except Exception:  # a bug must cost a reconnect, not the connection
                log.exception("connection failed", extra={"conn": self.index})
            old = None
            if session is not None and session.reconnect_requested:
                old = session  # keep reading it while the replacement opens
                self._old = old
                log.info("RECONNECT: opening the replacement first", extra={"conn": self.index})
                continue
            if session is not None:
                session.abort()
            self._end_handover()
            self.session = None
            await asyncio.sleep(self._backoff.next())

    async def _open(self, old: Session | None) -> Session:
        """Connect and log in; returns once the welcome arrives (or raises)."""
        cfg = self.settings
        tls = ssl.create_default_context(cafile=cfg.irc_ca_file or None) if cfg.irc_tls else None
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                cfg.irc_host, cfg.irc_port, ssl=tls, server_hostname=cfg.irc_host if tls else None
            ),
            cfg.connect_timeout,
        )
        token = cfg.irc_token
        nick = cfg.irc_nick.lower() if token else f"justinfan{random.randint(10000, 99999)}"  # noqa: S311
        session = Session(reader, writer, nick)
        session.replacing = old
        self.session = session
        self.counters.sessions += 1
        session.send(f"CAP REQ :{CAPABILITIES}")
        if token:
            session.send(f"PASS {token if token.startswith('oauth:') else f'oauth:{token}'}")
        session.send(f"NICK {nick}")
        return session

    async def _serve(self, session: Session) -> None:
        """Run a session until its socket fails or the server asks for a reconnect.

        On ``RECONNECT`` its read loop keeps running (the handover drains it).
        """
        reading = session.read_task = asyncio.create_task(self._read_loop(session))
        helpers = [
            asyncio.create_task(self._joiner(session)),
            asyncio.create_task(self._watchdog(session)),
            asyncio.create_task(self._reconnect_wait(session)),
        ]
        if session.replacing is not None:
            helpers.append(asyncio.create_task(self._drain_old(session.replacing, session)))
        try:
            await asyncio.wait([reading, helpers[2]], return_when=asyncio.FIRST_COMPLETED)
            if reading.done():
                reading.result()
        finally:
            for task in helpers:
                task.cancel()
            if not session.reconnect_requested:
                reading.cancel()
                helpers.append(reading)
            await asyncio.gather(*helpers, return_exceptions=True)

    async def _reconnect_wait(self, session: Session) -> None:
        while not session.reconnect_requested:
            self._reconnect.clear()
            await self._reconnect.wait()

    async def _drain_old(self, old: Session, new: Session) -> None:
        """Keep reading ``old`` until ``new`` has joined every channel (or time is up)."""
        reader = old.read_task
        deadline = time.monotonic() + self.settings.handover_timeout
        try:
            while reader and not reader.done() and time.monotonic() < deadline:
                if new.up and self.channels <= new.joined:
                    break
                await asyncio.sleep(0.05)
        finally:
            if reader is not None:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)
            took = self.settings.handover_timeout - (deadline - time.monotonic())
            log.info(
                "handover done",
                extra={"conn": self.index, "seconds": round(took, 2), "joined": len(new.joined)},
            )
            old.abort()
            self._end_handover()

    def _end_handover(self) -> None:
        if self._old is not None:
            self._old.abort()
        self._old = None
        self._handover_ids.clear()

    async def _read_loop(self, session: Session) -> None:
        reader, buffer = session.reader, b""
        while True:
            data = await reader.read(65536)
            if not data:
                raise EOFError("server closed the connection")
            session.last_rx = time.monotonic()
            buffer += data
            *lines, buffer = buffer.split(b"\n")
            if len(buffer) > MAX_LINE:
                raise Reconnect("line too long")
            for raw in lines:
                if len(raw) > MAX_LINE:  # a complete line may also be too long
                    self.counters.malformed += 1
                    continue
                try:
                    self._handle(session, raw.rstrip(b"\r").decode("utf-8", "replace"))
                except Reconnect:
                    raise
                except Exception:  # one odd line must not drop the socket
                    self.counters.malformed += 1
                    if self._tracebacks.allow(time.monotonic()):
                        log.exception(
                            "line not handled",
                            extra={"conn": self.index, "suppressed": self._tracebacks.suppressed},
                        )

    async def _joiner(self, session: Session) -> None:
        """JOIN what is not joined, best rank first; retry unanswered JOINs with backoff."""
        cfg = self.settings
        while True:
            self._wake.clear()
            next_due = cfg.join_timeout
            if session.up:
                now = time.monotonic()
                todo = []
                for login in self.channels - session.joined:
                    sent = session.requested.get(login)
                    if sent is None:
                        todo.append(login)
                    else:
                        due = sent + self._retry_delay(login) - now
                        if due <= 0:
                            todo.append(login)
                        else:
                            next_due = min(next_due, due)
                for login in sorted(todo, key=self._priority):
                    await self._limiter.acquire(self._priority(login))
                    if login in self.channels and login not in session.joined and session.up:
                        self._join(session, login)
                await session.writer.drain()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), max(0.05, next_due))

    def _retry_delay(self, login: str) -> float:
        retry = self._retry.get(login)
        return self.settings.join_timeout + (retry.ceiling() if retry else 0.0)

    def _join(self, session: Session, login: str) -> None:
        if login in session.requested:  # sent before, never answered
            attempts = self._attempts[login] = self._attempts.get(login, 0) + 1
            retry = self._retry.setdefault(
                login, Backoff(self.settings.join_timeout, self.settings.backoff_max)
            )
            retry.next()
            self.counters.join_retries += 1
            log.warning(
                "JOIN unanswered; retrying",
                extra={"conn": self.index, "channel": login, "unanswered": attempts},
            )
        session.requested[login] = time.monotonic()
        session.send(f"JOIN #{login}")

    async def _watchdog(self, session: Session) -> None:
        """PING a quiet server; give up on one that stays silent or ignores the PING."""
        cfg = self.settings
        step = min(cfg.silence_limit, cfg.pong_timeout) / 4
        while True:
            await asyncio.sleep(step)
            now = time.monotonic()
            if session.ping_at is not None and session.last_rx > session.ping_at:
                session.ping_at = None  # anything heard answers the PING
            quiet = now - session.last_rx
            late = session.ping_at is not None and now - session.ping_at > cfg.pong_timeout
            if quiet > cfg.silence_limit or late:
                log.warning(
                    "server silent; reconnecting",
                    extra={"conn": self.index, "silent_s": round(quiet, 1), "pong_late": late},
                )
                session.abort()
                return
            if quiet > cfg.silence_limit / 2 and session.ping_at is None:
                session.ping_at = now
                session.send("PING :tmi.twitch.tv")

    # -- one line -------------------------------------------------------------------------

    def _handle(self, session: Session, line: str) -> None:
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
            elif self._old is None:
                counters.chats += 1
                self._on_chat(chat)
            else:
                self._handover_chat(session, chat)
        elif command == "PING":
            session.send(f"PONG :{msg.params[-1] if msg.params else 'tmi.twitch.tv'}")
        else:
            self._control(session, msg)

    def _handover_chat(self, session: Session, chat: Chat) -> None:
        """During a handover: the old socket counts a channel until the new one joined it."""
        new = self.session
        if session is self._old and new not in (None, session) and chat.channel_login in new.joined:
            return  # the replacement has it
        if chat.msg_id:
            if chat.msg_id in self._handover_ids:
                return  # already counted from the other socket
            self._handover_ids.add(chat.msg_id)
        self.counters.chats += 1
        self._on_chat(chat)

    def _control(self, session: Session, msg: Message) -> None:
        command, channel = msg.command, msg.channel
        if command == "001":
            session.up = True
            self._backoff.reset()  # logged in: the next failure starts from the base delay
            self._wake.set()
            log.info("connected", extra={"conn": self.index, "host": self.settings.irc_host})
        elif command == "RECONNECT":
            if session is self.session:
                session.reconnect_requested = True
                self._reconnect.set()
        elif command in ("JOIN", "ROOMSTATE") and channel in self.channels:
            if command == "ROOMSTATE" or msg.nick == session.nick:
                session.joined.add(channel)
                self._attempts.pop(channel, None)
                self._retry.pop(channel, None)
        elif command == "PART" and msg.nick == session.nick:
            session.joined.discard(channel)
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
        """Close the sockets (the run task is cancelled by its owner)."""
        for session in (self.session, self._old):
            if session is not None:
                with contextlib.suppress(Exception):
                    session.writer.close()
