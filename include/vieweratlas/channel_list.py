"""The collector's channel list (``lake.CHANNELS_CURRENT``): one format, both sides.

The channel refresh DAG writes it with :func:`render_channel_list`; the IRC
collector reads it with :func:`parse_channel_list`. It is a UTF-8 JSON object::

    {
      "version": 1,
      "generated_at": "2026-11-22T04:00:00+00:00",
      "source": "helix",
      "channels": [{"id": "123", "login": "abc", "rank": 1}, ...]
    }

``channels`` is ordered by ``rank`` (1 = most viewers). Logins and ids come
from Twitch and are untrusted: rendering refuses an invalid entry, parsing
skips it (and counts it in ``ChannelList.rejected``) so one bad row cannot
stop the collector. A structurally broken file raises :class:`ChannelListError`.

No Airflow import: the collector uses this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from vieweratlas.lake import UnsafeKeyError, safe_id, safe_login

VERSION = 1


class ChannelListError(ValueError):
    """The channel list is not a usable channel list document."""


@dataclass(frozen=True, order=True)
class Channel:
    """One channel to watch: its numeric id (as text), login and viewer rank."""

    rank: int
    login: str
    id: str

    def __post_init__(self) -> None:
        safe_login(self.login)
        safe_id(self.id)
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise UnsafeKeyError(f"rank must be a positive integer, got {self.rank!r}")


@dataclass(frozen=True)
class ChannelList:
    """A parsed channel list."""

    generated_at: datetime
    source: str
    channels: tuple[Channel, ...]
    rejected: int = field(default=0, compare=False)  # entries skipped as invalid

    @property
    def logins(self) -> list[str]:
        """The channel logins, in rank order."""
        return [channel.login for channel in self.channels]


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ChannelListError("generated_at must be timezone-aware")
    return value.astimezone(UTC)


def _channel(raw: object) -> Channel:
    if not isinstance(raw, dict):
        raise UnsafeKeyError(f"channel entry is not an object: {raw!r}")
    # untrusted values of any type: Channel.__post_init__ validates each one
    entry: dict[str, Any] = raw
    channel_id: Any = entry.get("id")
    if isinstance(channel_id, int) and not isinstance(channel_id, bool):
        channel_id = str(channel_id)
    rank: Any = entry.get("rank")
    login: Any = entry.get("login")
    return Channel(rank=rank, login=login, id=channel_id)


def _dedupe(channels: Iterable[Channel]) -> tuple[Channel, ...]:
    """Rank order; the best-ranked entry wins when a login or id repeats."""
    seen_logins: set[str] = set()
    seen_ids: set[str] = set()
    kept = []
    for channel in sorted(channels):
        if channel.login in seen_logins or channel.id in seen_ids:
            continue
        seen_logins.add(channel.login)
        seen_ids.add(channel.id)
        kept.append(channel)
    return tuple(kept)


def parse_channel_list(data: bytes) -> ChannelList:
    """Parse and validate a channel list; invalid entries are skipped and counted."""
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ChannelListError(f"channel list is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("channels"), list):
        raise ChannelListError("channel list must be an object with a 'channels' array")
    version = doc.get("version", VERSION)
    if version != VERSION:
        raise ChannelListError(f"unsupported channel list version {version!r}")
    try:
        generated_at = _utc(datetime.fromisoformat(str(doc.get("generated_at"))))
    except ValueError as exc:
        raise ChannelListError(f"bad generated_at: {doc.get('generated_at')!r}") from exc
    source = doc.get("source")
    if not isinstance(source, str) or not source:
        raise ChannelListError("channel list needs a non-empty 'source'")
    channels, rejected = [], 0
    for raw in doc["channels"]:
        try:
            channels.append(_channel(raw))
        except (UnsafeKeyError, TypeError):
            rejected += 1
    return ChannelList(generated_at, source, _dedupe(channels), rejected)


def render_channel_list(
    channels: Iterable[Channel],
    generated_at: datetime,
    source: str = "helix",
) -> bytes:
    """The JSON bytes of a channel list (validated, de-duplicated, rank-ordered)."""
    if not source:
        raise ChannelListError("source must not be empty")
    doc = {
        "version": VERSION,
        "generated_at": _utc(generated_at).isoformat(),
        "source": source,
        "channels": [
            {"id": channel.id, "login": channel.login, "rank": channel.rank}
            for channel in _dedupe(Channel(c.rank, c.login, c.id) for c in channels)
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8")
