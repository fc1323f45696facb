"""The MWAA bundle: layout, requirements, startup script, and DAGs importable as MWAA loads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from production_env import PRODUCTION_ENV

import build_mwaa_bundle as bundle

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p.name for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))

# Parse the bundle's DAGs folder the way the DAG processor does: the folder is the
# dags-folder bundle and goes on sys.path (as on MWAA); no include/, no PYTHONPATH.
PARSE = """
import json, pathlib, sys
from airflow.dag_processing.dagbag import BundleDagBag
from airflow.utils.file import list_py_file_paths
dags = sys.argv[1]
bag = BundleDagBag(dag_folder=dags, bundle_path=pathlib.Path(dags))
import vieweratlas
print(json.dumps({
    "errors": {k: str(v)[:500] for k, v in bag.import_errors.items()},
    "dag_ids": sorted(bag.dag_ids),
    "listed": sorted(list_py_file_paths(dags, safe_mode=False)),
    "library": vieweratlas.__file__,
    "sys_path": sys.path,
}))
"""


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bundle") / "dist"
    env = {
        **PRODUCTION_ENV,
        "VIEWERATLAS_LOG_BASE_URL": "https://x.airflow.amazonaws.com/ it's quoted",
    }
    bundle.build(out, env)
    return out


def test_layout(dist: Path):
    assert sorted(p.name for p in (dist / "dags").glob("*.py")) == DAG_FILES
    library = {p.name for p in (dist / "dags" / "vieweratlas").glob("*.py")}
    entries = sorted((ROOT / "dags").glob("*.py")) + sorted((ROOT / "plugins").rglob("*.py"))
    imported = bundle.library_closure(entries) | {"__init__"}
    assert library == {f"{name}.py" for name in imported}  # synthetic.py is not among them
    assert not list(dist.rglob("__pycache__")), "caches must not ship"
    assert not (dist / "dags" / "include").exists()
    assert (dist / "startup.sh").stat().st_mode & 0o111
    has_plugin_code = any((ROOT / "plugins").rglob("*.py"))
    assert (dist / "plugins.zip").exists() == has_plugin_code
    manifest = json.loads((dist / "manifest.json").read_text())
    shipped = {p.relative_to(dist).as_posix() for p in dist.rglob("*") if p.is_file()}
    assert set(manifest) == shipped - {"manifest.json"}


def test_airflowignore_keeps_the_library_out_of_parsing(dist: Path):
    lines = (dist / "dags" / ".airflowignore").read_text().splitlines()
    assert "vieweratlas/" in lines


def test_requirements_start_with_the_constraints_line(dist: Path):
    lines = (dist / "requirements.txt").read_text().splitlines()
    assert lines[0] == (
        '--constraint "https://raw.githubusercontent.com/apache/airflow/'
        'constraints-3.3.1/constraints-3.12.txt"'
    )
    root_pins = [
        x.strip()
        for x in (ROOT / "requirements.txt").read_text().splitlines()
        if x.strip() and not x.startswith("#")
    ]
    assert lines[1:] == root_pins
    assert not any(x.startswith(("apache-airflow==", "apache-airflow-core==")) for x in lines)


def test_startup_script_exports_settings_quoted(dist: Path):
    text = (dist / "startup.sh").read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert 'export PYTHONPATH="/usr/local/airflow/dags${PYTHONPATH:+:$PYTHONPATH}"' in text
    assert "export VIEWERATLAS_DOWNLOAD_MODE=ecs" in text
    out = subprocess.run(
        ["bash", "-c", f'source {dist / "startup.sh"}; echo "$VIEWERATLAS_LOG_BASE_URL"'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    ).stdout
    assert out.strip() == "https://x.airflow.amazonaws.com/ it's quoted"


@pytest.mark.parametrize(
    "env, message",
    [
        ({"AWS_SECRET_ACCESS_KEY": "x"}, "not VIEWERATLAS_"),
        ({"VIEWERATLAS_TWITCH_SECRET": "x"}, "not VIEWERATLAS_"),
        ({"VIEWERATLAS_DATA_ROOT": "s3://Bad_Bucket/x"}, "invalid S3 bucket"),
        ({"VIEWERATLAS_DOWNLOAD_MODE": "ecs"}, "required"),
        ({**PRODUCTION_ENV, "VIEWERATLAS_DATA_ROOT": "file:///data"}, "must be s3://"),
        ({**PRODUCTION_ENV, "VIEWERATLAS_DOWNLOAD_MODE": "local"}, "must be ecs"),
        ({**PRODUCTION_ENV, "VIEWERATLAS_SNS_TOPIC_ARN": ""}, "SNS_TOPIC_ARN is not set"),
        ({}, "VIEWERATLAS_DATA_ROOT is not set"),  # `make bundle` without an env file
    ],
)
def test_bad_settings_are_refused(tmp_path: Path, env: dict, message: str):
    with pytest.raises(ValueError, match=message):
        bundle.build(tmp_path / "dist", env)


@pytest.mark.parametrize("missing", bundle.REQUIRED_ON_MWAA)
def test_a_bundle_never_runs_on_local_defaults(tmp_path: Path, missing: str):
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    with pytest.raises(ValueError, match=missing):
        bundle.build(tmp_path / "dist", env)
    assert not (tmp_path / "dist").exists()


def test_env_file(tmp_path: Path):
    path = tmp_path / "deploy.env"
    path.write_text("# comment\n\nVIEWERATLAS_TOP_CHANNELS = 300\n")
    assert bundle.read_env_file(path) == {"VIEWERATLAS_TOP_CHANNELS": "300"}
    path.write_text("not a pair\n")
    with pytest.raises(ValueError, match="KEY=value"):
        bundle.read_env_file(path)


def test_refuses_to_replace_the_repository():
    with pytest.raises(ValueError, match="refusing to replace"):
        bundle.build(ROOT, PRODUCTION_ENV)


def test_plugins_zip_is_flat_and_reproducible(tmp_path: Path):
    src = tmp_path / "plugins"
    (src / "pkg").mkdir(parents=True)
    (src / "my_plugin.py").write_text("X = 1\n")
    (src / "pkg" / "__init__.py").write_text("")
    (src / ".gitkeep").write_text("")
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert bundle.zip_plugins(src, first) and bundle.zip_plugins(src, second)
    assert first.read_bytes() == second.read_bytes()
    assert sorted(zipfile.ZipFile(first).namelist()) == ["my_plugin.py", "pkg/__init__.py"]
    (tmp_path / "empty").mkdir()
    assert not bundle.zip_plugins(tmp_path / "empty", tmp_path / "c.zip")


@pytest.mark.xdist_group("deploy")
def test_dags_import_from_the_bundle_layout_alone(dist: Path, tmp_path: Path):
    dags = dist / "dags"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    env["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(tmp_path / "plugins")
    result, _ = run_json(sys.executable, [PARSE, str(dags)], env, tmp_path)
    assert result["errors"] == {}
    assert sorted(f"{d}.py" for d in result["dag_ids"]) == DAG_FILES
    assert all("/vieweratlas/" not in p for p in result["listed"]), result["listed"]
    assert result["library"].startswith(str(dags / "vieweratlas"))
    assert str(ROOT / "include") not in result["sys_path"]


# Load plugins the way every Airflow component does, from the unpacked plugins.zip, with
# only the DAGs folder on PYTHONPATH (what startup.sh exports on MWAA).
LOAD_PLUGINS = """
import json, logging, sys
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
from airflow import plugins_manager as pm
if hasattr(pm, "_get_plugins"):
    plugins, errors = pm._get_plugins()
else:  # Airflow 3.0
    pm.ensure_plugins_loaded()
    plugins, errors = pm.plugins, pm.import_errors
print(json.dumps({
    "errors": {k: str(v)[:500] for k, v in errors.items()},
    "plugins": {p.name: {"apps": [a["url_prefix"] for a in p.fastapi_apps],
                         "views": [v["destination"] for v in getattr(p, "external_views", [])],
                         "links": [link.name for link in p.global_operator_extra_links]}
                for p in plugins},
}))
"""
COMPAT_PYTHON = ROOT / ".venv-compat" / "bin" / "python"


def load_bundle_plugins(python: Path, dist: Path, tmp_path: Path) -> tuple[dict, str]:
    plugins = tmp_path / "plugins"
    zipfile.ZipFile(dist / "plugins.zip").extractall(plugins)  # as MWAA unpacks it
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIEWERATLAS_")}
    env.update(
        PYTHONPATH=str(dist / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(plugins),
        AIRFLOW__CORE__DAGS_FOLDER=str(dist / "dags"),
    )
    return run_json(str(python), [LOAD_PLUGINS], env, tmp_path)


def run_json(python: str, code_and_args: list[str], env: dict, cwd: Path) -> tuple[dict, str]:
    """Run ``python -c code args`` in a clean process; its last stdout line as JSON, and
    everything it printed."""
    proc = subprocess.run(
        [python, "-c", *code_and_args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr + proc.stdout


def test_plugins_zip_holds_the_map_plugin(dist: Path):
    names = sorted(zipfile.ZipFile(dist / "plugins.zip").namelist())
    assert names == sorted(p.name for p in (ROOT / "plugins").glob("*.py"))
    assert "vieweratlas_maps.py" in names
    assert not any(n.startswith("vieweratlas/") for n in names), "the library ships in dags/"


@pytest.mark.xdist_group("deploy")
def test_map_plugin_loads_from_the_bundle(dist: Path, tmp_path: Path):
    result, _ = load_bundle_plugins(Path(sys.executable), dist, tmp_path)
    assert result["errors"] == {}
    assert result["plugins"]["vieweratlas_maps"] == {
        "apps": ["/vieweratlas"],
        "views": ["nav", "dag", "dag_run"],
        "links": ["Twitch map"],
    }


@pytest.mark.xdist_group("deploy")
@pytest.mark.skipif(not COMPAT_PYTHON.exists(), reason="no .venv-compat (make compat builds it)")
def test_map_plugin_is_skipped_with_a_reason_on_airflow_3_0(dist: Path, tmp_path: Path):
    result, stderr = load_bundle_plugins(COMPAT_PYTHON, dist, tmp_path)
    assert result["errors"] == {}
    assert result["plugins"]["vieweratlas_maps"] == {"apps": [], "views": [], "links": []}
    assert "ViewerAtlas map plugin not loaded: requires_access_dag" in stderr
