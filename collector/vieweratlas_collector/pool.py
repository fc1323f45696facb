"""Many connections, one JOIN limiter: spread the wanted channels over sockets.

:meth:`Pool.sync` takes this instance's channels in rank order (busiest
first) and JOINs/PARTs the difference: new channels go to the least-loaded
connection with room (a new connection is opened when all are full), and
every JOIN is queued by rank, so after a mass reconnect the busiest channels
come back first. Channels parked after a NOTICE (suspended, banned, ...) are
left out until ``park_seconds`` pass.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from vieweratlas.lake import UnsafeKeyError, safe_login
from vieweratlas_collector.connection import Connection
from vieweratlas_collector.irc import Chat
from vieweratlas_collector.ratelimit import JoinLimiter
from vieweratlas_collector.settings import CollectorSettings

log = logging.getLogger(__name__)


class Pool:
    """The collector's IRC connections."""

    def __init__(
        self, settings: CollectorSettings, limiter: JoinLimiter, on_chat: Callable[[Chat], None]
    ) -> None:
        self.settings = settings
        self.limiter = limiter
        self.connections: list[Connection] = []
        self.parked: dict[str, float] = {}  # login -> monotonic time parked
        self.rank: dict[str, int] = {}  # login -> position in the list (0 = most viewers)
        self._on_chat = on_chat
        self._owner: dict[str, Connection] = {}
        self._tasks: list[asyncio.Task] = []
        self._wanted: set[str] = set()

    def priority(self, login: str) -> float:
        return self.rank.get(login, len(self.rank))

    def sync(self, wanted: Iterable[str]) -> None:
        """Make the joined set equal ``wanted`` (rank order) minus parked channels."""
        self._wanted, self.rank = set(), {}
        for login in wanted:
            try:
                login = safe_login(login)  # untrusted until here
            except UnsafeKeyError:
                log.warning("invalid channel login skipped", extra={"login": str(login)[:40]})
                continue
            self._wanted.add(login)
            self.rank.setdefault(login, len(self.rank))
        now = time.monotonic()
        for login, since in list(self.parked.items()):
            if now - since >= self.settings.park_seconds or login not in self._wanted:
                del self.parked[login]
        target = self._wanted - self.parked.keys()
        for login in [c for c in self._owner if c not in target]:
            self._owner.pop(login).remove(login)
        for login in sorted(target - self._owner.keys(), key=self.priority):
            conn = self._room()
            conn.add(login)
            self._owner[login] = conn

    def _room(self) -> Connection:
        per = self.settings.per_connection
        open_ = [c for c in self.connections if len(c.channels) < per]
        if open_:
            return min(open_, key=lambda c: len(c.channels))
        conn = Connection(
            len(self.connections),
            self.settings,
            self.limiter,
            self._on_chat,
            self._park,
            self.priority,
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

    @property
    def unjoinable(self) -> list[str]:
        """Channels whose JOINs keep going unanswered, busiest first."""
        found = set().union(*(c.unjoinable for c in self.connections))
        return sorted(found, key=self.priority)

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
