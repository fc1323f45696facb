"""Command line: ``vieweratlas-collector`` / ``python -m vieweratlas_collector``.

Options are the fields of :class:`~vieweratlas_collector.settings.CollectorSettings`
(each also a ``COLLECTOR_<OPTION>`` variable, shown in ``--help``), so the
container is configured by its task definition.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from vieweratlas.settings import SettingsError
from vieweratlas_collector.app import Collector
from vieweratlas_collector.logs import setup
from vieweratlas_collector.settings import load


def main(argv: list[str] | None = None) -> int:
    try:
        settings, once_for = load(argv)
    except SettingsError as exc:
        print(f"vieweratlas-collector: {exc}", file=sys.stderr)
        return 2
    token = settings.irc_token
    setup(settings.log_level, secrets=(token, token.removeprefix("oauth:")) if token else ())
    code = asyncio.run(Collector(settings).run(once_for=once_for))
    if code:
        logging.shutdown()
        os._exit(code)  # an upload thread may still be blocked; the spool keeps the data
    return code


if __name__ == "__main__":
    sys.exit(main())
