"""The interactive map in a real headless Chromium: phone and desktop, light and dark.

Checks page state and screenshots, not only that the page loads: the map's size,
the theme actually drawn, label boxes that never overlap, the neighbour panel,
the phone drawer, search closing on select, and pinch zoom.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import json
import math
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scripts.bench_maps import planted_graph
from scripts.headless import Chromium, chromium_path

from vieweratlas.layout import compute_layout
from vieweratlas.map_html import (
    DRAWN_EDGES,
    GRID,
    NEIGHBORS_AFTER,
    SCRIPT_ID,
    neighbor_lists,
    render_html,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        chromium_path() is None and not os.environ.get("CI"),
        reason="chromium not installed (apt-get install chromium; .ci/run installs it)",
    ),
]
SHOTS = os.environ.get("VIEWERATLAS_SHOTS")  # optional folder to keep the screenshots


@pytest.fixture(scope="module")
def graph():
    return planted_graph(n=1500, m=12000, n_comm=30, seed=4, related=0.5)


@pytest.fixture(scope="module")
def positions(graph):
    nodes, edges, _ = graph
    return compute_layout(nodes, edges, seed=1)


@pytest.fixture(scope="module")
def page_url(graph, positions, tmp_path_factory):
    nodes, edges, communities = graph
    path = tmp_path_factory.mktemp("map") / "map.html"
    path.write_text(render_html(nodes, edges, positions, communities, "Map"), encoding="utf-8")
    return path.as_uri()


@pytest.fixture(scope="module")
def real_url(real_map_graph, tmp_path_factory):
    nodes, edges, communities, positions = real_map_graph
    path = tmp_path_factory.mktemp("real") / "map.html"
    path.write_text(render_html(nodes, edges, positions, communities, "Map"), encoding="utf-8")
    return path.as_uri()


@pytest.fixture(scope="module")
def browser():
    with Chromium() as chromium:
        yield chromium


def _no_overlap(boxes: list[list[int]]) -> None:
    """Every pair of label boxes (community and channel labels alike) is disjoint."""
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def _rendered(browser) -> None:
    browser.eval(
        "new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))", True
    )


def _shot(browser, name: str) -> np.ndarray:
    png = browser.screenshot()
    if SHOTS:
        with open(os.path.join(SHOTS, f"{name}.png"), "wb") as out:
            out.write(png)
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(np.int64)


@pytest.mark.parametrize(("width", "height"), [(1440, 900), (400, 800)])
@pytest.mark.parametrize("dark", [False, True])
def test_map_fills_the_screen_in_the_right_theme_with_readable_labels(
    browser, page_url, width, height, dark
):
    browser.open(page_url, width, height, dark=dark)
    assert browser.eval("document.body.dataset.theme") == ("dark" if dark else "light")
    map_w, map_h = map(int, browser.eval("document.body.dataset.map").split("x"))
    if width <= 500:
        assert map_w == width and map_h >= 0.8 * height  # the map takes the phone's width
        side = browser.eval("document.getElementById('side').getBoundingClientRect().top")
        assert side >= height - 1  # the legend drawer is closed
    else:
        assert map_w >= width - 340 and map_h >= height - 60
    boxes = json.loads(browser.eval("document.getElementById('map').dataset.labels"))
    assert len(boxes) >= 12  # community labels and channel names at fit zoom
    _no_overlap(boxes)
    for b in boxes:
        assert b[0] >= 0 and b[2] <= map_w and b[1] >= 0 and b[3] <= map_h
    image = _shot(browser, f"map-{width}-{'dark' if dark else 'light'}")
    top = int(browser.eval("document.getElementById('map').getBoundingClientRect().top"))
    area = image[top : top + map_h, :map_w]
    background = np.median(area.reshape(-1, 3), axis=0)
    assert (background.mean() < 60) if dark else (background.mean() > 200)
    colourful = (area.max(axis=2) - area.min(axis=2)) > 60
    assert colourful.mean() > 0.01  # community colours visible on this background


def test_first_frame_is_drawn_once_with_its_phases_marked(browser, page_url):
    """Ready means the first full frame is in the canvas; no second drawing of the same
    view follows on the next animation frame, and the benchmark's phase marks are there."""
    browser.open(page_url, 1440, 900)
    _rendered(browser)
    assert browser.eval("document.body.dataset.frames") == "1"
    marks = browser.eval("performance.getEntriesByType('mark').map((m) => m.name)")
    phases = ["script", "parse", "arrays", "legend", "layout", "graph", "labels"]
    assert marks == [f"va:{p}" for p in phases]
    ready = float(browser.eval("document.body.dataset.readyMs"))
    assert ready >= browser.eval("performance.getEntriesByName('va:labels')[0].startTime") - 1
    browser.page("Input.dispatchMouseEvent", type="mouseWheel", x=500, y=400, deltaX=0, deltaY=-200)
    _rendered(browser)
    assert browser.eval("document.body.dataset.frames") == "2"  # a new view is drawn
    assert browser.eval("performance.getEntriesByType('mark').length") == len(phases)


def test_zooming_in_shows_more_names_never_piled_up(browser, page_url):
    browser.open(page_url, 1440, 900)
    before = {
        b[4] for b in json.loads(browser.eval("document.getElementById('map').dataset.labels"))
    }
    w, h = map(int, browser.eval("document.body.dataset.map").split("x"))
    first = browser.eval("JSON.parse(document.getElementById('graph-data').textContent).labels")
    grid = 10_000
    x = first["x"][0] / grid * min(w, h) / 2.1 + w / 2  # the largest community, at fit zoom
    y = h / 2 - first["y"][0] / grid * min(w, h) / 2.1
    for _ in range(3):
        browser.page("Input.dispatchMouseEvent", type="mouseWheel", x=x, y=y, deltaX=0, deltaY=-400)
    _rendered(browser)
    boxes = json.loads(browser.eval("document.getElementById('map').dataset.labels"))
    assert float(browser.eval("document.body.dataset.zoom")) > 2
    assert len({b[4] for b in boxes} - before) >= 10  # names that had no room before
    _no_overlap(boxes)


def test_deep_link_opens_the_ranked_neighbour_panel(browser, page_url, graph):
    nodes, edges, _ = graph
    login = nodes["login"][100].as_py()
    browser.open(f"{page_url}#q={login}", 1440, 900)
    assert browser.eval("document.body.dataset.selected") == login
    assert browser.eval("document.getElementById('results').children.length") == 0  # closed
    assert browser.eval("document.getElementById('panel').hidden") is False
    start, ids, _ = neighbor_lists(nodes, edges, None, 20)
    expected = [nodes["display_name"][int(j)].as_py() for j in ids[start[100] : start[101]]]
    names = browser.eval(
        "[...document.querySelectorAll('#panel-list bdi')].map((b) => b.textContent)"
    )
    assert names == expected and len(names) >= 3  # ranked, strongest first
    boxes = json.loads(browser.eval("document.getElementById('map').dataset.labels"))
    assert boxes[0][4] == nodes["display_name"][100].as_py()  # the selection is named first
    _no_overlap(boxes)
    browser.eval("document.querySelector('#panel-list button').click()")
    assert (
        browser.eval("document.body.dataset.selected")
        == nodes["login"][int(ids[start[100]])].as_py()
    )
    _shot(browser, "neighbours-1440")


def test_counts_are_grouped_by_thousands(browser, page_url, graph):
    """Counts use the same 1,234 grouping as the legend's audience text from Python."""
    nodes = graph[0]
    big = int(np.argmax(nodes["chatters"].to_numpy()))
    chatters = nodes["chatters"][big].as_py()
    assert chatters >= 10_000
    browser.open(f"{page_url}#q={nodes['login'][big].as_py()}", 1440, 900)
    stats = browser.eval("document.getElementById('panel-stats').textContent")
    assert stats.startswith(f"{chatters:,} chatters · ")


def test_phone_drawer_and_pinch_zoom(browser, page_url):
    browser.open(page_url, 400, 800)
    browser.eval("document.getElementById('drawer-toggle').click()")
    browser.eval("new Promise((ok) => setTimeout(ok, 400))", True)
    side = browser.eval("document.getElementById('side').getBoundingClientRect().top")
    assert side < 800 - 100  # the drawer slid up
    browser.eval("document.getElementById('drawer-toggle').click()")
    browser.eval("new Promise((ok) => setTimeout(ok, 400))", True)  # drawer slid away
    zoom = float(browser.eval("document.body.dataset.zoom"))

    def touch(kind, points):
        browser.page(
            "Input.dispatchTouchEvent",
            type=kind,
            touchPoints=[{"x": x, "y": y, "id": k} for k, (x, y) in enumerate(points)],
        )

    touch("touchStart", [(180, 400), (220, 400)])
    for step in range(1, 11):
        touch("touchMove", [(180 - 10 * step, 400), (220 + 10 * step, 400)])
    touch("touchEnd", [])
    browser.eval(
        "new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(ok)))", True
    )
    assert float(browser.eval("document.body.dataset.zoom")) > 2 * zoom


@pytest.mark.parametrize("real", [False, True], ids=["synthetic", "real"])
@pytest.mark.parametrize(
    ("width", "height", "dark"), [(1440, 900, False), (1440, 900, True), (400, 800, False)]
)
def test_label_ink_stays_in_boxes_that_never_overlap(
    browser, page_url, real_url, real, width, height, dark
):
    """Labels drawn alone (#debug=labels): every pixel of text lies inside the box the page
    placed it by, and no two boxes overlap: at fit zoom and after zooming in."""
    browser.open(f"{real_url if real else page_url}#debug=labels", width, height, dark=dark)
    map_w, map_h = map(int, browser.eval("document.body.dataset.map").split("x"))
    top = int(browser.eval("document.getElementById('map').getBoundingClientRect().top"))
    data = browser.eval("JSON.parse(document.getElementById('graph-data').textContent).labels")
    for zoomed in (False, True):
        if zoomed:
            for _ in range(2):
                browser.page("Input.dispatchMouseEvent", type="mouseWheel", x=map_w // 2,
                             y=top + map_h // 2, deltaX=0, deltaY=-300)  # fmt: skip
            _rendered(browser)
        boxes = json.loads(browser.eval("document.getElementById('map').dataset.labels"))
        communities = [b for b in boxes if b[4].split(" / ")[0] in set(data["name"])]
        assert len(communities) >= (8 if width > 500 and not zoomed else 3)
        assert len(boxes) - len(communities) >= 10  # channel names too
        if width > 500 and not zoomed:  # the largest communities are all named at fit
            assert {b[4].split(" / ")[0] for b in communities} >= set(data["name"][:3])
        _no_overlap(boxes)
        area = _shot(browser, f"labels-{'real' if real else 'synthetic'}-{width}-"
                     f"{'dark' if dark else 'light'}{'-zoomed' if zoomed else ''}")  # fmt: skip
        area = area[top : top + map_h - 12, :map_w]  # the closed phone drawer's shadow below
        background = np.median(area.reshape(-1, 3), axis=0)
        ink = np.abs(area - background).max(axis=2) > 48
        covered = np.zeros_like(ink)
        for x0, y0, x1, y1, _ in boxes:
            covered[max(y0, 0) : y1, max(x0, 0) : x1] = True
        stray = np.argwhere(ink & ~covered)
        assert ink.sum() > 2000 and len(stray) == 0, stray[:10].tolist()


def test_edges_land_on_their_channels_at_fit_and_after_zooming(browser, page_url, graph, positions):
    """#debug=edges draws the drawn edges alone (one path per colour in grid units, stroked
    through the view's transform): every inked pixel lies within 2 px of a drawn edge, and
    the midpoint of nearly every edge in view is inked, at fit zoom and after a wheel zoom."""
    nodes, edges, _ = graph
    start, ids, _ = neighbor_lists(nodes, edges, None, 20)
    src = np.repeat(np.arange(len(start) - 1), np.diff(start))
    keep = np.arange(len(ids)) - start[src] < DRAWN_EDGES
    a, b = src[keep], ids[keep]
    grid = np.rint(np.clip(np.nan_to_num(positions), -1, 1) * GRID) / GRID
    browser.open(f"{page_url}#debug=edges", 1440, 900)
    w, h = map(int, browser.eval("document.body.dataset.map").split("x"))
    top = int(browser.eval("document.getElementById('map').getBoundingClientRect().top"))
    scale = fit = max(min(w, h) / 2.1, 1)
    cx = cy = 0.0
    for zoomed in (False, True):
        if zoomed:  # as the page's zoomAt: the world point under the cursor stays put
            px, py = 0.4 * w, 0.6 * h
            wx, wy = cx + (px - w / 2) / scale, cy - (py - h / 2) / scale
            browser.page("Input.dispatchMouseEvent", type="mouseWheel", x=px, y=top + py,
                         deltaX=0, deltaY=-300)  # fmt: skip
            _rendered(browser)
            scale *= math.exp(300 * 0.0015)
            cx, cy = wx - (px - w / 2) / scale, wy + (py - h / 2) / scale
            assert float(browser.eval("document.body.dataset.zoom")) == round(scale / fit, 3)
        x = (grid[:, 0] - cx) * scale + w / 2
        y = (cy - grid[:, 1]) * scale + h / 2
        mask = Image.new("L", (w, h))
        draw = ImageDraw.Draw(mask)
        for i, j in zip(a.tolist(), b.tolist(), strict=True):
            draw.line([(x[i], y[i]), (x[j], y[j])], fill=255, width=5)
        for i in np.union1d(a, b).tolist():  # antialiasing past the ends
            draw.ellipse([x[i] - 3, y[i] - 3, x[i] + 3, y[i] + 3], fill=255)
        near = np.asarray(mask) > 0
        area = _shot(browser, f"edges{'-zoomed' if zoomed else ''}")[top : top + h, :w]
        ink = np.abs(area - np.median(area.reshape(-1, 3), axis=0)).max(axis=2) > 0
        assert ink.sum() > 5000 and not (ink & ~near).any(), np.argwhere(ink & ~near)[:5]
        mx, my = np.rint((x[a] + x[b]) / 2).astype(int), np.rint((y[a] + y[b]) / 2).astype(int)
        inside = (mx >= 2) & (my >= 2) & (mx < w - 2) & (my < h - 2)
        inside &= np.hypot(x[a] - x[b], y[a] - y[b]) > 4
        hit = [
            ink[v - 1 : v + 2, u - 1 : u + 2].any()
            for u, v in zip(mx[inside], my[inside], strict=True)
        ]
        assert len(hit) > 1000 and np.mean(hit) > 0.97


def test_legend_rows_out_of_sight_are_not_rendered(browser, page_url):
    """Legend rows use content-visibility:auto: out of sight (the closed phone drawer, or
    far below the fold) they are skipped, so the page's first layout does not shape them;
    they render as soon as they come into view."""
    rows = "[...document.querySelectorAll('#legend-list > li')]"
    seen = "li.firstElementChild.checkVisibility({contentVisibilityAuto: true})"
    shown = f"{rows}.map((li) => {seen})"
    browser.open(page_url, 400, 800)
    assert len(browser.eval(shown)) >= 20 and not any(browser.eval(shown))  # drawer closed
    browser.eval("document.getElementById('drawer-toggle').click()")
    browser.eval("new Promise((ok) => setTimeout(ok, 400))", True)
    assert all(browser.eval(shown)[:5])


@contextlib.contextmanager
def _served_late(page_url: str, cut: str, delay: float) -> Iterator[str]:
    """The page over loopback HTTP in two parts: all before ``cut``, then the rest
    ``delay`` seconds later; yields its URL."""
    page = Path(page_url.removeprefix("file://")).read_bytes()
    head, tail = page.split(cut.encode(), 1)

    class Late(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(head)
            self.wfile.flush()
            time.sleep(delay)
            self.wfile.write(cut.encode() + tail)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Late)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/map.html"
    finally:
        server.shutdown()
        server.server_close()


def test_no_frame_is_rendered_before_the_map_is_drawn(browser, page_url):
    """The head's <link rel=expect blocking=render> holds rendering until the map's script
    element is parsed: even when the rest of the page arrives 0.3 s after the data block,
    the browser's first rendering update (first animation frame) comes after the page's
    first frame is drawn, not a bare header first."""
    probe = browser.page(
        "Page.addScriptToEvaluateOnNewDocument",
        source="requestAnimationFrame(() => { window.firstFrame = performance.now(); });",
    )["identifier"]
    try:
        with _served_late(page_url, f'<script id="{SCRIPT_ID}">', 0.3) as url:
            browser.open(url, 1440, 900)
            _rendered(browser)
        drawn = browser.eval("performance.getEntriesByName('va:labels')[0].startTime")
        script = browser.eval("performance.getEntriesByName('va:script')[0].startTime")
        assert script > 300  # the tail did arrive late
        assert browser.eval("window.firstFrame") > drawn
    finally:
        browser.page("Page.removeScriptToEvaluateOnNewDocument", identifier=probe)


def test_a_search_before_the_neighbour_lists_arrive_selects_once_they_do(browser, page_url, graph):
    """The map is drawn before the neighbour lists after its script are parsed; a channel
    picked in that gap is selected (panel open) as soon as they are, not dropped."""
    login = graph[0]["login"][7].as_py()
    browser.open(page_url, 1440, 900)  # the viewport
    cut = f'<script type="application/json" id="{NEIGHBORS_AFTER}">'
    with _served_late(page_url, cut, 0.6) as url:
        browser.page("Page.navigate", url="about:blank")
        browser.page("Page.navigate", url=url)
        drawn = "performance.getEntriesByName('va:labels').length > 0"
        deadline = time.monotonic() + 30
        while not browser.eval(f"!!document.body && {drawn}"):
            assert time.monotonic() < deadline, "the map was never drawn"
            time.sleep(0.02)
        assert browser.eval(f"document.getElementById('{NEIGHBORS_AFTER}') === null")
        browser.eval(
            "const s = document.getElementById('search');"
            f"s.value = {json.dumps(login)};"
            "s.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter'}));"
        )
        assert browser.eval("document.body.dataset.ready") is None  # still in the gap
        while not browser.eval("document.body.dataset.ready || ''"):
            assert time.monotonic() < deadline, "the page never got ready"
            time.sleep(0.02)
    assert browser.eval("document.body.dataset.selected") == login
    assert browser.eval("document.getElementById('panel').hidden") is False


def test_unconnected_list_is_built_when_first_opened(browser, page_url, graph):
    """The closed "Unconnected channels" box gets its rows (biggest first, each selectable)
    when it is opened, not while the first frame is drawn."""
    nodes = graph[0]
    browser.open(page_url, 1440, 900)
    listed = "[...document.querySelectorAll('#unconnected-list bdi')].map((b) => b.textContent)"
    assert browser.eval(listed) == []
    data = browser.eval("JSON.parse(document.getElementById('graph-data').textContent)")
    rows = data["unconnected"]["rows"][: data["unconnected"]["listed"]]
    assert len(rows) >= 5
    browser.eval("document.querySelector('#unconnected summary').click()")
    _rendered(browser)
    names = [nodes["display_name"][i].as_py() for i in rows]
    assert browser.eval(listed) == names
    chatters = nodes["chatters"].to_numpy()[rows]
    assert (np.diff(chatters) <= 0).all()
    browser.eval("document.querySelector('#unconnected-list button').click()")
    assert browser.eval("document.body.dataset.selected") == nodes["login"][rows[0]].as_py()
