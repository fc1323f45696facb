"""TwitchDownloader chat JSON -> ``schema.PRESENCE`` rows, one table per UTC day.

A comment's time is the video's start (``video.created_at``) plus its
``content_offset_seconds``, so a VOD that crosses midnight yields two days.
The chatter's login is ``commenter.name`` and the id ``commenter._id``; both
come from Twitch and are validated: a comment with an unusable login or id is
dropped and counted, never written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from vieweratlas import lake


class MalformedChatError(ValueError):
    """The chat JSON is not in TwitchDownloader's format."""


@dataclass
class VodChat:
    """The parts of one VOD's chat that presence needs."""

    vod_id: str
    channel_id: int
    channel_login: str
    created_at: datetime
    days: dict[date, list[dict[str, Any]]] = field(default_factory=dict)
    comments: int = 0
    dropped: int = 0


def _parse_time(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedChatError(f"{what} is missing")
    try:
        return lake.parse_utc(value)
    except ValueError:
        raise MalformedChatError(f"{what} is not an ISO timestamp: {value[:40]!r}") from None


def _channel(doc: dict[str, Any]) -> tuple[int, str]:
    streamer = doc.get("streamer")
    if not isinstance(streamer, dict):
        raise MalformedChatError("streamer is missing")
    try:
        channel_id = lake.int_id(streamer.get("id", ""))
        login = streamer.get("login") or str(streamer.get("name", "")).lower()
        return channel_id, lake.safe_login(login)
    except lake.UnsafeKeyError as exc:
        raise MalformedChatError(f"streamer is not usable: {exc}") from None


def _commenter(comment: object) -> tuple[int, str, float] | None:
    if not isinstance(comment, dict):
        return None
    commenter = comment.get("commenter")
    offset = comment.get("content_offset_seconds")
    if not isinstance(commenter, dict) or isinstance(offset, bool):
        return None
    if not isinstance(offset, int | float) or not math.isfinite(offset) or offset < 0:
        return None
    try:
        user_id = lake.int_id(commenter.get("_id", ""))
        login = lake.safe_login(commenter.get("name", ""))
    except lake.UnsafeKeyError:
        return None
    return user_id, login, float(offset)


def parse_chat(doc: object, vod_id: str) -> VodChat:
    """Aggregate comments into per-day presence rows (one row per chatter and day)."""
    if not isinstance(doc, dict):
        raise MalformedChatError("chat JSON is not an object")
    video = doc.get("video")
    comments = doc.get("comments")
    if not isinstance(video, dict) or not isinstance(comments, list):
        raise MalformedChatError("chat JSON needs 'video' and 'comments'")
    if str(video.get("id", vod_id)) != vod_id:
        raise MalformedChatError(f"chat JSON is for VOD {str(video.get('id'))[:30]!r}")
    channel_id, channel_login = _channel(doc)
    start = _parse_time(video.get("created_at"), "video.created_at")
    chat = VodChat(vod_id, channel_id, channel_login, start)
    seen: dict[tuple[date, int], dict[str, Any]] = {}
    for comment in comments:
        chat.comments += 1
        parsed = _commenter(comment)
        if parsed is None:
            chat.dropped += 1
            continue
        user_id, login, offset = parsed
        at = start + timedelta(seconds=offset)
        key = (at.date(), user_id)
        row = seen.get(key)
        if row is None:
            row = {
                "channel_id": channel_id,
                "channel_login": channel_login,
                "user_id": user_id,
                "user_login": login,
                "source": "vod",
                "content_id": vod_id,
                "first_seen": at,
                "last_seen": at,
                "message_count": 0,
            }
            seen[key] = row
            chat.days.setdefault(at.date(), []).append(row)
        row["first_seen"] = min(row["first_seen"], at)
        row["last_seen"] = max(row["last_seen"], at)
        row["message_count"] += 1
    return chat
