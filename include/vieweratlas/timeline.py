"""The timeline: the largest communities over the last N analysed days, and channel histories.

Reads, for each tracked day of the range, the small ``communities`` table and
two columns of ``graph_nodes`` (login, community id). Draws a stream chart
(one band per persistent community, thickness = audience, centred stack; the
rest in one grey band) as ``timeline.png`` (matplotlib) and as inline SVG in
``timeline.html``, a self-contained page with a channel search: ``#q=<login>``
shows which community a channel was in on each day (the map links to it).

Safety as for the map (:mod:`vieweratlas.map_html`): the data travels as JSON
with ``<``, ``>``, ``&`` and non-ASCII escaped, the page's script puts strings on
the page only with ``textContent``, SVG text is HTML-escaped, and the
Content-Security-Policy allows only the page's own script (by hash), no network.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from vieweratlas import lake as keys
from vieweratlas.storage import Lake

TOP = 15  # bands drawn; the rest is one grey band
SVG_W, SVG_H, PAD = 960, 480, 36


@dataclass
class Timeline:
    """Per tracked day of the range: audience per persistent community, channel histories."""

    days: list[str]
    uids: list[str]
    labels: list[str]  # latest label per uid
    colors: np.ndarray  # latest colour index per uid
    audience: np.ndarray  # float64, uids x days
    logins: list[str]
    history: np.ndarray  # int32, logins x days: uid index or -1
    stale: list[str]
    events: pa.Table | None  # the last day's events


def palette() -> tuple[tuple[str, ...], str]:
    """The maps' palette and the colour of communities without one."""
    from vieweratlas.palette import OTHER, PALETTE

    return tuple(PALETTE), OTHER


def read_timeline(lake: Lake, day: str, days: int) -> Timeline:
    """The tracked days among the ``days`` days ending on ``day``."""
    from vieweratlas.history import state

    last = date.fromisoformat(day)
    wanted = [(last - timedelta(days=k)).isoformat() for k in range(days - 1, -1, -1)]
    found, comms, nodes, stale = [], [], [], []
    for d in wanted:
        st = state(lake, d)
        if st is None:
            continue
        found.append(d)
        stale += [d] if st.get("stale") else []
        columns = ["community_uid", "label", "chatters", "color_index"]
        comms.append(lake.read_parquet(keys.analysis_file(d, "communities.parquet"), columns))
        nodes.append(
            lake.read_parquet(
                keys.analysis_file(d, "graph_nodes.parquet"), ["login", "community_uid"]
            )
        )
    if not found:
        raise ValueError(f"no tracked day in the {days} days ending {day}")
    day_of_comm = np.repeat(np.arange(len(found)), [t.num_rows for t in comms])
    every = pa.concat_tables(comms)
    uids, uid_index = np.unique(
        every["community_uid"].to_numpy(zero_copy_only=False), return_inverse=True
    )
    audience = np.zeros((len(uids), len(found)))
    np.add.at(audience, (uid_index, day_of_comm), every["chatters"].to_numpy().astype(np.float64))
    latest = np.zeros(len(uids), np.int64)  # row of each uid's latest appearance
    latest[uid_index] = np.arange(len(uid_index))
    labels = every["label"].take(pa.array(latest)).to_pylist()
    colors = every["color_index"].to_numpy()[latest]

    day_of_node = np.repeat(np.arange(len(found)), [t.num_rows for t in nodes])
    all_nodes = pa.concat_tables(nodes)
    logins, login_index = np.unique(
        all_nodes["login"].to_numpy(zero_copy_only=False), return_inverse=True
    )
    node_uid = np.searchsorted(uids, all_nodes["community_uid"].to_numpy(zero_copy_only=False))
    history = np.full((len(logins), len(found)), -1, np.int32)
    history[login_index, day_of_node] = node_uid
    events_key = keys.analysis_file(found[-1], "events.parquet")
    events = lake.read_parquet(events_key) if lake.exists(events_key) else None
    return Timeline(
        found, uids.tolist(), labels, colors, audience, logins.tolist(), history, stale, events
    )


def bands(t: Timeline, top: int = TOP) -> tuple[list[int], np.ndarray, np.ndarray]:
    """Drawn uids (stack order), and each band's lower and upper edge per day (centred)."""
    peak = t.audience.max(axis=1)
    chosen = np.lexsort((np.arange(len(peak)), -peak))[:top]
    first = (t.audience[chosen] > 0).argmax(axis=1)
    chosen = chosen[np.lexsort((-peak[chosen], first))].tolist()
    rest = np.delete(t.audience, chosen, axis=0).sum(axis=0)
    stack = np.vstack([t.audience[chosen], rest[None, :]])
    upper = np.cumsum(stack, axis=0)
    base = -upper[-1] / 2.0
    return chosen, base + upper - stack, base + upper


def _colour(t: Timeline, uid: int) -> str:
    colours, other = palette()
    k = int(t.colors[uid])
    return colours[k] if 0 <= k < len(colours) else other


def render_png(t: Timeline, title: str) -> bytes:
    """The stream chart as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    chosen, lower, upper = bands(t)
    _, other = palette()
    x = np.arange(len(t.days))
    fig, ax = plt.subplots(figsize=(12, 6), dpi=100)
    try:
        for row, uid in enumerate([*chosen, -1]):
            colour = _colour(t, uid) if uid >= 0 else other
            ax.fill_between(x, lower[row], upper[row], color=colour, lw=0.3, ec="white")
            if uid < 0:
                continue
            thick = upper[row] - lower[row]
            at = int(thick.argmax())
            if thick[at] > 0.04 * upper[-1].max():
                mid = (upper[row][at] + lower[row][at]) / 2
                align = "left" if at == 0 else "right" if at == len(x) - 1 else "center"
                ax.text(x[at], mid, t.labels[uid][:40], ha=align, va="center", fontsize=8)
        step = max(1, len(x) // 10)
        ax.set_xticks(x[::step], [d[5:] for d in t.days[::step]])
        ax.set_yticks([])
        ax.set_xlim(-0.2, max(len(x) - 1, 0) + 0.2)
        ax.set_title(title, fontsize=12)
        ax.set_xlabel("day (UTC); band thickness = unique chatters; grey = other communities")
        for side in ("left", "right", "top"):
            ax.spines[side].set_visible(False)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", bbox_inches="tight")
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _svg(t: Timeline) -> str:
    """The stream chart as inline SVG (every label escaped)."""
    chosen, lower, upper = bands(t)
    _, other = palette()
    n = len(t.days)
    span = max(float(upper[-1].max() - lower[0].min()), 1.0)
    low = float(lower[0].min())

    def px(k: int) -> float:
        return PAD + (SVG_W - 2 * PAD) * (k / max(n - 1, 1))

    def py(v: float) -> float:
        return PAD + (SVG_H - 2 * PAD) * (1 - (v - low) / span)

    parts = [f'<svg id="chart" viewBox="0 0 {SVG_W} {SVG_H}" role="img" aria-label="Timeline">']
    for row, uid in enumerate([*chosen, -1]):
        top_pts = [f"{px(k):.1f},{py(upper[row][k]):.1f}" for k in range(n)]
        bottom = [f"{px(k):.1f},{py(lower[row][k]):.1f}" for k in range(n - 1, -1, -1)]
        if n == 1:  # a single day: a bar, not a line
            top_pts = [
                f"{PAD:.1f},{py(upper[row][0]):.1f}",
                f"{SVG_W - PAD:.1f},{py(upper[row][0]):.1f}",
            ]
            bottom = [
                f"{SVG_W - PAD:.1f},{py(lower[row][0]):.1f}",
                f"{PAD:.1f},{py(lower[row][0]):.1f}",
            ]
        colour = _colour(t, uid) if uid >= 0 else other
        name = (
            f"{t.labels[uid]} ({t.uids[uid]}), latest {int(t.audience[uid, -1]):,} chatters"
            if uid >= 0
            else "other communities"
        )
        parts.append(
            f'<path d="M{" L".join(top_pts + bottom)} Z" fill="{colour}" stroke="#fff" '
            f'stroke-width="0.5"><title>{html.escape(name)}</title></path>'
        )
        if uid >= 0:
            thick = upper[row] - lower[row]
            at = int(thick.argmax())
            if thick[at] > 0.04 * span:
                mid = py((upper[row][at] + lower[row][at]) / 2)
                x = min(max(px(at), PAD + 60), SVG_W - PAD - 60)
                parts.append(
                    f'<text x="{x:.1f}" y="{mid:.1f}" text-anchor="middle" '
                    f'dominant-baseline="middle">{html.escape(t.labels[uid][:40])}</text>'
                )
    step = max(1, n // 10)
    for k in range(0, n, step):
        parts.append(
            f'<text class="day" x="{px(k):.1f}" y="{SVG_H - 8}" text-anchor="middle">'
            f"{html.escape(t.days[k][5:])}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
*{box-sizing:border-box}
body{margin:0;font:14px system-ui,sans-serif;color:#111;background:#fff}
header{display:flex;gap:12px;align-items:center;padding:6px 12px;border-bottom:1px solid #ddd}
h1{font-size:18px;margin:0}
header a{margin-left:auto}
main{display:grid;grid-template-columns:minmax(0,1fr) 340px;gap:12px;padding:12px}
#chart{width:100%;height:auto}#chart text{font-size:11px;pointer-events:none}
#chart text.day{fill:#555}
aside h2,section h2{font-size:15px;margin:8px 0}
#search{width:100%;padding:5px 8px;font:inherit}
#results{list-style:none;margin:2px 0;padding:0}
#results button{all:unset;cursor:pointer;display:block;padding:3px 6px}
#results button:hover{background:#eef}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{text-align:left;padding:2px 6px;border-bottom:1px solid #eee;vertical-align:top}
.swatch{display:inline-block;width:10px;height:10px;border-radius:50%;margin-right:5px}
small{color:#666}.stale{color:#a40}
"""

EVENT_WORDS = {
    "birth": "new community",
    "death": "ended",
    "merge": "merged",
    "split": "split",
    "grow": "grew",
    "shrink": "shrank",
}


def _events_html(t: Timeline) -> str:
    """The last day's community events as an escaped HTML table (moves are counted)."""
    if t.events is None or t.events.num_rows == 0:
        return "<p><small>No community events on this day.</small></p>"
    moves = int(pc.sum(pc.equal(t.events["event"], "move")).as_py() or 0)
    rows = []
    for e in t.events.filter(pc.not_equal(t.events["event"], "move")).to_pylist():
        change = f" ({e['change']:+.0%})" if e.get("change") is not None else ""
        involved = " + ".join(e["from_uids"] or []) + " → " + " + ".join(e["to_uids"] or [])
        rows.append(
            f"<tr><td>{html.escape(EVENT_WORDS.get(e['event'], e['event']))}</td>"
            f'<td dir="auto">{html.escape(e["label"] or "")}{html.escape(change)}</td>'
            f"<td><small>{html.escape(involved)}</small></td></tr>"
        )
    return (
        "<table><tr><th>event</th><th>community</th><th>ids</th></tr>"
        + "".join(rows)
        + f"</table><p><small>{moves:,} channels moved between continuing communities "
        "(events.csv lists them).</small></p>"
    )


def render_html(t: Timeline, title: str) -> str:
    """The timeline page: stream chart, the day's events, channel history search."""
    from vieweratlas.map_html import script_json

    script = _script()
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = f"default-src 'none'; script-src 'sha256-{digest}'; style-src 'unsafe-inline'"
    data = {
        "days": t.days,
        "uids": t.uids,
        "labels": t.labels,
        "colors": [_colour(t, k) for k in range(len(t.uids))],
        "logins": t.logins,
        "history": t.history.T.tolist(),  # per day: uid index per login
    }
    stale = (
        f'<p class="stale">Stale (an earlier day was re-analysed; re-run to refresh): '
        f"{html.escape(', '.join(t.stale))}</p>"
        if t.stale
        else ""
    )
    heading = html.escape(title, quote=True)
    return "".join(
        [
            '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
            f'<meta http-equiv="Content-Security-Policy" content="{csp}">\n',
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
            f"<title>{heading}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n",
            f'<header><h1 dir="auto">{heading}</h1><a href="map.html">Map</a></header>\n',
            "<main><section>",
            _svg(t),
            f"<p><small>{len(t.days)} analysed days, {html.escape(t.days[0])} to "
            f"{html.escape(t.days[-1])}. Band thickness = unique chatters; the "
            f"{TOP} communities with the largest peak are coloured, the rest is grey.</small></p>",
            stale,
            f"<h2>Changes on {html.escape(t.days[-1])}</h2>",
            _events_html(t),
            "</section>\n<aside><h2>Channel history</h2>",
            '<input id="search" type="search" autocomplete="off" placeholder="Channel login" ',
            'aria-label="Channel login"><ol id="results"></ol>',
            '<table id="history"></table></aside></main>\n',
            '<script type="application/json" id="timeline-data">',
            script_json(data),
            "</script>\n<script>",
            script,
            "</script>\n</body>\n</html>\n",
        ]
    )


@functools.cache
def _script() -> str:
    """The page's script (``timeline_html.js``), checked to contain no closing tag."""
    script = Path(__file__).with_name("timeline_html.js").read_text(encoding="utf-8")
    if "</script" in script.lower() or "<!--" in script:
        raise ValueError("timeline_html.js must not contain '</script' or '<!--'")
    return script


def write_timeline(lake: Lake, day: str, days: int) -> None:
    """Render and write ``timeline.png`` and ``timeline.html`` for ``day``."""
    t = read_timeline(lake, day, days)
    title = f"Twitch communities over time, {t.days[0]} to {t.days[-1]}"
    lake.write_bytes(keys.analysis_file(day, "timeline.png"), render_png(t, title))
    html_text = render_html(t, title)
    lake.write_bytes(keys.analysis_file(day, "timeline.html"), html_text.encode("utf-8"))
