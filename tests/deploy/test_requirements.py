"""requirements.txt installs on MWAA / Astro for Airflow 3.3.1 on Python 3.12 (linux x86_64).

The constraint files are the project's own copies (requirements/), so these checks do
not depend on anything outside the repository; the resolution needs only PyPI.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import build_mwaa_bundle as bundle

ROOT = Path(__file__).resolve().parents[2]
REQ = ROOT / "requirements"
CONSTRAINTS = REQ / "mwaa-constraints-3.3.1-py3.12.txt"
ESSENTIAL = REQ / "mwaa-essential-constraints-3.3.1.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)")


def norm(name: str) -> str:
    """PEP 503 normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: Path) -> dict[str, str]:
    """``{normalized name: version}`` of every ``name==version`` line."""
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[norm(match.group(1))] = match.group(2)
    return found


def test_constraint_copies_are_for_our_airflow_and_python():
    assert "constraints-3.3.1/constraints-3.12.txt" in CONSTRAINTS.read_text()[:400]
    assert "apache-airflow-providers-amazon" in pins(CONSTRAINTS)
    assert pins(ESSENTIAL)["apache-airflow"] == bundle.AIRFLOW_VERSION
    assert f"constraints-{bundle.AIRFLOW_VERSION}/constraints-{bundle.PYTHON_VERSION}" in (
        bundle.CONSTRAINTS_LINE
    )


def test_every_requirement_is_pinned_and_agrees_with_airflows_constraints():
    lines = [
        x.strip()
        for x in (ROOT / "requirements.txt").read_text().splitlines()
        if x.strip() and not x.startswith("#")
    ]
    ours = pins(ROOT / "requirements.txt")
    assert len(ours) == len(lines), "every line of requirements.txt is a name==version pin"
    airflow = pins(CONSTRAINTS)
    differ = {n: (v, airflow[n]) for n, v in ours.items() if n in airflow and airflow[n] != v}
    assert not differ, f"pins that differ from Airflow 3.3.1's constraints: {differ}"


def test_no_pin_overrides_mwaa_essential_constraints():
    ours, essential = pins(ROOT / "requirements.txt"), pins(ESSENTIAL)
    clash = {n: (v, essential[n]) for n, v in ours.items() if n in essential}
    assert not clash, f"MWAA does not let requirements.txt pin these: {clash}"
    assert "apache-airflow" not in ours


def test_compat_environment_matches_mwaa_3_0_6():
    compat, mwaa = pins(REQ / "compat-3.0.6.txt"), pins(REQ / "mwaa-constraints-3.0.6-py3.12.txt")
    assert compat["apache-airflow"] == "3.0.6"
    for name in ("apache-airflow-providers-amazon", "apache-airflow-providers-standard"):
        assert compat[name] == mwaa[name], name


@pytest.mark.xdist_group("deploy")
def test_requirements_resolve_under_mwaa_constraints_for_python_3_12(tmp_path: Path):
    """What MWAA's pip does at start-up, resolved (not installed) for its platform."""
    wanted = tmp_path / "mwaa.in"
    wanted.write_text(f"apache-airflow=={bundle.AIRFLOW_VERSION}\n-r {ROOT / 'requirements.txt'}\n")
    uv = Path(sys.executable).with_name("uv")
    command = [str(uv), "pip", "compile", "--quiet", "--no-header", str(wanted)]
    command += ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]
    command += ["-c", str(CONSTRAINTS), "-c", str(ESSENTIAL), "-o", str(tmp_path / "out.txt")]
    proc = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    resolved = pins(tmp_path / "out.txt")
    assert resolved["apache-airflow"] == bundle.AIRFLOW_VERSION
    for name, version in pins(ROOT / "requirements.txt").items():
        assert resolved[name] == version, name
