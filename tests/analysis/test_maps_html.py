"""render_html: every channel on the page, hostile names only as data, the script intact."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from scripts.bench_maps import NAMES, planted_graph
from scripts.headless import dump_dom

from vieweratlas.layout import compute_layout
from vieweratlas.map_html import (
    DRAWN_EDGES,
    NEIGHBORS_AFTER,
    SCRIPT_ID,
    neighbor_lists,
    render_html,
    script_json,
)

JS = Path(__file__).resolve().parents[2] / "include" / "vieweratlas" / "map_html.js"
TITLE = "</title><script>alert('t')</script> {{ title }} __DATA__"


class Scripts(HTMLParser):
    """Collects <script> elements (attributes, text) and the <title> text."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self.title = ""
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append((dict(attrs), ""))
        self._in = tag

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        elif self._in == "title":
            self.title += data


@pytest.fixture(scope="module")
def graph():
    nodes, edges, communities = planted_graph(n=800, m=5000, n_comm=12, seed=2)
    return nodes, edges, communities, compute_layout(nodes, edges, seed=1)


@pytest.fixture(scope="module")
def page(graph) -> str:
    nodes, edges, communities, positions = graph
    return render_html(nodes, edges, positions, communities, TITLE)


@pytest.fixture(scope="module")
def parsed(page) -> Scripts:
    parser = Scripts()
    parser.feed(page)
    return parser


def test_one_script_between_two_data_blocks_and_they_close_where_intended(page, parsed):
    assert len(parsed.scripts) == 3
    assert page.count("</script>") == 3
    assert len(re.findall(r"<script\b", page, flags=re.IGNORECASE)) == 3
    assert parsed.scripts[0][0] == {"type": "application/json", "id": "graph-data"}
    assert parsed.scripts[1][0] == {"id": SCRIPT_ID}
    assert parsed.scripts[1][1] == JS.read_text(encoding="utf-8")
    assert parsed.scripts[2][0] == {"type": "application/json", "id": NEIGHBORS_AFTER}


def test_rendering_waits_for_the_map_script(page):
    """The head asks the browser not to render until the map's script element is parsed."""
    head = page[: page.index("</head>")]
    link = f'<link rel="expect" href="#{SCRIPT_ID}" blocking="render">'
    assert head.count(link) == 1
    assert page.index('id="graph-data"') < page.index(f'<script id="{SCRIPT_ID}">')
    assert page.index(f'<script id="{SCRIPT_ID}">') < page.index(f'id="{NEIGHBORS_AFTER}"')


def test_every_channel_and_string_round_trips_exactly(graph, parsed):
    nodes, edges, communities, _ = graph
    data = json.loads(parsed.scripts[0][1])
    page = data["nodes"]
    assert page["login"] == nodes["login"].to_pylist()
    names = [name or login for name, login in zip(page["name"], page["login"], strict=True)]
    assert names == nodes["display_name"].to_pylist()
    assert [data["games"][k] for k in page["game"]] == nodes["game"].to_pylist()
    assert [data["languages"][k] for k in page["language"]] == nodes["language"].to_pylist()
    assert data["communities"]["label"] == communities["label"].to_pylist()
    # Every channel's ranked neighbours: the first DRAWN_EDGES from the first block (the
    # drawn edges, -1 padded), the rest from the block after the script.
    ranked = json.loads(parsed.scripts[2][1])
    start, ids, shared = neighbor_lists(nodes, edges, None, 20)
    assert ranked["start"] == start.tolist() and ranked["shared"] == np.rint(shared).tolist()
    drawn, rest = iter(data["drawn"]["id"]), iter(ranked["rest"])
    per = data["drawn"]["per"]
    assert per == DRAWN_EDGES and len(data["drawn"]["id"]) == per * nodes.num_rows
    lists = []
    for i in range(nodes.num_rows):
        first = [next(drawn) for _ in range(per)]
        count = start[i + 1] - start[i]
        assert first[count:] == [-1] * max(per - count, 0)
        lists += first[:count] + [next(rest) for _ in range(count - per)]
    assert lists == ids.tolist() and next(rest, None) is None
    for name in NAMES:  # unicode, RTL marks, U+2028 and hostile markup survive as data
        assert name in names


def test_hostile_strings_never_appear_raw(page):
    for raw in ["<script>alert(1)</script>", "<img src=x", "</script><img", "<b>Label</b>"]:
        assert raw not in page
    assert "\u2028" not in page and "\u2029" not in page
    for name in ("graph-data", NEIGHBORS_AFTER):
        block = page.split(f'<script type="application/json" id="{name}">', 1)[1]
        assert not re.search(r"[<>&]", block.split("</script>", 1)[0])


def test_title_is_escaped_not_substituted(page, parsed):
    assert "<title>&lt;/title&gt;&lt;script&gt;alert(&#x27;t&#x27;)" in page
    assert parsed.title == TITLE
    outside = re.sub(r'<script type="application/json".*?</script>', "", page, flags=re.S)
    assert outside.count("__DATA__") == 2  # title and h1, left alone


def test_csp_allows_only_the_page_script(page, parsed):
    digest = base64.b64encode(hashlib.sha256(parsed.scripts[1][1].encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert f"script-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp
    assert "http" not in page.split("<body>", 1)[0].replace('http-equiv="', "")  # no CDN


def test_script_json_escapes_what_html_parsers_see():
    text = script_json({"a": "</script><!-- & \u2028 日本 🎮"})
    assert not re.search(r"[<>&\u2028\u2029]", text)
    assert text.isascii()
    assert json.loads(text) == {"a": "</script><!-- & \u2028 日本 🎮"}


def test_empty_graph_and_mismatched_positions(graph):
    nodes, edges, communities, positions = graph
    page = render_html(nodes.slice(0, 0), edges.slice(0, 0), positions[:0], communities, "")
    assert '"login":[]' in page
    with pytest.raises(ValueError, match="positions"):
        render_html(nodes, edges, positions[:-1], communities, "t")


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_page_script_is_valid_javascript(tmp_path):
    copy = tmp_path / "map.js"
    copy.write_text(JS.read_text(encoding="utf-8"), encoding="utf-8")
    subprocess.run(["node", "--check", str(copy)], check=True, capture_output=True)


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(
    CHROMIUM is None and not os.environ.get("CI"),
    reason="chromium not installed (apt-get install chromium; .ci/run installs it)",
)
def test_headless_browser_runs_page_and_finds_hostile_channel(page, graph, tmp_path):
    assert CHROMIUM, "CI must run the browser check: .ci/run installs chromium"
    path = tmp_path / "map.html"
    path.write_text(page, encoding="utf-8")
    query = urllib.parse.quote("<script>alert(1)</script>")
    dom = dump_dom(f"{path.as_uri()}#q={query}", str(tmp_path / "profile"))
    body = re.search(r"<body[^>]*>", dom).group(0)
    assert f'data-ready="{graph[0].num_rows}"' in body  # the script ran to the end
    assert 'data-selected="&lt;script&gt;alert(1)&lt;/script&gt;"' in body  # search found it
    assert "<img" not in dom
    assert dom.count("<li>") >= 12  # legend entries (and search results) were built
