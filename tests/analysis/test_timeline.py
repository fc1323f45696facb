"""The timeline page and chart: hostile strings stay text, no network, channel history works."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import urllib.parse
from datetime import date, timedelta

import pyarrow as pa
import pytest
from scripts.headless import dump_dom
from tests.analysis.test_maps_html import CHROMIUM, Scripts

from vieweratlas import lake as keys
from vieweratlas.history import track_step
from vieweratlas.params import AnalysisParams
from vieweratlas.storage import Lake
from vieweratlas.synthetic_evolution import EvolutionSpec, evolve, write_day
from vieweratlas.timeline import read_timeline, render_html

HOSTILE_LOGIN = "<script>alert(1)</script>"
HOSTILE_LABEL = "</svg><img src=x onerror=alert(2)> & Just Chatting"
DAYS = [(date(2026, 3, 1) + timedelta(days=k)).isoformat() for k in range(4)]


def _replace(lake: Lake, key: str, column: str, value: str) -> None:
    table = lake.read_parquet(key)
    values = table[column].to_pylist()
    values[0] = value
    index = table.schema.get_field_index(column)
    lake.write_parquet(key, table.set_column(index, table.field(column), pa.array(values)))


@pytest.fixture(scope="module")
def tracked(tmp_path_factory) -> Lake:
    lake = Lake(tmp_path_factory.mktemp("lake").as_uri())
    spec = EvolutionSpec(channels=500, communities=10, days=4, min_size=8, moves=3)
    spec = EvolutionSpec(**{**spec.__dict__, "merges": 1, "splits": 1, "grows": 1, "shrinks": 1})
    for day, planted in zip(DAYS, evolve(spec).days, strict=True):
        write_day(lake, planted, day)
        _replace(lake, keys.analysis_file(day, "graph_nodes.parquet"), "login", HOSTILE_LOGIN)
        _replace(lake, keys.analysis_file(day, "communities.parquet"), "label", HOSTILE_LABEL)
        track_step(lake, day, AnalysisParams(timeline_days=30))
    return lake


@pytest.fixture(scope="module")
def page(tracked) -> str:
    return tracked.read_bytes(keys.analysis_file(DAYS[-1], "timeline.html")).decode()


def test_page_has_its_data_and_no_raw_hostile_string(page):
    parser = Scripts()
    parser.feed(page)
    assert [attrs.get("type") for attrs, _ in parser.scripts] == ["application/json", None]
    data = json.loads(parser.scripts[0][1])
    assert data["days"] == DAYS
    assert HOSTILE_LOGIN in data["logins"]
    assert HOSTILE_LABEL in data["labels"]
    assert len(data["history"]) == len(DAYS)
    assert all(len(day) == len(data["logins"]) for day in data["history"])
    assert HOSTILE_LOGIN not in page and HOSTILE_LABEL not in page
    assert "<img" not in page
    assert "&lt;/svg&gt;&lt;img src=x onerror=alert(2)&gt; &amp; Just Chatting" in page


def test_csp_allows_only_the_page_script_and_nothing_is_fetched(page):
    parser = Scripts()
    parser.feed(page)
    script = parser.scripts[1][1]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"default-src 'none'; script-src 'sha256-{digest}';" in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert 'href="map.html"' in page


def test_timeline_reads_only_tracked_days_and_skips_gaps(tracked):
    t = read_timeline(tracked, (date(2026, 3, 10)).isoformat(), 30)
    assert t.days == DAYS
    assert t.audience.shape == (len(t.uids), len(DAYS))
    assert (t.history >= -1).all() and t.history.max() < len(t.uids)
    with pytest.raises(ValueError, match="no tracked day"):
        read_timeline(tracked, "2026-02-01", 5)


def test_png_is_a_png(tracked):
    assert tracked.read_bytes(keys.analysis_file(DAYS[-1], "timeline.png")).startswith(b"\x89PNG")


def test_render_html_escapes_the_title(tracked):
    t = read_timeline(tracked, DAYS[-1], 30)
    out = render_html(t, "<b>x</b>")
    assert "<b>x</b>" not in out and "&lt;b&gt;x&lt;/b&gt;" in out


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed (apt-get install chromium; .ci/run installs it)",
)
def test_headless_browser_shows_a_channel_history(page, tmp_path):
    assert CHROMIUM, "CI must run the browser check: .ci/run installs chromium"
    path = tmp_path / "timeline.html"
    path.write_text(page, encoding="utf-8")
    query = urllib.parse.quote(HOSTILE_LOGIN)
    dom = dump_dom(f"{path.as_uri()}#q={query}", str(tmp_path / "profile"))
    history = re.search(r'<table id="history">(.*?)</table>', dom, re.S).group(1)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in history  # the channel, as text
    assert history.count("<tr>") == len(DAYS) + 1  # header + one row per day
    for day in DAYS:
        assert day in history
    assert "<img" not in dom and "<script>alert" not in dom
