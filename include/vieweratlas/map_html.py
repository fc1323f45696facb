"""Interactive community map: one self-contained HTML page (canvas, no libraries, offline).

pyvis was not used: its template loads Bootstrap from a CDN even with
``cdn_resources="in_line"`` (so the page needs the network), its ``add_edge`` is
quadratic in the edge count, and vis-network runs physics we do not want. This page
draws preset layout positions on a 2D canvas with pan/zoom, search, tooltips and a
legend (``map_html.js``).

Safety: the graph travels as JSON in a ``<script type="application/json">`` block
with ``<``, ``>``, ``&`` and every non-ASCII character escaped, so no Twitch string
can close the block; the page's script puts strings on the page only through
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

from vieweratlas.map_png import OTHER, PALETTE, check_inputs

_STYLE = """
*{box-sizing:border-box}
html,body{margin:0;height:100%;font:14px system-ui,sans-serif;color:#111;background:#fff}
body{display:grid;grid-template:auto 1fr/1fr 300px;height:100vh}
header{grid-column:1/3;display:flex;gap:12px;align-items:center;padding:6px 12px;
  border-bottom:1px solid #ddd}
h1{font-size:18px;margin:0;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#find{position:relative;margin-left:auto}
#search{width:280px;padding:5px 8px;font:inherit}
#results{position:absolute;right:0;z-index:3;list-style:none;margin:2px 0;padding:0;
  width:320px;background:#fff;box-shadow:0 2px 8px #0003}
#results button,#legend button{all:unset;display:block;width:100%;padding:4px 8px;
  cursor:pointer;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
#results button:hover,#legend button:hover{background:#eef}
main{position:relative;overflow:hidden}
#map{width:100%;height:100%;display:block;cursor:grab;touch-action:none}
#legend{overflow:auto;border-left:1px solid #ddd;padding:8px}
#legend h2{font-size:15px;margin:4px 8px}
#legend ol{list-style:none;margin:0;padding:0}
.swatch{display:inline-block;width:11px;height:11px;border-radius:50%;margin-right:6px}
#tip{position:absolute;z-index:2;max-width:340px;padding:6px 9px;background:#fffffff0;
  border:1px solid #bbb;border-radius:4px;pointer-events:none;font-size:13px}
#tip dl{display:grid;grid-template-columns:auto 1fr;gap:1px 8px;margin:0}
#tip dt{color:#666}#tip dd{margin:0;overflow-wrap:anywhere}
small{color:#666}
"""


def render_html(
    nodes: pa.Table,
    edges: pa.Table,
    positions: np.ndarray,
    communities: pa.Table,
    title: str,
) -> str:
    """The interactive map as one HTML document (UTF-8, no external resources)."""
    script = _script()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'"
    heading = html.escape(title or "ViewerAtlas", quote=True)
    return "".join(
        [
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{heading}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
            f'<header><h1 dir="auto">{heading}</h1>',
            '<button id="reset" type="button">Reset view</button>',
            '<a href="timeline.html" title="Communities over time; channel history">Timeline</a>',
            '<div id="find"><input id="search" type="search" autocomplete="off" ',
            'placeholder="Find a channel (login or name)" aria-label="Find a channel">',
            '<ol id="results"></ol></div></header>\n',
            '<main><canvas id="map" aria-label="Community map"></canvas>',
            '<div id="tip" role="tooltip" hidden></div></main>\n',
            '<aside id="legend"><h2>Largest communities</h2><ol id="legend-list"></ol>',
            "<p><small>Drag to pan, scroll to zoom, click a channel or a community.</small>",
            "</p></aside>\n",
            '<script type="application/json" id="graph-data">',
            script_json(_graph_data(nodes, edges, positions, communities)),
            "</script>\n<script>",
            script,
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


def _graph_data(
    nodes: pa.Table, edges: pa.Table, positions: np.ndarray, communities: pa.Table
) -> dict:
    """Column-oriented plain data for the page (numbers rounded to keep it small)."""
    community = check_inputs(nodes, positions)
    chatters = nodes["chatters"].to_numpy(zero_copy_only=False).astype(np.int64)
    pos = np.round(np.nan_to_num(np.asarray(positions, dtype=np.float64)), 5)
    ranked = communities.sort_by([("channels", "descending"), ("community", "ascending")])
    legend = ranked["community"].to_numpy(zero_copy_only=False)[: len(PALETTE)].astype(np.int64)
    colour = np.full(max(community.max(initial=0), legend.max(initial=0)) + 1, -1)
    colour[legend] = np.arange(len(legend))
    edge_pairs = np.c_[
        edges["src"].to_numpy(zero_copy_only=False), edges["dst"].to_numpy(zero_copy_only=False)
    ]
    count = np.bincount(community, minlength=len(colour))
    sums = [np.bincount(community, weights=pos[:, k], minlength=len(colour)) for k in (0, 1)]
    centre = np.c_[sums[0], sums[1]][legend] / np.maximum(count[legend], 1)[:, None]
    labels = ranked["label"].to_pylist()[: len(legend)]
    present = count[legend] > 0
    return {
        "palette": list(PALETTE),
        "other": OTHER,
        "nodes": {
            "x": pos[:, 0].tolist(),
            "y": pos[:, 1].tolist(),
            "size": np.round(np.sqrt(chatters / max(chatters.max(initial=0), 1)), 3).tolist(),
            "c": colour[community].tolist(),
            "community": community.tolist(),
            "login": nodes["login"].to_pylist(),
            "name": nodes["display_name"].to_pylist(),
            "chatters": chatters.tolist(),
            "game": nodes["game"].to_pylist(),
            "language": nodes["language"].to_pylist(),
        },
        "edges": edge_pairs.astype(np.int64).ravel().tolist(),
        "communities": {
            "id": communities["community"].to_pylist(),
            "label": communities["label"].to_pylist(),
            "channels": communities["channels"].to_pylist(),
        },
        "legend": legend.tolist(),
        "labels": {
            "x": np.round(centre[present, 0], 5).tolist(),
            "y": np.round(centre[present, 1], 5).tolist(),
            "text": [t for t, keep in zip(labels, present, strict=True) if keep],
        },
    }
