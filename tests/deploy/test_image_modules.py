"""Each container image holds exactly the library modules its program imports.

The Dockerfiles list the ``include/vieweratlas`` modules they copy by hand (the
images must stay Airflow-free). These tests derive the set from the imports
(every ``import``, also the deferred ones inside functions) and import each
module from a folder holding only what the Dockerfile copies.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import build_mwaa_bundle as bundle

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "include" / "vieweratlas"
COLLECTOR = ROOT / "collector" / "vieweratlas_collector"

# image: (entry files whose imports define the module set, modules the image runs)
IMAGES = {
    "collector.Dockerfile": (
        sorted(COLLECTOR.glob("*.py")),
        ["vieweratlas_collector.main", "vieweratlas_collector.health"],
    ),
    "vod-downloader.Dockerfile": ([LIBRARY / "vod_downloader.py"], ["vieweratlas.vod_downloader"]),
}


def copied_modules(dockerfile: Path) -> set[str]:
    """The library modules a Dockerfile COPYs (``include/vieweratlas/<name>.py``)."""
    text = dockerfile.read_text()
    copies = [line for line in text.replace("\\\n", " ").splitlines() if line.startswith("COPY")]
    return {m for line in copies for m in re.findall(r"include/vieweratlas/(\w+)\.py", line)}


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_dockerfile_copies_exactly_the_imported_modules(image):
    entries, _ = IMAGES[image]
    wanted = bundle.library_closure(entries) | {"__init__"}
    wanted |= {p.stem for p in entries if p.parent == LIBRARY}
    assert copied_modules(ROOT / "docker" / image) == wanted


@pytest.mark.parametrize("image", sorted(IMAGES))
def test_the_copied_modules_import_on_their_own(image, tmp_path):
    """Only the copied modules on the path: every one imports, Airflow never loads."""
    modules = copied_modules(ROOT / "docker" / image)
    (tmp_path / "vieweratlas").mkdir()
    for name in modules:
        shutil.copy(LIBRARY / f"{name}.py", tmp_path / "vieweratlas")
    if "collector" in image:
        shutil.copytree(COLLECTOR, tmp_path / COLLECTOR.name)
    _, run = IMAGES[image]
    imports = run + [f"vieweratlas.{m}" for m in sorted(modules - {"__init__"})]
    code = (
        "import importlib, sys\n"
        f"for name in {imports!r}: importlib.import_module(name)\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'airflow'], 'Airflow imported'\n"
        f"assert all(m.__file__.startswith({str(tmp_path)!r}) for n, m in sys.modules.items()"
        " if n.startswith('vieweratlas'))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIEWERATLAS_"))}
    env["PYTHONPATH"] = str(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_bundle_library_is_what_dags_and_plugins_import(tmp_path):
    entries = sorted((ROOT / "dags").glob("*.py")) + sorted((ROOT / "plugins").rglob("*.py"))
    bundle.copy_library(tmp_path / "vieweratlas", entries)
    shipped = {p.stem for p in (tmp_path / "vieweratlas").glob("*.py")}
    assert shipped == bundle.library_closure(entries) | {"__init__"}
    assert {"pipeline", "publish", "vod_downloader"} <= shipped
    assert "synthetic" not in shipped  # test/demo data generator: not for MWAA
    assert (tmp_path / "vieweratlas" / "data" / "known_bots.txt").exists()
    assert (tmp_path / "vieweratlas" / "map_html.js").exists()
