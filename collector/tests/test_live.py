"""The real asyncio core against the Twitch-like server: chatters, hours, reconnects, limits."""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address

import pytest
from collector_helpers import HOUR, T0, FakeClock, counts, make_config, parts, until
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from twitch_server import FakeTwitch, privmsg, shared_relay, usernotice

from vieweratlas import lake as keys
from vieweratlas_collector.app import Collector
from vieweratlas_collector.connection import Connection
from vieweratlas_collector.ratelimit import JoinLimiter
from vieweratlas_collector.settings import CollectorSettings


def test_unique_chatters_per_channel_and_hour(tmp_path, twitch, data_root):
    channels = ["a_chan", "b_chan", "c_chan", "gone"]
    clock = FakeClock(T0 + 600)
    collector = Collector(make_config(tmp_path, twitch, data_root, channels), clock=clock)

    async def scenario():
        task = asyncio.create_task(collector.run(install_signals=False))
        await until(lambda: {"a_chan", "b_chan", "c_chan"} <= twitch.joined())
        await until(lambda: "gone" in collector.pool.parked)
        twitch.broadcast(
            [
                privmsg("a_chan", "alice", 1),
                privmsg("a_chan", "alice", 1, "again"),
                privmsg("a_chan", "bob", 2, **{"display-name": "B\\sob;"}),
                privmsg("b_chan", "alice", 1),
                shared_relay("c_chan", "a_chan", "dave", 4),  # relayed from a_chan: not counted
                usernotice("c_chan", "erin", 5),
                ("a_chan", "@broken-line-without-command"),
                ("a_chan", ":x!x@x PRIVMSG"),
                ("a_chan", "@room-id=1;user-id=zz :eve!eve@eve PRIVMSG #a_chan :bad id"),
                privmsg("a_chan", "alice", 1, "third"),
            ]
        )
        await until(lambda: collector.messages_total == 6)
        lake = collector.lake
        await until(lambda: lake.exists(keys.heartbeat(collector.id)))
        await until(lambda: lake.read_json(keys.heartbeat(collector.id))["messages_this_hour"] == 6)
        beat = lake.read_json(keys.heartbeat(collector.id))
        collector.stop.set()
        return await task, beat

    code, beat = asyncio.run(scenario())
    assert code == 0
    assert counts(collector.lake, HOUR, "shard-0-of-1") == {
        ("a_chan", "alice"): 3,
        ("a_chan", "bob"): 1,
        ("b_chan", "alice"): 1,
        ("c_chan", "erin"): 1,
    }
    assert beat["collector_id"] == "shard-0-of-1" and beat["shard"] == "0/1"
    assert beat["channels_parked"] == 1 and beat["channels_unjoinable"] == 0
    assert beat["channels_joined"] == 3 and beat["connections_up"] == 1
    assert beat["malformed_total"] == 1  # the tag-only line
    assert beat["dropped_total"] == 3  # the shared-chat relay, no params, bad user id
    assert datetime.fromisoformat(beat["written_at"]).tzinfo is not None
    assert all(nick.startswith("justinfan") for nick in twitch.nicks) and not twitch.passwords
    assert list((tmp_path / "spool").glob("*.parquet")) == []


def test_hour_rollover_splits_chatters_by_hour(tmp_path, twitch, data_root):
    clock = FakeClock(T0 + 3599)
    collector = Collector(make_config(tmp_path, twitch, data_root, ["a_chan"]), clock=clock)

    async def scenario():
        task = asyncio.create_task(collector.run(install_signals=False))
        await until(lambda: "a_chan" in twitch.joined())
        twitch.broadcast([privmsg("a_chan", "alice", 1), privmsg("a_chan", "bob", 2)])
        await until(lambda: collector.messages_total == 2)
        clock.advance(2)  # 05:00:01 (the lines' tmi-sent-ts is days off: the clock decides)
        twitch.broadcast([privmsg("a_chan", "alice", 1), privmsg("a_chan", "carol", 3)])
        await until(lambda: collector.messages_total == 4)
        assert collector.hour == int(T0 // 3600) + 1 and collector.messages_this_hour == 2
        await until(lambda: parts(collector.lake, HOUR, collector.id))  # uploaded while running
        collector.stop.set()
        return await task

    assert asyncio.run(scenario()) == 0
    assert counts(collector.lake, HOUR, collector.id) == {
        ("a_chan", "alice"): 1,
        ("a_chan", "bob"): 1,
    }
    assert counts(collector.lake, HOUR.replace(hour=5), collector.id) == {
        ("a_chan", "alice"): 1,
        ("a_chan", "carol"): 1,
    }


@pytest.mark.parametrize("event", ["reconnect", "drop"])
def test_rejoins_every_channel_after_reconnect_or_dropped_socket(tmp_path, twitch, event):
    channels = [f"chan_{i:02d}" for i in range(24)]
    lake_url = (tmp_path / "lake").as_uri()
    config = make_config(tmp_path, twitch, lake_url, channels, per_connection=10)
    collector = Collector(config, clock=FakeClock(T0 + 60))

    async def scenario():
        task = asyncio.create_task(collector.run(install_signals=False))
        await until(lambda: set(channels) <= twitch.joined() and len(twitch.clients) == 3)
        twitch.broadcast([privmsg(c, "alice", 1) for c in channels])
        await until(lambda: collector.messages_total == 24)
        twitch.reconnect_all() if event == "reconnect" else twitch.drop_all()
        await until(lambda: twitch.connections_total >= 6)
        await until(lambda: set(channels) <= twitch.joined() and len(twitch.clients) == 3)
        twitch.broadcast([privmsg(c, "bob", 2) for c in channels])
        await until(lambda: collector.messages_total == 48)
        collector.stop.set()
        return await task

    assert asyncio.run(scenario()) == 0
    result = counts(collector.lake, HOUR, collector.id)
    assert result == {(c, u): 1 for c in channels for u in ("alice", "bob")}
    assert twitch.violations == 0


def test_refresh_joins_and_parts_the_difference(tmp_path, twitch):
    config = make_config(tmp_path, twitch, (tmp_path / "lake").as_uri(), ["a_chan", "b_chan"])
    collector = Collector(config, clock=FakeClock(T0 + 60))

    async def scenario():
        task = asyncio.create_task(collector.run(install_signals=False))
        await until(lambda: {"a_chan", "b_chan"} <= twitch.joined())
        config.channels_file.write_text("b_chan\nc_chan\n")
        await until(lambda: twitch.joined() == {"b_chan", "c_chan"})
        config.channels_file.write_bytes(b"\xff\xfe not utf-8")  # unreadable: keep the last list
        await until(lambda: collector.source.last_error is not None)
        await asyncio.sleep(0.3)
        joined = twitch.joined()
        collector.stop.set()
        await task
        return joined

    assert asyncio.run(scenario()) == {"b_chan", "c_chan"}
    assert twitch.parts == ["a_chan"]


def test_500_joins_never_trip_the_server_rate_limit(tmp_path):
    twitch = FakeTwitch(join_limit=50, join_window=0.5).start()
    try:
        channels = [f"chan_{i:03d}" for i in range(500)]
        config = make_config(tmp_path, twitch, (tmp_path / "lake").as_uri(), channels)
        collector = Collector(config, clock=FakeClock(T0 + 60))

        async def scenario():
            task = asyncio.create_task(collector.run(install_signals=False))
            started = time.monotonic()
            await until(lambda: set(channels) <= twitch.joined(), timeout=30)
            elapsed = time.monotonic() - started
            collector.stop.set()
            await task
            return elapsed

        elapsed = asyncio.run(scenario())
        assert twitch.violations == 0
        assert twitch.joins == 500 and twitch.connections_total == 10  # no client was dropped
        assert elapsed >= (500 / 50 - 1) * 0.5  # the limiter really paced the JOINs

        # The server does enforce the limit: a client that ignores it is cut off.
        time.sleep(0.6)
        with socket.create_connection(("127.0.0.1", twitch.port)) as raw:
            raw.sendall(b"NICK justinfan1\r\n" + b"".join(b"JOIN #x%d\r\n" % i for i in range(60)))
            raw.settimeout(5)
            while raw.recv(65536):
                pass
        assert twitch.violations == 1 and twitch.joins == 550
    finally:
        twitch.stop()


def self_signed(tmp_path) -> tuple[ssl.SSLContext, str]:
    """A server TLS context for 127.0.0.1 and the path of its certificate (the CA)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tmi.test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, str(cert_file)


def test_tls_connection_verifies_the_server(tmp_path):
    context, ca_file = self_signed(tmp_path)
    twitch = FakeTwitch(join_window=0.5, tls=context).start()
    try:
        irc = CollectorSettings(irc_host="127.0.0.1", irc_port=twitch.port, backoff_base=0.05)
        untrusting = Connection(0, irc, JoinLimiter(), lambda chat: None, lambda *_: None)
        seen = []
        trusting = Connection(
            1, replace(irc, irc_ca_file=ca_file), JoinLimiter(), seen.append, lambda *_: None
        )

        async def scenario():
            for conn in (untrusting, trusting):
                conn.add("a_chan")
            tasks = [asyncio.create_task(c.run()) for c in (untrusting, trusting)]
            await until(lambda: "a_chan" in twitch.joined())
            twitch.broadcast([privmsg("a_chan", "alice", 1)])
            await until(lambda: len(seen) == 1)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run(scenario())
        assert seen[0].user_login == "alice" and trusting.counters.sessions == 1
        assert untrusting.counters.sessions == 0  # certificate not trusted: never connected
        assert twitch.connections_total >= 1 and len(twitch.nicks) == 1
    finally:
        twitch.stop()
