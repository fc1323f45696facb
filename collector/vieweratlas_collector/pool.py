"""Many connections, one JOIN limiter: spread the wanted channels over sockets.

:meth:`Pool.sync` takes the full set of channels this instance should watch and
JOINs/PARTs the difference: new channels go to the least-loaded connection with
room (a new connection is opened when all are full). Channels parked after a
NOTICE (suspended, banned, ...) are left out until ``park_seconds`` pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from vieweratlas.lake import UnsafeKeyError, safe_login
from vieweratlas_collector.connection import Connection, IrcConfig
from vieweratlas_collector.irc import Chat
from vieweratlas_collector.ratelimit import JoinLimiter

log = logging.getLogger(__name__)


class Pool:
    """The collector's IRC connections."""

    def __init__(
        self,
        config: IrcConfig,
        limiter: JoinLimiter,
        on_chat: Callable[[Chat], None],
        per_connection: int = 50,
        park_seconds: float = 3600.0,
    ) -> None:
        self.config = config
        self.limiter = limiter
        self.per_connection = per_connection
        self.park_seconds = park_seconds
        self.connections: list[Connection] = []
        self.parked: dict[str, float] = {}  # login -> monotonic time parked
        self._on_chat = on_chat
        self._owner: dict[str, Connection] = {}
        self._tasks: list[asyncio.Task] = []
        self._wanted: set[str] = set()

    def sync(self, wanted: Iterable[str]) -> None:
        """Make the joined set equal ``wanted`` minus parked channels."""
        self._wanted = set()
        for login in wanted:
            try:
                self._wanted.add(safe_login(login))  # untrusted until here
            except UnsafeKeyError:
                log.warning("invalid channel login skipped", extra={"login": str(login)[:40]})
        now = time.monotonic()
        for login, since in list(self.parked.items()):
            if now - since >= self.park_seconds or login not in self._wanted:
                del self.parked[login]
        target = self._wanted - self.parked.keys()
        for login in [c for c in self._owner if c not in target]:
            self._owner.pop(login).remove(login)
        for login in sorted(target - self._owner.keys()):
            conn = self._room()
            conn.add(login)
            self._owner[login] = conn

    def _room(self) -> Connection:
        open_ = [c for c in self.connections if len(c.channels) < self.per_connection]
        if open_:
            return min(open_, key=lambda c: len(c.channels))
        conn = Connection(
            len(self.connections), self.config, self.limiter, self._on_chat, self._park
        )
        self.connections.append(conn)
        self._tasks.append(asyncio.create_task(conn.run(), name=f"irc-{conn.index}"))
        return conn

    def _park(self, login: str, reason: str) -> None:
        self._owner.pop(login, None)
        self.parked[login] = time.monotonic()
        log.warning("channel parked", extra={"channel": login, "reason": reason})

    @property
    def connections_up(self) -> int:
        return sum(1 for c in self.connections if c.up)

    @property
    def channels_joined(self) -> int:
        return sum(len(c.joined) for c in self.connections)

    def counter(self, name: str) -> int:
        """A counter summed over all connections (``lines``, ``chats``, ...)."""
        return sum(getattr(c.counters, name) for c in self.connections)

    async def close(self) -> None:
        """Stop every connection."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for conn in self.connections:
            await conn.close()
