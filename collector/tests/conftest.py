"""Collector test fixtures: the project harness (moto server, ``data_root``), a fake Twitch.

The project's fixtures live in ``tests/conftest.py``, which pytest only shows
to tests under ``tests/``. Rather than copy them, ``pytest_configure``
registers that module's ``moto_server`` and ``data_root`` as a small plugin
(loading the module only when pytest has not, i.e. when ``collector/tests``
runs alone). ``moto_server`` keeps one server per worker, however many
times it is registered.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROOT_CONFTEST = ROOT / "tests" / "conftest.py"
for entry in (ROOT / "include", ROOT / "collector"):
    if str(entry) not in sys.path:
        sys.path.insert(0, str(entry))

from twitch_server import FakeTwitch  # noqa: E402


def _root_conftest(config: pytest.Config):
    loaded = config.pluginmanager.get_plugin(str(ROOT_CONFTEST))
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location("vieweratlas_tests_conftest", ROOT_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def pytest_configure(config: pytest.Config) -> None:
    harness = _root_conftest(config)
    shared = types.ModuleType("vieweratlas_collector_harness")
    shared.moto_server = harness.moto_server
    shared.data_root = harness.data_root
    # A plugin that is not a conftest has global visibility; in tests/ the
    # conftest's own (identical) definitions are closer and win.
    if not config.pluginmanager.has_plugin(shared.__name__):
        config.pluginmanager.register(shared, shared.__name__)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "include"), str(ROOT / "collector"), os.environ.get("PYTHONPATH", "")]
    )


@pytest.fixture
def twitch() -> Iterator[FakeTwitch]:
    """A Twitch-like IRC server on loopback (20 JOINs per 0.5 s, ``gone`` suspended)."""
    server = FakeTwitch(join_limit=20, join_window=0.5, suspended={"gone"}).start()
    yield server
    server.stop()
