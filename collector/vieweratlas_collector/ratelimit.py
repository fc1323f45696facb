"""One JOIN rate limiter shared by every connection of a collector process.

Twitch disconnects an account that sends more than 20 JOINs in 10 seconds.
The limiter keeps the send times of the last ``limit`` JOINs and makes a
caller wait until the oldest is older than the window plus a small margin
(10 %: the server clocks a JOIN when it arrives, and arrival delays vary).
Waiting callers are served by ``priority`` (lowest first: the channel's rank
in the list, so after a mass reconnect the busiest channels come back first),
then in arrival order.

The limit is per IP address at Twitch, and this limiter is per process: run
one collector process per public IP (see the collector README).
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import Callable


class JoinLimiter:
    """At most ``limit`` acquisitions in any ``window`` seconds, across all callers."""

    def __init__(
        self,
        limit: int = 20,
        window: float = 10.0,
        margin: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self.margin = max(0.1, window * 0.1) if margin is None else margin
        self._clock = clock
        self._sent: deque[float] = deque()
        self._queue: list[list[float]] = []  # heap of [priority, arrival]
        self._arrivals = itertools.count()
        self._changed = asyncio.Condition()

    def delay(self) -> float:
        """Seconds until one more JOIN may be sent (0 when it may go now)."""
        now = self._clock()
        span = self.window + self.margin
        while self._sent and now - self._sent[0] >= span:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return span - (now - self._sent[0])

    def take(self) -> None:
        """Record one JOIN sent now (``acquire`` does this once ``delay()`` is 0)."""
        self._sent.append(self._clock())

    @property
    def waiting(self) -> int:
        """Callers waiting for a slot."""
        return len(self._queue)

    async def acquire(self, priority: float = 0.0) -> None:
        """Wait for a free slot (best priority first), then take it."""
        entry = [priority, next(self._arrivals)]
        async with self._changed:
            heapq.heappush(self._queue, entry)
            self._changed.notify_all()  # a better entry changes who is first
            try:
                while True:
                    wait = self.delay() if self._queue[0] is entry else None
                    if wait is not None and wait <= 0:
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), wait)
                heapq.heappop(self._queue)
                self.take()
            except BaseException:
                if entry in self._queue:
                    self._queue.remove(entry)
                    heapq.heapify(self._queue)
                raise
            finally:
                self._changed.notify_all()
