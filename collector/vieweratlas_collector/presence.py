"""The current hour's chatters, kept compact, and their Parquet rows.

Memory grows with unique (channel, chatter) pairs of the hour only. Each pair
is one dict entry of two ints: the key packs a small channel index with the
user id, the value packs message count, first and last seen (milliseconds
into the hour). Logins are stored once per user and once per channel.
"""

from __future__ import annotations

from array import array
from datetime import UTC, datetime

import pyarrow as pa

from vieweratlas.schema import PRESENCE

HOUR_MS = 3_600_000
_USER_BITS = 40  # Twitch user ids are far below 2**40
_MS_BITS = 22  # 2**22 ms > one hour
_MS_MASK = (1 << _MS_BITS) - 1
_COUNT_ONE = 1 << (2 * _MS_BITS)
_MAX_COUNT = 2**31 - 1  # message_count is int32


def hour_of(epoch: float) -> int:
    """Hours since the epoch (UTC) of a Unix time."""
    return int(epoch // 3600)


def event_time(sent_ms: int, received: float, tolerance: float) -> float:
    """When a message was sent: ``tmi-sent-ts`` when plausible, else the receive time.

    Late delivery (a reconnect, a slow socket) then never moves a chatter to
    the next hour; a missing or absurd timestamp (further than ``tolerance``
    seconds from our clock) falls back to when we received it.
    """
    if sent_ms:
        sent = sent_ms / 1000
        if abs(sent - received) <= tolerance:
            return sent
    return received


def hour_start(hour: int) -> datetime:
    """The UTC datetime an hour (hours since the epoch) starts at."""
    return datetime.fromtimestamp(hour * 3600, UTC)


class HourBucket:
    """Unique chatters per channel for one UTC hour."""

    def __init__(self, hour: int) -> None:
        self.hour = hour
        self.messages = 0
        self._start_ms = hour * HOUR_MS
        self._pairs: dict[int, int] = {}
        self._channels: dict[int, int] = {}  # channel id -> index
        self._channel_rows: list[tuple[int, str]] = []  # index -> (id, login)
        self._users: dict[int, str] = {}  # user id -> login

    def __len__(self) -> int:
        return len(self._pairs)

    def add(
        self, channel_id: int, channel_login: str, user_id: int, user_login: str, epoch: float
    ) -> None:
        """Count one message; ``epoch`` (Unix seconds) must fall in this hour."""
        index = self._channels.get(channel_id)
        if index is None:
            index = self._channels[channel_id] = len(self._channel_rows)
            self._channel_rows.append((channel_id, channel_login))
        if user_id >= 1 << _USER_BITS:
            return
        if user_id not in self._users:
            self._users[user_id] = user_login
        offset = min(max(int(epoch * 1000) - self._start_ms, 0), HOUR_MS - 1)
        key = (index << _USER_BITS) | user_id
        value = self._pairs.get(key)
        if value is None:
            self._pairs[key] = _COUNT_ONE | (offset << _MS_BITS) | offset
        elif (value >> (2 * _MS_BITS)) < _MAX_COUNT:
            self._pairs[key] = ((value + _COUNT_ONE) & ~_MS_MASK) | max(offset, value & _MS_MASK)
        self.messages += 1

    def table(self) -> pa.Table:
        """The hour as presence rows (``schema.PRESENCE``, source ``live``).

        Numbers go through typed ``array`` buffers, not lists of Python ints, so
        building a 500,000-row snapshot costs tens of megabytes, not hundreds.
        """
        n = len(self._pairs)
        channel_ids, user_ids, firsts, lasts = (array("q") for _ in range(4))
        counts = array("i")
        channel_logins, user_logins = [], []
        start, rows, users = self._start_ms, self._channel_rows, self._users
        user_mask = (1 << _USER_BITS) - 1
        pairs = self._pairs
        for key in sorted(pairs):  # grouped by channel, then user: compresses well
            value = pairs[key]
            channel_id, channel_login = rows[key >> _USER_BITS]
            user_id = key & user_mask
            channel_ids.append(channel_id)
            channel_logins.append(channel_login)
            user_ids.append(user_id)
            user_logins.append(users[user_id])
            firsts.append(start + ((value >> _MS_BITS) & _MS_MASK))
            lasts.append(start + (value & _MS_MASK))
            counts.append(value >> (2 * _MS_BITS))

        def numbers(values: array, kind: pa.DataType) -> pa.Array:
            return pa.Array.from_buffers(kind, n, [None, pa.py_buffer(values)])

        columns = {
            "channel_id": numbers(channel_ids, pa.int64()),
            "channel_login": pa.array(channel_logins, pa.string()),
            "user_id": numbers(user_ids, pa.int64()),
            "user_login": pa.array(user_logins, pa.string()),
            "source": pa.array(["live"] * n, pa.string()),
            "content_id": pa.nulls(n, pa.string()),
            "first_seen": numbers(firsts, PRESENCE.field("first_seen").type),
            "last_seen": numbers(lasts, PRESENCE.field("last_seen").type),
            "message_count": numbers(counts, pa.int32()),
        }
        return pa.Table.from_arrays([columns[name] for name in PRESENCE.names], schema=PRESENCE)
