"""Command line: ``vieweratlas-collector`` / ``python -m vieweratlas_collector``.

Every option has an environment variable (``COLLECTOR_<OPTION>``, shown in
``--help``) so the container is configured by its task definition. The data
root is ``VIEWERATLAS_DATA_ROOT`` as everywhere in the project. A login token
is read only from ``TWITCH_IRC_TOKEN`` (never a flag: flags show in ``ps``).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from pathlib import Path

from vieweratlas.settings import load_settings
from vieweratlas_collector.app import Collector, CollectorConfig
from vieweratlas_collector.channels import Shard
from vieweratlas_collector.connection import IrcConfig
from vieweratlas_collector.logs import setup

OPTIONS: list[tuple[str, type, object, str]] = [
    ("shard", str, "0/1", "this replica's share of the channels, i/n"),
    ("name", str, "", "optional prefix of the collector id (letters, digits, _ -)"),
    ("spool-dir", Path, "spool", "local directory for snapshots awaiting upload"),
    ("channels-file", Path, None, "static channel file instead of the lake's channel list"),
    ("refresh-seconds", float, 300.0, "how often the channel list is re-read"),
    ("heartbeat-seconds", float, 60.0, "how often the heartbeat is written"),
    ("per-connection", int, 50, "channels per IRC connection at most"),
    ("join-limit", int, 20, "JOINs allowed per window, across all connections"),
    ("join-window", float, 10.0, "JOIN rate-limit window in seconds"),
    ("park-seconds", float, 3600.0, "how long a suspended/banned channel is left alone"),
    ("irc-host", str, "irc.chat.twitch.tv", "IRC server host"),
    ("irc-port", int, 6697, "IRC server port"),
    ("irc-tls", str, "true", "use TLS (true/false)"),
    ("irc-ca-file", str, "", "extra CA bundle to trust for TLS"),
    ("irc-nick", str, "", "login name when TWITCH_IRC_TOKEN is set"),
    ("backoff-base", float, 1.0, "first reconnect/upload retry delay (s), doubled per failure"),
    ("backoff-max", float, 60.0, "longest reconnect/upload retry delay (s)"),
    ("shutdown-timeout", float, 10.0, "seconds allowed to upload the partial hour on SIGTERM"),
    ("tick-seconds", float, 1.0, "housekeeping interval (hour rollover, heartbeat checks)"),
    ("log-level", str, "INFO", "logging level"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="vieweratlas-collector", description=__doc__.split("\n")[0]
    )
    for name, kind, default, text in OPTIONS:
        env = "COLLECTOR_" + name.upper().replace("-", "_")
        raw = os.environ.get(env)
        value = kind(raw) if raw not in (None, "") else default
        parser.add_argument(f"--{name}", type=kind, default=value, help=f"{text} [{env}]")
    parser.add_argument(
        "--once-for",
        type=float,
        default=None,
        metavar="SECONDS",
        help="collect this long, flush, upload and exit (smoke tests)",
    )
    return parser.parse_args(argv)


def build_config(args: argparse.Namespace) -> CollectorConfig:
    token = os.environ.get("TWITCH_IRC_TOKEN", "").strip()
    if token and not args.irc_nick:
        raise SystemExit("TWITCH_IRC_TOKEN needs --irc-nick (COLLECTOR_IRC_NICK)")
    irc = IrcConfig(
        host=args.irc_host,
        port=args.irc_port,
        tls=args.irc_tls.lower() in ("1", "true", "yes"),
        ca_file=args.irc_ca_file,
        nick=args.irc_nick,
        token=token,
        backoff_base=args.backoff_base,
        backoff_max=args.backoff_max,
    )
    return CollectorConfig(
        data_root=load_settings().data_root,
        spool_dir=args.spool_dir,
        shard=Shard.parse(args.shard),
        name=args.name,
        channels_file=args.channels_file,
        refresh_seconds=args.refresh_seconds,
        heartbeat_seconds=args.heartbeat_seconds,
        tick_seconds=args.tick_seconds,
        per_connection=args.per_connection,
        join_limit=args.join_limit,
        join_window=args.join_window,
        park_seconds=args.park_seconds,
        upload_backoff_base=args.backoff_base,
        upload_backoff_max=args.backoff_max,
        shutdown_timeout=args.shutdown_timeout,
        irc=irc,
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    token = os.environ.get("TWITCH_IRC_TOKEN", "").strip()
    setup(args.log_level, secrets=(token, token.removeprefix("oauth:")) if token else ())
    config = build_config(args)
    code = asyncio.run(Collector(config).run(once_for=args.once_for))
    if code:
        logging.shutdown()
        os._exit(code)  # an upload thread may still be blocked; the spool keeps the data
    return code


if __name__ == "__main__":
    sys.exit(main())
