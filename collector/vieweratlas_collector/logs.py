"""Structured logs: one JSON object per line on stderr, secrets redacted."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "msg", ...extra}``; any listed secret becomes ``***``."""

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if s)

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        text = json.dumps(entry, default=str, ensure_ascii=False)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def setup(level: str = "INFO", secrets: tuple[str, ...] = ()) -> None:
    """Route all logging to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "s3fs", "fsspec", "aiobotocore", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class Throttle:
    """At most ``budget`` events per ``window`` seconds (a guard against log floods)."""

    def __init__(self, budget: int = 5, window: float = 60.0) -> None:
        self.budget = budget
        self.window = window
        self.suppressed = 0
        self._start = -window
        self._used = 0

    def allow(self, now: float) -> bool:
        """True when this event may be logged; otherwise it is counted in ``suppressed``."""
        if now - self._start >= self.window:
            self._start, self._used = now, 0
        self._used += 1
        if self._used <= self.budget:
            return True
        self.suppressed += 1
        return False
