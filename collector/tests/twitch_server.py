"""A Twitch-like IRC server on loopback for the collector's tests.

It runs its own asyncio loop in a thread, so both an in-process collector and
a collector subprocess can talk to it. It speaks the subset Twitch speaks:
CAP ACK, welcome numerics, JOIN echo + ROOMSTATE, tagged PRIVMSG/USERNOTICE,
PING, RECONNECT, NOTICE for suspended channels, and it enforces one JOIN
rate limit across all connections by dropping the client that exceeds it.
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field


def room_id(login: str) -> int:
    """A stable numeric room id per channel login."""
    return int.from_bytes(hashlib.blake2b(login.encode(), digest_size=4).digest(), "big") + 1


def escape(value: str) -> str:
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\:")
        .replace(" ", "\\s")
        .replace("\r", "\\r")
        .replace("\n", "\\n")
    )


@dataclass(eq=False)
class Client:
    writer: asyncio.StreamWriter
    nick: str = ""
    password: str = ""
    caps: str = ""
    channels: set[str] = field(default_factory=set)
    welcomed: bool = False
    blackholed: bool = False  # reads and answers nothing, sends nothing, stays open


class FakeTwitch:
    """Start with :meth:`start`; control from any thread."""

    def __init__(
        self, join_limit: int = 20, join_window: float = 10.0, suspended=(), tls=None
    ) -> None:
        self.tls = tls  # an ssl.SSLContext to serve TLS, like irc.chat.twitch.tv:6697
        self.join_limit = join_limit
        self.join_window = join_window
        self.suspended = set(suspended)
        self.clients: list[Client] = []
        self.violations = 0
        self.joins = 0
        self.connections_total = 0
        self.pongs = 0
        self.passwords: list[str] = []
        self.nicks: list[str] = []
        self.parts: list[str] = []
        self.join_log: list[str] = []  # every JOIN received, in order
        self.ignore_joins: dict[str, int] = {}  # channel -> JOINs to leave unanswered
        self._join_times: deque[float] = deque()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> FakeTwitch:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close():
            self._server.close()
            for client in list(self.clients):
                client.writer.transport.abort()

        self._call(close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(10)

    # -- the protocol ----------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = Client(writer)
        self.clients.append(client)
        self.connections_total += 1
        try:
            while (line := await reader.readline()) and not writer.is_closing():
                self._handle(client, line.decode().rstrip("\r\n"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.clients.remove(client)
            writer.transport.abort()

    def _send(self, client: Client, line: str) -> None:
        if not client.writer.is_closing():
            client.writer.write(line.encode() + b"\r\n")

    def _handle(self, client: Client, line: str) -> None:
        if client.blackholed:
            return
        command, _, rest = line.partition(" ")
        if command == "CAP":
            client.caps = rest.split(":", 1)[-1]
            self._send(client, f":tmi.twitch.tv CAP * ACK :{client.caps}")
        elif command == "PASS":
            client.password = rest
            self.passwords.append(rest)
        elif command == "NICK":
            client.nick = rest.strip()
            self.nicks.append(client.nick)
            for num, text in [
                ("001", "Welcome, GLHF!"),
                ("002", "Your host is tmi.twitch.tv"),
                ("375", "-"),
                ("372", "You are in a maze of twisty passages."),
                ("376", ">"),
            ]:
                self._send(client, f":tmi.twitch.tv {num} {client.nick} :{text}")
            client.welcomed = True
        elif command == "JOIN":
            for channel in rest.split(","):
                self._join(client, channel.strip().lstrip("#"))
        elif command == "PART":
            channel = rest.strip().lstrip("#")
            client.channels.discard(channel)
            self.parts.append(channel)
            nick = client.nick
            self._send(client, f":{nick}!{nick}@{nick}.tmi.twitch.tv PART #{channel}")
        elif command == "PONG":
            self.pongs += 1
        elif command == "PING":
            self._send(client, f":tmi.twitch.tv PONG tmi.twitch.tv {rest}")

    def _join(self, client: Client, channel: str) -> None:
        now = time.monotonic()
        while self._join_times and now - self._join_times[0] >= self.join_window:
            self._join_times.popleft()
        if len(self._join_times) >= self.join_limit:
            self.violations += 1
            client.writer.transport.abort()
            return
        self._join_times.append(now)
        self.joins += 1
        self.join_log.append(channel)
        if self.ignore_joins.get(channel, 0) > 0:
            self.ignore_joins[channel] -= 1
            return
        if channel in self.suspended:
            self._send(
                client,
                f"@msg-id=msg_channel_suspended :tmi.twitch.tv NOTICE #{channel} "
                ":This channel has been suspended.",
            )
            return
        client.channels.add(channel)
        nick = client.nick
        self._send(client, f":{nick}!{nick}@{nick}.tmi.twitch.tv JOIN #{channel}")
        self._send(client, f":{nick}.tmi.twitch.tv 353 {nick} = #{channel} :{nick}")
        self._send(client, f":{nick}.tmi.twitch.tv 366 {nick} #{channel} :End of /NAMES list")
        self._send(
            client,
            f"@emote-only=0;followers-only=-1;r9k=0;room-id={room_id(channel)};"
            f"slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE #{channel}",
        )

    # -- control (any thread) -------------------------------------------------------------------

    def joined(self) -> set[str]:
        """Channels joined on live connections."""
        return set().union(*(c.channels for c in list(self.clients))) if self.clients else set()

    def wait_joined(self, channels, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        want = set(channels)
        while not want <= self.joined():
            if time.monotonic() > deadline:
                raise TimeoutError(f"not joined: {sorted(want - self.joined())[:10]}")
            time.sleep(0.02)

    def broadcast(self, lines: list[tuple[str, str]]) -> int:
        """Send each ``(channel, line)`` to every client in that channel; return sends."""

        async def send():
            sent = 0
            for channel, line in lines:
                for client in self.clients:
                    if channel in client.channels and not client.blackholed:
                        self._send(client, line)
                        sent += 1
            return sent

        return self._call(send())

    def send_to(self, client: Client, lines: list[tuple[str, str]]) -> None:
        """Send each ``(channel, line)`` on one connection only (if it is in that channel)."""

        async def send():
            for channel, line in lines:
                if channel in client.channels and not client.blackholed:
                    self._send(client, line)

        self._call(send())

    def to_all(self, line: str, then_close: bool = False) -> None:
        async def send():
            for client in list(self.clients):
                self._send(client, line)
                if then_close:
                    await client.writer.drain()
                    client.writer.close()

        self._call(send())

    def reconnect_all(self, close: bool = True) -> None:
        """Send RECONNECT; Twitch closes the socket a little later (``close=False``: never)."""
        self.to_all(":tmi.twitch.tv RECONNECT", then_close=close)

    def blackhole_all(self) -> None:
        """Current connections go dead without closing (a dead NAT path, a hung server)."""

        async def mute():
            for client in self.clients:
                client.blackholed = True

        self._call(mute())

    def drop_all(self) -> None:
        async def drop():
            for client in list(self.clients):
                client.writer.transport.abort()

        self._call(drop())


def privmsg(
    channel: str, user: str, user_id: int, text: str = "hi", **extra: str
) -> tuple[str, str]:
    """A Twitch-shaped PRIVMSG line for ``broadcast``."""
    tags = {
        "badge-info": "",
        "badges": "",
        "color": "#1E90FF",
        "display-name": user.title(),
        "emotes": "",
        "first-msg": "0",
        "flags": "",
        "id": str(uuid.uuid4()),
        "mod": "0",
        "returning-chatter": "0",
        "room-id": str(room_id(channel)),
        "subscriber": "0",
        "tmi-sent-ts": str(int(time.time() * 1000)),
        "turbo": "0",
        "user-id": str(user_id),
        "user-type": "",
    } | extra
    raw = ";".join(f"{k}={escape(v)}" for k, v in tags.items())
    return channel, f"@{raw} :{user}!{user}@{user}.tmi.twitch.tv PRIVMSG #{channel} :{text}"


def usernotice(channel: str, user: str, user_id: int, msg_id: str = "resub") -> tuple[str, str]:
    tags = {
        "login": user,
        "user-id": str(user_id),
        "room-id": str(room_id(channel)),
        "msg-id": msg_id,
        "system-msg": f"{user} subscribed for 3 months; nice!",
        "tmi-sent-ts": str(int(time.time() * 1000)),
    }
    raw = ";".join(f"{k}={escape(v)}" for k, v in tags.items())
    return channel, f"@{raw} :tmi.twitch.tv USERNOTICE #{channel} :Great stream"


def shared_relay(channel: str, source: str, user: str, user_id: int) -> tuple[str, str]:
    """A shared-chat copy, in ``channel``, of a message sent in ``source``."""
    return privmsg(
        channel,
        user,
        user_id,
        "relayed",
        **{"source-room-id": str(room_id(source)), "source-id": str(uuid.uuid4())},
    )
