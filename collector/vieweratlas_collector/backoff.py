"""The collector's one retry delay: exponential backoff with full jitter.

Used for reconnects, uploads and unanswered JOINs. Full jitter (a uniform
draw between 0 and the ceiling) spreads the retries of many sockets or
processes that failed together, so they do not come back in lockstep.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass
class Backoff:
    """``next()`` gives the next delay; ``reset()`` after a success."""

    base: float = 1.0
    maximum: float = 60.0
    attempt: int = 0

    def ceiling(self) -> float:
        """The largest delay the next ``next()`` may return."""
        return min(self.maximum, self.base * 2 ** min(self.attempt, 62))

    def next(self) -> float:
        """A random delay in ``[0, ceiling]``; the ceiling doubles each time up to ``maximum``."""
        delay = random.uniform(0, self.ceiling())  # noqa: S311 - jitter, not crypto
        self.attempt += 1
        return delay

    def reset(self) -> None:
        """Start again from ``base`` (call after a success)."""
        self.attempt = 0
