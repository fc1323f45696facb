"""Twitch IRC lines: IRCv3 tag parsing, and who said something in which channel.

Pure functions, no I/O. :func:`parse` splits one line into tags, prefix,
command and parameters; :func:`chatter` turns a PRIVMSG or USERNOTICE into a
:class:`Chat` (or ``None``) after validating everything that came off the wire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vieweratlas.lake import LOGIN_RE, NUMERIC_ID_RE

_UNESCAPE = re.compile(r"\\(.?)")
_ESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_LOGIN = LOGIN_RE.match
_ID = NUMERIC_ID_RE.match


def unescape(value: str) -> str:
    """Undo IRCv3 tag-value escaping (``\\s`` space, ``\\:`` semicolon, ...)."""
    if "\\" not in value:
        return value
    # An unknown escape drops the backslash; a trailing backslash is dropped.
    return _UNESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), value)


@dataclass(slots=True)
class Message:
    """One parsed IRC line."""

    tags: dict[str, str]
    prefix: str
    command: str
    params: list[str]

    @property
    def nick(self) -> str:
        """The nick of the prefix (``nick!user@host``), or the server name."""
        return self.prefix.split("!", 1)[0]

    @property
    def channel(self) -> str:
        """The first parameter without its ``#``, when it names a channel."""
        if self.params and self.params[0].startswith("#"):
            return self.params[0][1:]
        return ""


def parse_tags(raw: str) -> dict[str, str]:
    """``a=1;b=x\\sy;c`` -> ``{"a": "1", "b": "x y", "c": ""}``."""
    tags = {}
    for item in raw.split(";"):
        key, _, value = item.partition("=")
        if key:
            tags[key] = unescape(value)
    return tags


def parse(line: str) -> Message | None:
    """Parse one line (without CRLF); ``None`` when it is not valid IRC."""
    tags: dict[str, str] = {}
    prefix = ""
    rest = line
    if rest.startswith("@"):
        raw, sep, rest = rest.partition(" ")
        if not sep:
            return None
        tags = parse_tags(raw[1:])
        rest = rest.lstrip(" ")
    if rest.startswith(":"):
        prefix, sep, rest = rest.partition(" ")
        if not sep:
            return None
        prefix = prefix[1:]
        rest = rest.lstrip(" ")
    head, sep, trailing = rest.partition(" :")
    words = head.split()
    if not words:
        return None
    params = words[1:]
    if sep:
        params.append(trailing)
    return Message(tags, prefix, words[0].upper(), params)


@dataclass(frozen=True, slots=True)
class Chat:
    """Someone spoke in a channel: the rows the collector counts."""

    channel_id: int
    channel_login: str
    user_id: int
    user_login: str
    sent_ms: int = 0  # tmi-sent-ts (Unix ms, Twitch's clock), 0 when absent or malformed
    msg_id: str = ""  # the message's ``id`` tag (used to de-duplicate during a handover)


def chatter(msg: Message) -> Chat | None:
    """The sender of a PRIVMSG or USERNOTICE, validated; ``None`` for anything else.

    Shared chat: a message relayed from a partner channel has ``source-room-id``
    different from ``room-id``. It is dropped here, because the original
    arrives in the source channel's own room (where the two ids are equal):
    counting the relay would put the user in two channels at once.
    """
    if msg.command == "PRIVMSG":
        login = msg.nick
    elif msg.command == "USERNOTICE":
        login = msg.tags.get("login", "")
    else:
        return None
    tags = msg.tags
    room_id = tags.get("room-id", "")
    source_room = tags.get("source-room-id")
    if source_room is not None and source_room != room_id:
        return None
    user_id = tags.get("user-id", "")
    channel = msg.channel
    if not (_ID(room_id) and _ID(user_id) and _LOGIN(login) and _LOGIN(channel)):
        return None
    sent = tags.get("tmi-sent-ts", "")
    sent_ms = int(sent) if 0 < len(sent) < 16 and sent.isascii() and sent.isdigit() else 0
    return Chat(int(room_id), channel, int(user_id), login, sent_ms, tags.get("id", ""))


def is_shared_relay(msg: Message) -> bool:
    """True for a shared-chat copy of another channel's message."""
    source_room = msg.tags.get("source-room-id")
    return source_room is not None and source_room != msg.tags.get("room-id")
