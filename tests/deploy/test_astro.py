"""The Astro CLI project files agree with the DAGs, the settings and the storage layout."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import build_mwaa_bundle as bundle
from vieweratlas import settings as settings_module
from vieweratlas.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_SERVICES = {"scheduler", "dag-processor", "api-server", "triggerer"}


def test_dockerfile_uses_astro_runtime_for_our_airflow_minor():
    text = (ROOT / "Dockerfile").read_text()
    image = re.search(r"^FROM (\S+)", text, re.M).group(1)
    repo, tag = image.rsplit(":", 1)
    assert repo == "astrocrpublic.azurecr.io/runtime"
    minor = ".".join(bundle.AIRFLOW_VERSION.split(".")[:2])
    # <runtime>-python-<python>: the distribution for MWAA's Python, not the default tag.
    match = re.fullmatch(r"(\d+\.\d+)-(\d+)-python-(\d+\.\d+)", tag)
    assert match, f"{tag}: pin <minor>-<patch>-python-{bundle.PYTHON_VERSION}"
    assert match.group(1) == minor
    assert match.group(3) == bundle.PYTHON_VERSION
    assert "ENV PYTHONPATH=/usr/local/airflow/include" in text


def test_connections_are_placeholders_and_pools_cover_the_dags():
    settings = yaml.safe_load((ROOT / "airflow_settings.yaml").read_text())["airflow"]
    conns = {c["conn_id"]: c for c in settings["connections"]}
    assert {"aws_default", "twitch_default"} <= set(conns)
    assert conns["twitch_default"]["conn_password"].startswith("YOUR_")
    assert not conns["aws_default"]["conn_password"]
    used = set()
    for path in (ROOT / "dags").glob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r"""pool\s*=\s*["']([\w.-]+)["']""", text))
        used |= set(re.findall(r"""^POOL\s*=\s*["']([\w.-]+)["']""", text, re.M))
    pools = {p["pool_name"] for p in settings["pools"]}
    assert used <= pools, f"pools the DAGs use but airflow_settings.yaml lacks: {used - pools}"


def test_env_example_holds_only_valid_settings():
    env = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key] = value
    assert env and all(k.startswith("VIEWERATLAS_") for k in env)
    bundle.check_env(env)
    load_settings(environ=env)


def test_compose_override_mounts_data_where_the_default_root_points():
    compose = yaml.safe_load((ROOT / "docker-compose.override.yml").read_text())
    services = compose["services"]
    assert set(services) >= AIRFLOW_SERVICES
    for name in AIRFLOW_SERVICES:
        mounts = [v.rsplit(":", 1)[0] if v.endswith(":z") else v for v in services[name]["volumes"]]
        assert "./data:/usr/local/airflow/data" in mounts, name
    # The default root is <project>/data, and the project is /usr/local/airflow in Astro.
    assert settings_module.PROJECT_ROOT == ROOT
    assert (ROOT / "data").as_uri() == settings_module.DEFAULT_DATA_ROOT


def test_local_downloader_cli_is_the_release_the_ecs_image_bundles():
    astro = (ROOT / "Dockerfile").read_text()
    ecs = (ROOT / "docker" / "vod-downloader.Dockerfile").read_text()
    local_version = re.search(r"^ARG TWITCH_DOWNLOADER_VERSION=(\S+)", astro, re.M).group(1)
    assert local_version == re.search(r"^ARG TD_VERSION=(\S+)", ecs, re.M).group(1)
    assert "hashlib.sha256" in astro, "the CLI is installed only after a checksum check"
