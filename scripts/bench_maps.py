"""Benchmark the community maps: layout, PNG and HTML on a planted synthetic graph.

    .venv/bin/python scripts/bench_maps.py [--nodes 5000] [--edges 50000] [--out DIR] [--repeat N]

Prints wall time per function and the peak RSS of the process. ``planted_graph``
is also the fixture the map tests use.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from vieweratlas.schema import COMMUNITIES, GRAPH_EDGES, GRAPH_NODES

NAMES = [
    "<script>alert(1)</script>",
    "</script><img src=x onerror=alert(2)>",
    "\"quote' & amp;",
    "{{ 7*7 }} ${title} __DATA__",
    "\u202eevil\u202c name",
    "日本語のチャンネル",
    "한국어방송",
    "قناة عربية",
    "emoji 🎮🔥",
    "$x^2$ math",
    "line\u2028sep\u2029para",
]
GAMES = ["Just Chatting", "League of Legends", "Minecraft", "原神", "Counter-Strike", None]
LANGS = ["en", "es", "ja", "ko", "ar", "de", None]


def planted_graph(
    n: int = 5000,
    m: int = 50000,
    n_comm: int = 40,
    seed: int = 0,
    p_in: float = 0.92,
    related: float = 0.0,
) -> tuple[pa.Table, pa.Table, pa.Table]:
    """Nodes, edges and communities of a graph with planted communities (Zipf sizes).

    About 2% of channels are isolated singletons; names include hostile and
    non-Latin strings (``NAMES``) so every consumer meets them. With ``related``
    > 0, that share of the edges leaving a community go to a community next to
    it on a hidden ring of communities (so communities have ranked relations).
    """
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_comm + 1) ** 0.9
    n_single = max(n // 50, 1)
    sizes = np.maximum(np.round(weights / weights.sum() * (n - n_single)), 3).astype(np.int64)
    sizes[0] += n - n_single - sizes.sum()
    community = np.r_[np.repeat(np.arange(n_comm), sizes), n_comm + np.arange(n_single)]
    community = community[rng.permutation(n)].astype(np.int32)
    members = np.argsort(community, kind="stable")
    starts = np.searchsorted(community[members], np.arange(n_comm))
    src = rng.integers(0, n - n_single, m * 2)
    src = np.flatnonzero(community < n_comm)[src % (n - n_single)]
    same = rng.random(len(src)) < p_in
    c = community[src]
    dst_in = members[starts[c] + rng.integers(0, 1 << 30, len(src)) % sizes[c]]
    dst_out = np.flatnonzero(community < n_comm)[rng.integers(0, n - n_single, len(src))]
    if related > 0:
        ring = rng.permutation(n_comm)  # community at each ring slot
        slot = np.argsort(ring)
        step = rng.choice([-2, -1, 1, 2], len(src), p=[0.15, 0.35, 0.35, 0.15])
        near = ring[(slot[c] + step) % n_comm]
        dst_near = members[starts[near] + rng.integers(0, 1 << 30, len(src)) % sizes[near]]
        dst_out = np.where(rng.random(len(src)) < related, dst_near, dst_out)
    dst = np.where(same, dst_in, dst_out)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    key = np.unique((lo * n + hi)[lo != hi])[:m]
    key = key[rng.permutation(len(key))][:m]
    src, dst = key // n, key % n
    chatters = (rng.pareto(1.2, n) * 200 + 20).astype(np.int64)
    logins = [f"chan_{i}" for i in range(n)]
    display = [f"Chan{i}" for i in range(n)]
    for i, name in enumerate(NAMES[: (n - 2) // 7 + 1]):
        display[i * 7] = name
        logins[i * 7 + 1] = name  # logins are validated upstream; be safe anyway
    nodes = pa.table(
        {
            "channel_id": np.arange(n, dtype=np.int64) + 1000,
            "login": logins,
            "display_name": display,
            "community": community,
            "chatters": chatters,
            "viewers": chatters * 3,
            "game": [GAMES[i % len(GAMES)] for i in range(n)],
            "language": [LANGS[i % len(LANGS)] for i in range(n)],
        },
        schema=GRAPH_NODES,
    )
    edges = pa.table(
        {
            "src": src.astype(np.int32),
            "dst": dst.astype(np.int32),
            "weight": rng.integers(1, 500, len(src)).astype(np.float64),
            "score": rng.uniform(0.01, 0.6, len(src)),
        },
        schema=GRAPH_EDGES,
    )
    ids = np.unique(community)
    counts = np.bincount(community)
    order = ids[np.argsort(-counts[ids], kind="stable")]
    sums = np.bincount(community, weights=chatters)
    rows = [
        {
            "community": int(cid),
            "label": f"{GAMES[int(cid) % 5]} · {LANGS[int(cid) % 6]} #{cid}"
            if cid != 3
            else "<b>Label</b> 原神 · قناة",
            "channels": int(counts[cid]),
            "chatters": int(sums[cid]),
            "top_game": GAMES[int(cid) % 5],
            "top_language": LANGS[int(cid) % 6],
            "top_channels": [display[j] for j in np.flatnonzero(community == cid)[:3]],
        }
        for cid in order
    ]
    return nodes, edges, pa.Table.from_pylist(rows, schema=COMMUNITIES)


def main() -> None:
    import psutil

    from vieweratlas.layout import compute_layout
    from vieweratlas.map_html import render_html
    from vieweratlas.map_png import render_png

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=5000)
    parser.add_argument("--edges", type=int, default=50000)
    parser.add_argument("--out", type=Path, help="also write map.png and map.html here")
    parser.add_argument(
        "--repeat", type=int, default=0, help="then time render_png N more times (warm)"
    )
    args = parser.parse_args()
    nodes, edges, communities = planted_graph(args.nodes, args.edges)
    print(f"graph: {nodes.num_rows} nodes, {edges.num_rows} edges, {communities.num_rows} comms")
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    timings: dict[str, tuple[float, float]] = {}

    def timed(name, fn, *args):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn(*args)
        timings[name] = (time.perf_counter() - wall, time.process_time() - cpu)
        return result

    title = "ViewerAtlas benchmark"
    positions = timed("compute_layout", compute_layout, nodes, edges, 1)
    png = timed("render_png", render_png, nodes, edges, positions, communities, title)
    page = timed("render_html", render_html, nodes, edges, positions, communities, title)
    print(f"{'':15s} {'wall':>7s} {'cpu':>7s}   (first call in a fresh process)")
    for name, (wall, cpu) in timings.items():
        print(f"{name:15s} {wall:6.3f}s {cpu:6.3f}s")
    wall, cpu = (sum(t[k] for t in timings.values()) for k in (0, 1))
    print(f"{'total':15s} {wall:6.3f}s {cpu:6.3f}s   load average {os.getloadavg()[0]:.1f}")
    if args.repeat:
        warm = []
        for _ in range(args.repeat):
            cpu = time.process_time()
            render_png(nodes, edges, positions, communities, title)
            warm.append(time.process_time() - cpu)
        print(f"render_png warm cpu: median {sorted(warm)[len(warm) // 2]:.3f}s, min "
              f"{min(warm):.3f}s over {len(warm)} calls")  # fmt: skip
    peak = _peak_rss()
    print(f"rss before {rss0 / 2**20:.0f} MiB, peak {peak / 2**20:.0f} MiB")
    print(f"png {len(png) / 1e6:.2f} MB, html {len(page.encode()) / 1e6:.2f} MB")
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "map.png").write_bytes(png)
        (args.out / "map.html").write_text(page, encoding="utf-8")


def _peak_rss() -> int:
    """Peak resident set size of this process in bytes (Linux: ru_maxrss is KiB)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


if __name__ == "__main__":
    main()
