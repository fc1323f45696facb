"""Interactive map in headless Chromium: page size, time to ready, frame rate while panning.

    .venv/bin/python scripts/bench_map_page.py [--nodes 5000] [--edges 50000]

Renders the planted synthetic graph (``bench_maps.planted_graph``), opens it at
1440 x 900 over the DevTools protocol (``scripts/headless.py``), reads the
page's own ready time (``performance.now()`` when the first frame is drawn),
then drags the map for ~2 s with real mouse events and counts animation frames.
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
    with tempfile.TemporaryDirectory() as tmp, Chromium() as browser:
        path = Path(tmp) / "map.html"
        path.write_text(page, encoding="utf-8")
        for run in range(args.runs):
            browser.open(path.as_uri(), 1440, 900)
            ready = float(browser.eval("document.body.dataset.readyMs"))
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
                f"run {run}: ready {ready:.0f} ms, panning {len(frames) / span:.1f} fps "
                f"({len(frames)} frames in {span:.2f} s, 95th pct frame {p95:.1f} ms)"
            )


if __name__ == "__main__":
    main()
