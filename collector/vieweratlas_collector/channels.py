"""Which channels to watch: the channel list (lake or static file) and this shard's share.

The channel refresh DAG writes ``lake.CHANNELS_CURRENT`` in the format of
:mod:`vieweratlas.channel_list`. A static file may hold that same JSON or one
login per line (``#`` comments allowed). Every login is validated with
``lake.safe_login`` before it can reach a JOIN. A missing or unreadable list
keeps the last good one, and the reason is logged.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from vieweratlas.channel_list import parse_channel_list
from vieweratlas.lake import CHANNELS_CURRENT, LOGIN_RE
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Shard:
    """Replica ``index`` of ``count`` (``--shard 1/3``)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard index must be in 0..{self.count - 1}, got {self.index}")

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"i/n"`` -> ``Shard(i, n)``."""
        index, sep, count = text.partition("/")
        if not sep or not index.isdigit() or not count.isdigit():
            raise ValueError(f"shard must look like i/n, got {text!r}")
        return cls(int(index), int(count))

    @property
    def name(self) -> str:
        return f"shard-{self.index}-of-{self.count}"

    def owns(self, login: str) -> bool:
        """Stable across processes and versions: a hash of the login, not ``hash()``."""
        digest = hashlib.blake2b(login.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.index

    def select(self, logins: Iterable[str]) -> list[str]:
        return [login for login in logins if self.owns(login)]


def parse_static(data: bytes) -> list[str]:
    """Logins from a static file: channel-list JSON, or one login per line."""
    if data.lstrip().startswith(b"{"):
        return _logins(parse_channel_list(data))
    logins = []
    for line in data.decode("utf-8").splitlines():
        login = line.split("#", 1)[0].strip().lower()
        if login and LOGIN_RE.fullmatch(login):
            logins.append(login)
        elif login:
            log.warning("invalid login in channel file skipped", extra={"login": login[:40]})
    return list(dict.fromkeys(logins))


def _logins(parsed) -> list[str]:
    """The logins of a parsed channel list; rejected entries are counted in the log."""
    if parsed.rejected:
        log.warning("invalid channel entries skipped", extra={"count": parsed.rejected})
    return parsed.logins


class ChannelSource:
    """Reads the channel list, keeping the last good one when a read fails."""

    def __init__(self, shard: Shard, lake: Lake | None = None, static: Path | None = None):
        if (lake is None) == (static is None):
            raise ValueError("give exactly one of lake or static")
        self.shard = shard
        self.lake = lake
        self.static = static
        self.last_good: list[str] | None = None
        self.last_error: str | None = None

    @property
    def where(self) -> str:
        return str(self.static) if self.static else self.lake.url(CHANNELS_CURRENT)

    def read(self) -> list[str] | None:
        """This shard's channels now, or the last good list (None before any)."""
        try:
            if self.static is not None:
                logins = parse_static(self.static.read_bytes())
            else:
                logins = _logins(parse_channel_list(self.lake.read_bytes(CHANNELS_CURRENT)))
        except Exception as exc:  # noqa: BLE001 - any read error (incl. botocore's) keeps the list
            self.last_error = f"{type(exc).__name__}: {exc}"[:300]
            log.warning(
                "channel list unreadable; keeping the last good one",
                extra={
                    "where": self.where,
                    "error": self.last_error,
                    "kept": self.last_good is not None,
                },
            )
            return self.last_good
        self.last_error = None
        self.last_good = self.shard.select(logins)
        log.info(
            "channel list read", extra={"channels": len(logins), "this_shard": len(self.last_good)}
        )
        return self.last_good
