"""IRC line parsing and chatter extraction (pure functions, no socket)."""

from __future__ import annotations

import time
from dataclasses import astuple

import pytest
from twitch_server import privmsg, room_id, shared_relay, usernotice

from vieweratlas_collector.irc import Chat, chatter, parse, unescape


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain", "plain"),
        (r"a\sb", "a b"),
        (r"semi\:colon", "semi;colon"),
        (r"back\\slash", "back\\slash"),
        (r"cr\rlf\n", "cr\rlf\n"),
        (r"unknown\x", "unknownx"),
        ("trailing\\", "trailing"),
        (r"\\s", "\\s"),
    ],
)
def test_unescape(raw, expected):
    assert unescape(raw) == expected


def test_parse_tagged_privmsg():
    _, line = privmsg("somechan", "alice", 42, "hello there :)", **{"display-name": "Al ice;x"})
    msg = parse(line)
    assert msg.command == "PRIVMSG"
    assert msg.params == ["#somechan", "hello there :)"]
    assert msg.nick == "alice"
    assert msg.tags["display-name"] == "Al ice;x"
    chat = chatter(msg)
    assert chat == Chat(room_id("somechan"), "somechan", 42, "alice", chat.sent_ms, msg.tags["id"])
    assert abs(chat.sent_ms / 1000 - time.time()) < 60


def test_usernotice_sender_is_the_login_tag():
    _, line = usernotice("somechan", "bob", 7)
    assert astuple(chatter(parse(line)))[:4] == (room_id("somechan"), "somechan", 7, "bob")


def test_shared_chat_relay_is_not_counted_but_the_original_is():
    _, relay = shared_relay("host", "partner", "carol", 9)
    assert chatter(parse(relay)) is None
    _, original = privmsg("partner", "carol", 9, **{"source-room-id": str(room_id("partner"))})
    assert astuple(chatter(parse(original)))[:4] == (room_id("partner"), "partner", 9, "carol")


@pytest.mark.parametrize(
    "line",
    ["", "   ", "@only-tags", ":prefix-only", "@a=b :prefix"],
)
def test_malformed_lines_do_not_parse(line):
    assert parse(line) is None


@pytest.mark.parametrize(
    "line",
    [
        "@room-id=1;user-id=2 :Bad!x@x PRIVMSG #chan :uppercase nick",
        "@room-id=1;user-id=abc :ok!ok@ok PRIVMSG #chan :bad user id",
        "@room-id=;user-id=2 :ok!ok@ok PRIVMSG #chan :no room id",
        "@room-id=1;user-id=2 :ok!ok@ok PRIVMSG #../etc :bad channel",
        "@room-id=1 :ok!ok@ok PRIVMSG #chan :no user id",
        "@login=a\\sb;room-id=1;user-id=2 :tmi.twitch.tv USERNOTICE #chan",
        ":tmi.twitch.tv NOTICE #chan :not a chat line",
    ],
)
def test_untrusted_fields_are_validated(line):
    assert chatter(parse(line)) is None


def test_ping_and_numeric():
    assert parse("PING :tmi.twitch.tv").params == ["tmi.twitch.tv"]
    welcome = parse(":tmi.twitch.tv 001 justinfan1 :Welcome, GLHF!")
    assert (welcome.command, welcome.params) == ("001", ["justinfan1", "Welcome, GLHF!"])
