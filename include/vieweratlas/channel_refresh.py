"""Channel refresh: the top live streams into the hourly metadata and the current list.

Streams come from :meth:`HelixClient.top_streams`; each becomes one
``schema.CHANNEL_METADATA`` row. Streams whose id or login is not safe are
dropped (and counted), so nothing hostile reaches a key or the collector.
The current list (``lake.CHANNELS_CURRENT``) is replaced only when the new
list is not much shorter than the previous one (``min_channels_ratio``).
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from vieweratlas import lake
from vieweratlas.channel_list import (
    Channel,
    ChannelListError,
    parse_channel_list,
    render_channel_list,
)
from vieweratlas.settings import Settings
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)


class ChannelListShrankError(RuntimeError):
    """Twitch returned far fewer channels than the list the collector already has."""


@dataclass(frozen=True)
class RefreshResult:
    """What one refresh wrote (small: goes to XCom)."""

    hourly_url: str
    current_url: str
    channels: int
    rejected: int
    previous: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def metadata_rows(
    streams: list[dict[str, Any]], observed_at: datetime
) -> tuple[list[dict[str, Any]], int]:
    """``CHANNEL_METADATA`` rows (ranked 1..n) and how many streams were rejected."""
    rows: list[dict[str, Any]] = []
    rejected = 0
    for stream in streams:
        try:
            channel_id = lake.int_id(stream.get("user_id", ""))
            login = lake.safe_login(stream.get("user_login", ""))
        except lake.UnsafeKeyError:
            rejected += 1
            continue
        viewers = stream.get("viewer_count")
        rows.append(
            {
                "observed_at": observed_at,
                "rank": len(rows) + 1,
                "channel_id": channel_id,
                "login": login,
                "display_name": stream.get("user_name"),
                "game_id": str(stream["game_id"]) if stream.get("game_id") else None,
                "game_name": stream.get("game_name") or None,
                "language": stream.get("language") or None,
                "viewer_count": int(viewers) if isinstance(viewers, int) else None,
                "started_at": lake.maybe_utc(stream.get("started_at")),
                "title": stream.get("title"),
            }
        )
    return rows, rejected


def previous_count(store: Lake) -> int:
    """How many channels the current list holds (0 when there is none or it is unreadable)."""
    if not store.exists(lake.CHANNELS_CURRENT):
        return 0
    try:
        return len(parse_channel_list(store.read_bytes(lake.CHANNELS_CURRENT)).channels)
    except ChannelListError:
        log.warning("The current channel list is unreadable; it will be replaced")
        return 0


def write_refresh(
    store: Lake,
    streams: list[dict[str, Any]],
    observed_at: datetime,
    min_ratio: float,
) -> RefreshResult:
    """Write the hour's metadata, then replace the current list unless it shrank too much."""
    from vieweratlas.schema import CHANNEL_METADATA, from_rows

    rows, rejected = metadata_rows(streams, observed_at)
    if rejected:
        log.warning("Dropped %d streams with an invalid id or login", rejected)
    hour_key = lake.channels_hourly(observed_at, observed_at.hour)
    hourly_url = store.write_parquet(hour_key, from_rows(rows, CHANNEL_METADATA))
    previous = previous_count(store)
    if not rows or len(rows) < min_ratio * previous:
        raise ChannelListShrankError(
            f"Twitch returned {len(rows)} usable channels, fewer than {min_ratio:.0%} of the "
            f"{previous} in the current list; the current list was kept"
        )
    channels = [Channel(rank=r["rank"], login=r["login"], id=str(r["channel_id"])) for r in rows]
    current_url = store.write_bytes(
        lake.CHANNELS_CURRENT, render_channel_list(channels, observed_at, source="helix")
    )
    log.info("Wrote %d channels (previous list: %d)", len(rows), previous)
    return RefreshResult(hourly_url, current_url, len(rows), rejected, previous)


def refresh(store: Lake, settings: Settings, when: datetime | None) -> dict[str, Any]:
    """The ``refresh_channels`` task: Helix -> lake; a shrunken list fails without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from vieweratlas.helix import helix_from_connection

    observed_at = lake.to_utc(when or datetime.now(UTC))
    observed_at = observed_at.replace(minute=0, second=0, microsecond=0)
    streams = helix_from_connection(settings.twitch_conn_id).top_streams(settings.top_channels)
    try:
        result = write_refresh(store, streams, observed_at, settings.min_channels_ratio)
    except ChannelListShrankError as exc:
        raise AirflowFailException(str(exc)) from None
    return result.as_dict()
