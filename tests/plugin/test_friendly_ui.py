"""What a person triggering runs sees: DAG descriptions, the trigger form, run dates, logs."""

from __future__ import annotations

import ast
import logging
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from vieweratlas import alerts
from vieweratlas.links import asset_extra, date_file_path, run_tab_path
from vieweratlas.params import PARAM_SPECS, AnalysisParams, analysis_day
from vieweratlas.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted((ROOT / "dags").glob("*.py"))


def _ui_required(schema: dict) -> bool:
    """Airflow 3.3's trigger form: required unless the type allows null (ui FlexibleForm)."""
    kind = schema.get("type")
    return bool(kind) and (not isinstance(kind, list) or "null" not in kind)


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_every_dag_has_a_description(path):
    calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)]
    dag_calls = [c for c in calls if getattr(c.func, "id", None) == "dag"]
    assert dag_calls, path
    for call in dag_calls:
        found = {k.arg: k.value for k in call.keywords}
        assert isinstance(found.get("description"), ast.Constant), path
        assert 20 <= len(found["description"].value) <= 100, found["description"].value


@pytest.mark.parametrize("name", sorted(PARAM_SPECS))
def test_every_param_has_a_title_markdown_help_and_is_optional(name):
    spec = PARAM_SPECS[name]
    assert spec["title"] and spec["title"] != name
    assert spec["description_md"] and "description" not in spec  # the form prefers plain text
    assert not _ui_required(spec)
    assert spec["default"] == getattr(AnalysisParams(), name)
    if "enum" in spec:
        assert None in spec["enum"] and spec["default"] in spec["enum"]


def test_an_emptied_form_field_means_the_default():
    assert AnalysisParams.from_mapping(dict.fromkeys(PARAM_SPECS)) == AnalysisParams()


def test_params_spec_passes_airflow_validation():
    from airflow.sdk import Param

    for name, spec in PARAM_SPECS.items():
        Param(**spec).resolve(suppress_exception=False)
        Param(**spec).resolve(value=None, suppress_exception=False)
        with pytest.raises(Exception):
            Param(**spec).resolve(value="not valid" if spec["type"][0] != "string" else 3)
        assert name


@pytest.mark.parametrize(
    "logical, run_after, expected",
    [
        ("2026-05-01T00:30", "2026-05-02T00:30", "2026-05-01"),  # scheduled
        ("2026-05-01T00:00", "2026-05-03T09:00", "2026-05-01"),  # backfill / re-run later
        ("2026-05-03T15:12", "2026-05-03T15:12", "2026-05-02"),  # trigger form's "now"
        ("2026-05-03T23:59", "2026-05-03T10:00", "2026-05-02"),  # a day not over yet
        (None, "2026-05-03T15:12", "2026-05-02"),  # no logical date
        ("2026-05-02T23:59", "2026-05-03T00:01", "2026-05-02"),
    ],
)
def test_analysis_day_is_the_last_complete_day(logical, run_after, expected):
    def utc(text):
        return datetime.fromisoformat(text).replace(tzinfo=UTC) if text else None

    assert analysis_day(utc(logical), utc(run_after)) == expected


def test_listing_window_days_imports_nothing_heavy():
    code = (
        "import sys, vieweratlas.params, vieweratlas.links;"
        "print(sorted(m for m in ('numpy', 'pyarrow', 'fsspec', 'scipy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_asset_extra_carries_the_map_path_and_figures():
    summary = {
        "date": "2026-05-01",
        "counts": {"channels": 300, "chatters": 9000, "communities": 8},
        "modularity": 0.6,
        "top_communities": [{"label": f"c{i}", "channels": 9, "chatters": 5} for i in range(9)],
    }
    extra = asset_extra(summary)
    assert extra["map_path"] == "/vieweratlas/dates/2026-05-01/map.html"
    assert (extra["channels"], extra["communities"], extra["modularity"]) == (300, 8, 0.6)
    assert len(extra["top_communities"]) == 5
    assert run_tab_path("manual__2026-05-01T00:00:00+00:00") == (
        "/dags/daily_analysis/runs/manual__2026-05-01T00%3A00%3A00%2B00%3A00/plugin/twitch-map-run"
    )


class Records(logging.Handler):
    """Collects the records of one logger (whatever Airflow did to the root logger)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_run_summary_is_logged_at_info_with_the_map_link():
    logger, seen = logging.getLogger("vieweratlas.alerts"), Records()
    logger.addHandler(seen)
    level, logger.level = logger.level, logging.DEBUG
    try:
        summary = {"date": "2026-05-01", "counts": {"channels": 3, "communities": 1}}
        settings = Settings(log_base_url="https://af.example")
        assert alerts.publish_summary(summary, settings) is False
        [record] = seen.records
        assert record.levelno == logging.INFO and "ALERT" not in record.getMessage()
        assert "https://af.example" + date_file_path("2026-05-01") in record.getMessage()
        alerts.publish("failure", "body", Settings())
        assert seen.records[1].levelno == logging.WARNING
    finally:
        logger.removeHandler(seen)
        logger.setLevel(level)


def test_publish_extra_link_opens_the_run_map_tab_only_on_publish():
    from airflow import plugins_manager
    from airflow.models.taskinstancekey import TaskInstanceKey

    found = plugins_manager.get_global_operator_extra_links()
    [link] = [x for x in found if x.name == "Twitch map"]
    run_id = "scheduled__2026-05-01T00:30:00+00:00"
    publish = TaskInstanceKey("daily_analysis", "publish", run_id, 1, -1)
    assert link.get_link(None, ti_key=publish) == run_tab_path(run_id)
    for other in [("daily_analysis", "overlap"), ("channel_refresh", "publish")]:
        assert link.get_link(None, ti_key=TaskInstanceKey(*other, run_id, 1, -1)) == ""
