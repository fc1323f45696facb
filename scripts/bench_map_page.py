"""Interactive map in headless Chromium: page size, time to ready, frame rate while panning.

    .venv/bin/python scripts/bench_map_page.py [--nodes 5000] [--edges 50000] [--runs 3]

Renders the planted synthetic graph (``bench_maps.planted_graph``), opens it at
1440 x 900 over the DevTools protocol (``scripts/headless.py``), one new
Chromium with a new profile per run (so every run is a first launch), then drags
the map for ~2 s with real mouse events and counts animation frames.

Ready is the page's own ``performance.now()`` (milliseconds since navigation
start) when its script has finished the first frame: data parsed, legend built,
layout read, every dot and edge and every label of that frame (community and
channel names, each measured) drawn into the canvas. The browser's paint of that
canvas follows: "frame done" is when the browser finished that first frame's
rendering update (style, layout, paint of the whole page; the end of the long
animation frame that ran the script) and "painted" its first paint on screen
(``first-contentful-paint``; the head holds rendering until the script has run).
The phases are the page's ``va:*`` performance marks: when the script started,
then the time spent parsing the data, building the draw arrays, the legend, the
layout read, drawing the graph and placing and drawing labels.
Each run ends with Chromium's own CPU time (user + sys, 10 ms steps, summed over
its processes still running: browser, renderer, GPU, network) for the whole run:
launch, load, 2 s of panning.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from scripts.bench_maps import planted_graph
from scripts.headless import Chromium

from vieweratlas.layout import compute_layout
from vieweratlas.map_html import render_html

COUNT_FRAMES = """
window.__frames = [];
(function tick(t) { window.__frames.push(t); if (window.__frames.length < 100000)
  requestAnimationFrame(tick); })(performance.now());
"""


PHASES = ["parse", "arrays", "legend", "layout", "graph", "labels"]
# The end of the long animation frame that ran the page's script (null if none in 2 s).
FRAME_DONE = """new Promise((ok) => {
  setTimeout(() => ok(null), 2000);
  const ready = Number(document.body.dataset.readyMs);
  new PerformanceObserver((list) => {
    const frame = list.getEntries().find((e) => e.startTime + e.duration >= ready);
    if (frame) ok(frame.startTime + frame.duration);
  }).observe({ type: "long-animation-frame", buffered: true });
})"""
PAINTED = """new Promise((ok) => {
  setTimeout(() => ok(null), 2000);
  new PerformanceObserver((list) => {
    const paint = list.getEntriesByName("first-contentful-paint")[0];
    if (paint) ok(paint.startTime);
  }).observe({ type: "paint", buffered: true });
})"""
MARKS = "Object.fromEntries(performance.getEntriesByType('mark').map((m) => [m.name, m.startTime]))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--edges", type=int, default=50000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    nodes, edges, communities = planted_graph(args.nodes, args.edges, 60, related=0.5)
    page = render_html(nodes, edges, compute_layout(nodes, edges, 1), communities, "bench")
    print(f"{nodes.num_rows} channels: html {len(page.encode()) / 1e6:.3f} MB")
    print(f"load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "map.html"
        path.write_text(page, encoding="utf-8")
        for run in range(args.runs):
            with Chromium() as browser:
                measure_run(browser, path, run)


def measure_run(browser: Chromium, path: Path, run: int) -> None:
    """Open the page in a fresh browser, print ready and its phases, then pan for 2 s."""
    browser.open(path.as_uri(), 1440, 900)
    ready = float(browser.eval("document.body.dataset.readyMs"))
    marks = browser.eval(MARKS)
    steps = [f"script at {marks['va:script']:.0f}"]
    previous = marks["va:script"]
    for phase in PHASES:
        steps.append(f"{phase} {marks[f'va:{phase}'] - previous:.0f}")
        previous = marks[f"va:{phase}"]
    labels = browser.eval("JSON.parse(document.getElementById('map').dataset.labels).length")
    tried = browser.eval("document.getElementById('map').dataset.tried")
    done = browser.eval(FRAME_DONE, await_promise=True)
    painted = browser.eval(PAINTED, await_promise=True)
    print(
        f"run {run}: ready {ready:.0f} ms ({', '.join(steps)}); "
        f"frame done {done or float('nan'):.0f} ms, painted {painted or float('nan'):.0f} ms; "
        f"{labels} labels ({tried} channel names tried)"
    )
    pan(browser, run)
    info = browser.call("SystemInfo.getProcessInfo")["processInfo"]
    print(f"run {run}: Chromium CPU {sum(p['cpuTime'] for p in info):.2f} s")


def pan(browser: Chromium, run: int) -> None:
    """Drag the map for ~2 s and print the frame rate."""
    browser.eval(COUNT_FRAMES)
    browser.page("Input.dispatchMouseEvent", type="mousePressed", x=500, y=450,
                 button="left", buttons=1, clickCount=1)  # fmt: skip
    start = time.perf_counter()
    step = 0
    while time.perf_counter() - start < 2.0:
        step += 1
        x = 500 + 200 * ((step % 80) / 80)
        browser.page("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=450,
                     button="left", buttons=1)  # fmt: skip
        time.sleep(0.008)
    browser.page("Input.dispatchMouseEvent", type="mouseReleased", x=500, y=450,
                 button="left", buttons=1, clickCount=1)  # fmt: skip
    frames = browser.eval("window.__frames")
    span = (frames[-1] - frames[0]) / 1000
    gaps = sorted(b - a for a, b in itertools.pairwise(frames))
    p95 = gaps[int(0.95 * (len(gaps) - 1))] if gaps else float("nan")
    print(
        f"run {run}: panning {len(frames) / span:.1f} fps "
        f"({len(frames)} frames in {span:.2f} s, 95th pct frame {p95:.1f} ms)"
    )


if __name__ == "__main__":
    main()
