"""The collector's settings: one typed class, read from flags and ``COLLECTOR_*`` variables.

Every field of :class:`CollectorSettings` is a command-line option
(``--join-limit``) and an environment variable (``COLLECTOR_JOIN_LIMIT``); a
flag wins over the variable, the variable over the default written here (the
only place defaults live). A bad value fails at start with a
:class:`~vieweratlas.settings.SettingsError` naming the variable. Two values
come from elsewhere: the data root is the project's ``VIEWERATLAS_DATA_ROOT``
(validated by :mod:`vieweratlas.settings`), and a login token only from
``TWITCH_IRC_TOKEN`` (flags show in ``ps``).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from vieweratlas import lake as keys
from vieweratlas.settings import SettingsError, load_settings
from vieweratlas_collector.channels import Shard

ENV_PREFIX = "COLLECTOR_"


def _m(text: str, parse: Callable[[str], object]) -> dict:
    """Field metadata: the ``--help`` text and the parser of a raw string."""
    return {"help": text, "parse": parse}


def _positive(kind: type) -> Callable[[str], object]:
    def parse(raw: str):
        value = kind(raw)
        if value <= 0:
            raise ValueError("must be positive")
        return value

    return parse


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered not in ("1", "0", "true", "false", "yes", "no"):
        raise ValueError("must be true or false")
    return lowered in ("1", "true", "yes")


def _name(raw: str) -> str:
    return keys.safe_token(raw) if raw else ""


def _clock_spec(raw: str) -> tuple[float, float]:
    """``START/HOUR_SECONDS`` as (start as Unix seconds, real seconds per hour)."""
    start, sep, hour = raw.partition("/")
    if not sep or float(hour) <= 0:
        raise ValueError("must look like 2026-11-22T04:59:50Z/10")
    return keys.parse_utc(start).timestamp(), float(hour)


def _test_clock(raw: str) -> str:
    if raw:
        _clock_spec(raw)
    return raw


_POS_F, _POS_I = _positive(float), _positive(int)


@dataclass(frozen=True)
class CollectorSettings:
    """Everything an operator (or a test) can set; defaults are production's."""

    data_root: str = field(default="", metadata={"cli": False})
    shard: Shard = field(
        default=Shard(), metadata=_m("this replica's share of the channels, i/n", Shard.parse)
    )
    name: str = field(
        default="", metadata=_m("optional prefix of the collector id (letters, digits, _ -)", _name)
    )
    spool_dir: Path = field(
        default=Path("spool"), metadata=_m("local directory for parts awaiting upload", Path)
    )
    channels_file: Path | None = field(
        default=None, metadata=_m("static channel file instead of the lake's list", Path)
    )
    refresh_seconds: float = field(
        default=300.0, metadata=_m("how often the channel list is re-read", _POS_F)
    )
    heartbeat_seconds: float = field(
        default=60.0, metadata=_m("how often the heartbeat and metrics go out", _POS_F)
    )
    checkpoint_seconds: float = field(
        default=45.0,
        metadata=_m(
            "how often what was seen is written to the lake (bounds loss on a kill)", _POS_F
        ),
    )
    tick_seconds: float = field(default=1.0, metadata=_m("housekeeping interval", _POS_F))
    per_connection: int = field(
        default=50, metadata=_m("channels per IRC connection at most", _POS_I)
    )
    join_limit: int = field(
        default=20, metadata=_m("JOINs allowed per window, across all connections", _POS_I)
    )
    join_window: float = field(
        default=10.0, metadata=_m("JOIN rate-limit window in seconds", _POS_F)
    )
    join_timeout: float = field(
        default=15.0, metadata=_m("seconds without an answer before a JOIN is retried", _POS_F)
    )
    unjoinable_after: int = field(
        default=3, metadata=_m("unanswered JOINs before a channel is unjoinable", _POS_I)
    )
    park_seconds: float = field(
        default=3600.0, metadata=_m("how long a suspended/banned channel is left alone", _POS_F)
    )
    irc_host: str = field(default="irc.chat.twitch.tv", metadata=_m("IRC server host", str))
    irc_port: int = field(default=6697, metadata=_m("IRC server port", _POS_I))
    irc_tls: bool = field(default=True, metadata=_m("use TLS (true/false)", _bool))
    irc_ca_file: str = field(default="", metadata=_m("extra CA bundle to trust for TLS", str))
    irc_nick: str = field(default="", metadata=_m("login name when TWITCH_IRC_TOKEN is set", str))
    irc_token: str = field(default="", repr=False, metadata={"cli": False})
    connect_timeout: float = field(
        default=15.0, metadata=_m("seconds allowed to open a connection", _POS_F)
    )
    silence_limit: float = field(
        default=60.0,
        metadata=_m("a connection silent this long is dead (a PING goes out at half)", _POS_F),
    )
    pong_timeout: float = field(
        default=15.0, metadata=_m("seconds a PING may wait for any answer", _POS_F)
    )
    handover_timeout: float = field(
        default=30.0,
        metadata=_m(
            "on RECONNECT, longest overlap of the old and the replacement connection", _POS_F
        ),
    )
    backoff_base: float = field(
        default=1.0, metadata=_m("first retry delay (s), doubled per failure", _POS_F)
    )
    backoff_max: float = field(default=60.0, metadata=_m("longest retry delay (s)", _POS_F))
    shutdown_timeout: float = field(
        default=10.0, metadata=_m("seconds allowed to upload on SIGTERM", _POS_F)
    )
    sent_ts_tolerance: float = field(
        default=900.0,
        metadata=_m("a tmi-sent-ts further than this from the clock is ignored (s)", _POS_F),
    )
    test_clock: str = field(
        default="",
        metadata=_m(
            "tests only: START/HOUR_SECONDS, a clock starting at START whose hour "
            "lasts HOUR_SECONDS real seconds",
            _test_clock,
        ),
    )
    metrics_namespace: str = field(
        default="ViewerAtlas/Collector", metadata=_m("CloudWatch namespace (EMF)", str)
    )
    log_level: str = field(default="INFO", metadata=_m("logging level", str.upper))

    @property
    def collector_id(self) -> str:
        """``shard-0-of-2`` or ``<name>-shard-0-of-2``; safe for a key."""
        prefix = f"{self.name}-" if self.name else ""
        return keys.safe_token(prefix + self.shard.name)

    def clock(self) -> Callable[[], float]:
        """The Unix clock: real time, or the ``test_clock`` (a documented test option)."""
        if not self.test_clock:
            return time.time
        start, hour = _clock_spec(self.test_clock)
        speed, origin = 3600.0 / hour, time.monotonic()
        return lambda: start + (time.monotonic() - origin) * speed


def env_name(name: str) -> str:
    return ENV_PREFIX + name.upper()


def _options() -> list:
    return [f for f in fields(CollectorSettings) if f.metadata.get("cli", True)]


def parser() -> argparse.ArgumentParser:
    """The command line; defaults shown come from :class:`CollectorSettings`."""
    cli = argparse.ArgumentParser(prog="vieweratlas-collector")
    for f in _options():
        cli.add_argument(
            "--" + f.name.replace("_", "-"),
            default=None,
            metavar=f.name.upper(),
            help=f"{f.metadata['help']} [{env_name(f.name)}, default {f.default}]",
        )
    cli.add_argument(
        "--once-for",
        type=float,
        default=None,
        metavar="SECONDS",
        help="collect this long, flush, upload and exit (smoke tests)",
    )
    return cli


def load(
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> tuple[CollectorSettings, float | None]:
    """Settings from flags, then ``COLLECTOR_*`` variables, then defaults; and ``--once-for``."""
    environ = os.environ if environ is None else environ
    args = parser().parse_args(argv)
    values: dict[str, Any] = {}  # each one parsed by its field's parser
    for f in _options():
        flag, env = "--" + f.name.replace("_", "-"), env_name(f.name)
        raw, where = getattr(args, f.name), flag
        if raw is None:
            raw, where = environ.get(env), env
        if raw is None or raw == "":
            continue
        try:
            values[f.name] = f.metadata["parse"](raw)
        except (ValueError, keys.UnsafeKeyError) as exc:
            raise SettingsError(f"{where} ({env}): {raw!r} is not valid: {exc}") from None
    token = environ.get("TWITCH_IRC_TOKEN", "").strip()
    if token and not values.get("irc_nick"):
        raise SettingsError(f"TWITCH_IRC_TOKEN needs {env_name('irc_nick')} (--irc-nick)")
    data_root = load_settings(environ).data_root
    return CollectorSettings(data_root=data_root, irc_token=token, **values), args.once_for
