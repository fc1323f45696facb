"""One JOIN rate limiter shared by every connection of a collector process.

Twitch disconnects an account that sends more than 20 JOINs in 10 seconds.
The limiter keeps the send times of the last ``limit`` JOINs and makes a
caller wait until the oldest is older than the window plus a small margin
(10 %: the server clocks a JOIN when it arrives, and arrival delays vary).
"""

from __future__ import annotations

import asyncio
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
        self._lock = asyncio.Lock()

    def delay(self) -> float:
        """Seconds until one more JOIN may be sent (0 when it may go now)."""
        now = self._clock()
        span = self.window + self.margin
        while self._sent and now - self._sent[0] >= span:
            self._sent.popleft()
        if len(self._sent) < self.limit:
            return 0.0
        return span - (now - self._sent[0])

    async def acquire(self) -> None:
        """Wait for a free slot, then take it (callers are served in turn)."""
        async with self._lock:
            while (wait := self.delay()) > 0:
                await asyncio.sleep(wait)
            self._sent.append(self._clock())
