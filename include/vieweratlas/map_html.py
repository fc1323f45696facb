"""Interactive community map: one self-contained HTML page (canvas, no libraries, offline).

The page shows every community of 3+ channels in a scrollable legend, names
the biggest channels at every zoom through a label grid (no two labels
overlap), and opens a side panel with a channel's ranked neighbours (from the
``channel_neighbors`` table when given, else its backbone edges) when it is
clicked or searched. Light and dark themes (system preference, or the toggle);
under 500 px the legend and panel become a bottom drawer. To stay under 1 MB at
5,000 channels, positions are integers, repeated strings are indexed, and the
drawn edges are each channel's strongest few neighbours.

pyvis was not used: its template loads Bootstrap from a CDN even with
``cdn_resources="in_line"`` (so the page needs the network), its ``add_edge`` is
quadratic in the edge count, and vis-network runs physics we do not want. This page
draws preset layout positions on a 2D canvas with pan/zoom, search, tooltips and a
legend (``map_html.js``).

Safety: the graph travels as JSON in two ``<script type="application/json">`` blocks
(the first frame's data before the page's script, the ranked neighbour lists after it)
with ``<``, ``>``, ``&`` and every non-ASCII character escaped, so no Twitch string
can close a block; the page's script puts strings on the page only through
``textContent``; the title is HTML-escaped; a Content-Security-Policy allows only
the page's own script (by hash), so injected markup could not run code anyway.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
from pathlib import Path

import numpy as np
import pyarrow as pa

from vieweratlas.layout import unconnected
from vieweratlas.map_png import audience_text, check_inputs, label_lines
from vieweratlas.palette import (
    DARK_BACKGROUND,
    LIGHT_BACKGROUND,
    OTHER,
    PALETTE,
    centroids,
    colour_index,
    node_colours,
)

GRID = 10_000  # positions travel as integers in [-GRID, GRID]
PANEL_NEIGHBORS = 20  # neighbours per channel in the page (fewer past SMALL_PAGE channels)
SMALL_PAGE = 2_500
DRAWN_EDGES = 3  # each channel's strongest neighbours drawn as edges
UNCONNECTED_LISTED = 300
#: The page's script element. A ``<link rel="expect" blocking="render">`` in the head
#: holds the browser's first paint until this element is parsed: without it the parser
#: yields after the large data block and the browser lays out and paints the bare
#: header first (a frame nobody needs, ~20-40 ms before the script can start).
SCRIPT_ID = "map-script"
#: The ranked neighbour lists travel in a second JSON block after the script (the
#: panel's data, ~55 % of the page): the parser reaches the script without reading
#: them, and the page parses them at first use. The first frame's edges (each
#: channel's first DRAWN_EDGES neighbours) travel in the first block.
NEIGHBORS_AFTER = "neighbor-data"

_STYLE = """
:root{--bg:#fff;--fg:#111;--muted:#666;--line:#ddd;--hover:#eef;--panel:#fff;--halo:#ffffffe6}
@media (prefers-color-scheme:dark){:root:not([data-theme=light]){--bg:#15151a;--fg:#eee;
  --muted:#aaa;--line:#333;--hover:#2a2a38;--panel:#1d1d24;--halo:#15151ae6}}
:root[data-theme=dark]{--bg:#15151a;--fg:#eee;--muted:#aaa;--line:#333;--hover:#2a2a38;
  --panel:#1d1d24;--halo:#15151ae6}
*{box-sizing:border-box}
html,body{margin:0;height:100%;font:14px system-ui,sans-serif;color:var(--fg);background:var(--bg)}
body{display:grid;grid-template:auto 1fr/1fr 320px;height:100vh;height:100dvh}
header{grid-column:1/3;display:flex;gap:8px;align-items:center;padding:6px 10px;
  border-bottom:1px solid var(--line);min-width:0}
h1{font-size:17px;margin:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;min-width:0}
button{font:inherit;color:inherit;background:var(--panel);border:1px solid var(--line);
  border-radius:4px;padding:4px 8px;cursor:pointer}
#find{position:relative;margin-left:auto;flex:0 1 280px;min-width:120px}
#search{width:100%;padding:5px 8px;font:inherit;color:inherit;background:var(--panel);
  border:1px solid var(--line)}
#results{position:absolute;right:0;z-index:5;list-style:none;margin:2px 0;padding:0;
  width:min(320px,90vw);background:var(--panel);box-shadow:0 2px 8px #0005}
.item{all:unset;display:block;width:100%;padding:4px 8px;cursor:pointer;overflow:hidden;
  text-overflow:ellipsis;white-space:nowrap;box-sizing:border-box}
.item:hover,.item:focus{background:var(--hover)}
main{position:relative;overflow:hidden;min-width:0}
#map{width:100%;height:100%;display:block;cursor:grab;touch-action:none}
#side{overflow:auto;border-left:1px solid var(--line);padding:8px;background:var(--bg)}
#side h2{font-size:15px;margin:6px 8px}
#side ol{list-style:none;margin:0;padding:0}
#legend-list>li,#unconnected-list>li{content-visibility:auto;contain-intrinsic-size:auto 38px}
#panel[hidden],#legend[hidden]{display:none}
#panel .item{white-space:normal}
#panel .stats{margin:2px 8px 8px;color:var(--muted)}
.swatch{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px}
#tip{position:absolute;z-index:2;max-width:300px;padding:6px 9px;background:var(--panel);
  border:1px solid var(--line);border-radius:4px;pointer-events:none;font-size:13px}
#tip dl{display:grid;grid-template-columns:auto 1fr;gap:1px 8px;margin:0}
#tip dt{color:var(--muted)}#tip dd{margin:0;overflow-wrap:anywhere}
small{color:var(--muted)}
.sub{display:block;padding-left:17px;text-overflow:ellipsis;overflow:hidden}
#drawer-toggle{display:none}
@media (max-width:500px){
  body{grid-template:auto 1fr/1fr}
  header{grid-column:1;flex-wrap:wrap}
  h1{flex:1 1 100%;font-size:15px}
  #find{flex:1 1 auto;margin-left:0}
  #drawer-toggle{display:inline-block}
  #side{position:fixed;left:0;right:0;bottom:0;max-height:55vh;z-index:4;border-left:0;
    border-top:1px solid var(--line);box-shadow:0 -2px 10px #0005;transform:translateY(100%);
    transition:transform .2s}
  body.drawer #side{transform:none}
}
"""


def render_html(
    nodes: pa.Table,
    edges: pa.Table,
    positions: np.ndarray,
    communities: pa.Table,
    title: str,
    neighbors: pa.Table | None = None,
) -> str:
    """The interactive map as one HTML document (UTF-8, no external resources).

    ``neighbors``: the ``channel_neighbors`` table (channel_id, rank, neighbor_id,
    shared); without it each channel's backbone edges, strongest first.
    """
    script = _script()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'"
    heading = html.escape(title or "ViewerAtlas", quote=True)
    data, ranked = _graph_data(nodes, edges, positions, communities, neighbors)
    return "".join(
        [
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            '<meta name="color-scheme" content="light dark">\n',
            # No paint before the page's script has drawn the map (see SCRIPT_ID).
            f'<link rel="expect" href="#{SCRIPT_ID}" blocking="render">\n',
            f"<title>{heading}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
            f'<header><h1 dir="auto">{heading}</h1>',
            '<a href="timeline.html" title="Communities over time; channel history">Timeline</a>',
            '<div id="find"><input id="search" type="search" autocomplete="off" ',
            'placeholder="Find a channel" aria-label="Find a channel (login or name)">',
            '<ol id="results"></ol></div>',
            '<button id="reset" type="button" title="Reset view">Reset</button>',
            '<button id="theme" type="button" title="Light or dark">◐</button>',
            '<button id="drawer-toggle" type="button" aria-controls="side">Legend</button>',
            "</header>\n",
            '<main><canvas id="map" aria-label="Community map"></canvas>',
            '<div id="tip" role="tooltip" hidden></div></main>\n',
            '<aside id="side"><section id="panel" hidden aria-live="polite">',
            '<h2 id="panel-title"></h2><p class="stats" id="panel-stats"></p>',
            "<h2>Their chatters also chat in</h2>",
            '<ol id="panel-list"></ol><button id="panel-close" type="button">Close</button>',
            "</section>",
            '<section id="legend"><h2>Communities</h2><ol id="legend-list"></ol>',
            '<details id="unconnected"><summary></summary><ol id="unconnected-list"></ol>',
            "</details>",
            "<p><small>Drag to pan, scroll or pinch to zoom, click a channel or a community.",
            "</small></p></section></aside>\n",
            '<script type="application/json" id="graph-data">',
            script_json(data),
            f'</script>\n<script id="{SCRIPT_ID}">',
            script,
            f'</script>\n<script type="application/json" id="{NEIGHBORS_AFTER}">',
            script_json(ranked),
            "</script>\n</body>\n</html>\n",
        ]
    )


def script_json(data: object) -> str:
    """JSON that is safe inside a <script> element: no '<', '>', '&' or non-ASCII."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


@functools.cache
def _script() -> str:
    """The page's script (``map_html.js``), checked to contain no closing tag."""
    script = Path(__file__).with_name("map_html.js").read_text(encoding="utf-8")
    if "</script" in script.lower() or "<!--" in script:
        raise ValueError("map_html.js must not contain '</script' or '<!--'")
    return script


def _indexed(values: list) -> tuple[list, list[int]]:
    """Distinct values (None first) and each value's index: repeated strings sent once."""
    table: dict = {None: 0}
    index = [table.setdefault(v, len(table)) for v in values]
    return list(table), index


def neighbor_lists(
    nodes: pa.Table, edges: pa.Table, neighbors: pa.Table | None, per_channel: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of each channel's ranked neighbours: (start, neighbour row, shared)."""
    n = nodes.num_rows
    if neighbors is not None and neighbors.num_rows:
        ids = nodes["channel_id"].to_numpy(zero_copy_only=False).astype(np.int64)
        order = np.argsort(ids, kind="stable")

        def rows_of(values: np.ndarray) -> np.ndarray:
            at = np.clip(np.searchsorted(ids[order], values), 0, max(n - 1, 0))
            return np.where(ids[order][at] == values, order[at], -1)

        a = rows_of(neighbors["channel_id"].to_numpy(zero_copy_only=False).astype(np.int64))
        b = rows_of(neighbors["neighbor_id"].to_numpy(zero_copy_only=False).astype(np.int64))
        shared = neighbors["shared"].to_numpy(zero_copy_only=False).astype(np.float64)
        rank = neighbors["rank"].to_numpy(zero_copy_only=False).astype(np.float64)
        ok = (a >= 0) & (b >= 0)
        a, b, shared, key = a[ok], b[ok], shared[ok], rank[ok]
    else:
        src = edges["src"].to_numpy(zero_copy_only=False).astype(np.int64)
        dst = edges["dst"].to_numpy(zero_copy_only=False).astype(np.int64)
        w = edges["weight"].to_numpy(zero_copy_only=False).astype(np.float64)
        a, b, shared = np.r_[src, dst], np.r_[dst, src], np.r_[w, w]
        key = -shared
    order = np.lexsort((b, key, a))
    a, b, shared = a[order], b[order], shared[order]
    first = np.searchsorted(a, a)
    keep = (np.arange(len(a)) - first) < per_channel
    a, b, shared = a[keep], b[keep], shared[keep]
    start = np.r_[0, np.cumsum(np.bincount(a, minlength=n))]
    return start, b, shared


def _graph_data(
    nodes: pa.Table,
    edges: pa.Table,
    positions: np.ndarray,
    communities: pa.Table,
    neighbors: pa.Table | None,
) -> tuple[dict, dict]:
    """Column-oriented plain data for the page (integers and indexed strings, compact):
    what the first frame needs, and the ranked neighbour lists (``NEIGHBORS_AFTER``)."""
    community = check_inputs(nodes, positions)
    n = nodes.num_rows
    chatters = nodes["chatters"].to_numpy(zero_copy_only=False).astype(np.int64)
    pos = np.nan_to_num(np.asarray(positions, dtype=np.float64))
    grid = np.rint(np.clip(pos, -1, 1) * GRID).astype(np.int64)
    ids, index = colour_index(communities)
    rows = {r["community"]: r for r in communities.to_pylist()}
    centre = centroids(community, pos, ids)
    present = np.isfinite(centre).all(axis=1)
    names = nodes["display_name"].to_pylist()
    logins = nodes["login"].to_pylist()
    games, game_index = _indexed(nodes["game"].to_pylist())
    langs, lang_index = _indexed(nodes["language"].to_pylist())
    per_channel = PANEL_NEIGHBORS if n <= SMALL_PAGE else PANEL_NEIGHBORS // 2
    start, nb, shared = neighbor_lists(nodes, edges, neighbors, per_channel)
    row = np.repeat(np.arange(n), np.diff(start))
    rank = np.arange(len(nb)) - start[row]
    drawn = np.full((n, DRAWN_EDGES), -1, dtype=np.int64)
    first = rank < DRAWN_EDGES
    drawn[row[first], rank[first]] = nb[first]
    lonely = np.flatnonzero(unconnected(nodes, edges))
    lonely = lonely[np.argsort(-chatters[lonely], kind="stable")]
    has_audience = "audience" in communities.column_names
    return {
        "palette": list(PALETTE),
        "other": OTHER,
        "background": [LIGHT_BACKGROUND, DARK_BACKGROUND],
        "grid": GRID,
        "nodes": {
            "x": grid[:, 0].tolist(),
            "y": grid[:, 1].tolist(),
            "size": np.rint(1000 * np.sqrt(chatters / max(chatters.max(initial=0), 1)))
            .astype(np.int64)
            .tolist(),
            "c": node_colours(community, communities).tolist(),
            "community": community.tolist(),
            "login": logins,
            "name": [None if a == b else a for a, b in zip(names, logins, strict=True)],
            "chatters": chatters.tolist(),
            "game": game_index,
            "language": lang_index,
        },
        "games": games,
        "languages": langs,
        "drawn": {"per": DRAWN_EDGES, "id": drawn.ravel().tolist()},
        "communities": {
            "id": communities["community"].to_pylist(),
            "label": communities["label"].to_pylist(),
            "channels": communities["channels"].to_pylist(),
            "audience": [audience_text(r) for r in communities.to_pylist()],
        },
        "audience_kind": "distinct" if has_audience else "sum",
        "legend": ids.tolist(),
        "legend_colour": index.tolist(),
        "labels": {
            "x": np.rint(centre[present, 0] * GRID).astype(np.int64).tolist(),
            "y": np.rint(centre[present, 1] * GRID).astype(np.int64).tolist(),
            "name": [label_lines(rows[c]["label"])[0] for c in ids[present].tolist()],
            "top": [label_lines(rows[c]["label"])[1] for c in ids[present].tolist()],
            "id": ids[present].tolist(),
        },
        "unconnected": {
            "count": len(lonely),
            "rows": lonely.tolist(),  # all (the ring stays unlabelled); the legend lists the first
            "listed": UNCONNECTED_LISTED,
        },
    }, {
        "start": start.astype(np.int64).tolist(),
        "rest": nb[~first].astype(np.int64).tolist(),  # after each list's drawn entries
        "shared": np.rint(shared).astype(np.int64).tolist(),
    }
