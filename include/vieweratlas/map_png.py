"""Static community map: a PNG drawn with matplotlib's Agg canvas (no pyplot state).

Channels are dots sized by chatters and coloured by community (``palette``: every
community of 3+ channels has a colour, leftovers are grey); edges are a faint
additive layer rasterised with numpy (a LineCollection of 50,000 edges costs
seconds in Agg). Community labels (name and top channels) sit at centroids, then
the biggest channels' names, sized by audience; a label that would overlap one
already drawn is moved or left out (boxes measured by the Agg renderer). Every string
from Twitch is drawn as plain text (no mathtext) after control and bidi-override
characters are stripped; fonts fall back across the CJK/emoji fonts installed.
"""

from __future__ import annotations

import io
import unicodedata
import warnings

import numpy as np
import pyarrow as pa
from matplotlib import font_manager, patheffects, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image

from vieweratlas.palette import OTHER, PALETTE, centroids, colour_index, node_colours, rgba

FONTS = (
    "DejaVu Sans",  # Latin, Cyrillic, Greek, Arabic, Hebrew
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Noto Sans CJK KR",
    "WenQuanYi Zen Hei",
    "Droid Sans Fallback",
    "Noto Sans Thai",
    "Noto Emoji",
    "Symbola",
)
MAP_IN, LEGEND_IN, DPI = 15.5, 4.0, 120  # map square plus a legend column: 2340 x 1920 px
MAX_EDGE_SAMPLES = 1_500_000  # edge pixels drawn (half the map's resolution)
LIMIT = 1.06  # axes range; the layout is in [-1, 1]
NAMED_CHANNELS = 50  # channel names tried (biggest first); overlapping ones are left out
LABELLED_COMMUNITIES = 30  # community labels tried on the map (largest first)
LEGEND_ROWS = 30
MAX_COMMUNITY_ID = 10_000_000  # ids index lookup arrays; the analysis numbers them 0..C-1
HALO_PT = 3.0  # white stroke behind every map label
GAP_PX = 2.5  # kept free around every label's halo


def render_png(
    nodes: pa.Table,
    edges: pa.Table,
    positions: np.ndarray,
    communities: pa.Table,
    title: str,
) -> bytes:
    """The static map as PNG bytes (2340 x 1920 px: the map, then a legend column)."""
    community = check_inputs(nodes, positions)
    colour_of = node_colours(community, communities)
    dot_rgba = _to_rgba(colour_of)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        with rc_context(text_style()):
            fig = draw_map(nodes, positions, communities, title)
            fig.canvas.draw()
            drawn = Image.fromarray(np.asarray(fig.canvas.buffer_rgba()))  # type: ignore[attr-defined]  # Agg canvas
    # Edges go underneath everything: composited in PIL, as imshow costs ~0.4 s more.
    side = round(MAP_IN * DPI)
    layer = _edge_layer(edges, positions, community, dot_rgba, px=side // 2)
    page = Image.new("RGBA", drawn.size, "#FFFFFF")
    if layer is not None:
        edges_img = Image.fromarray(layer[::-1]).resize((side, side), Image.Resampling.BILINEAR)
        page.alpha_composite(edges_img, dest=(0, drawn.size[1] - side))
    page.alpha_composite(drawn)
    buf = io.BytesIO()  # RGB at zlib level 1: a third of matplotlib's default save time
    page.convert("RGB").save(buf, format="png", compress_level=1)
    return buf.getvalue()


def draw_map(nodes: pa.Table, positions: np.ndarray, communities: pa.Table, title: str) -> Figure:
    """The map's matplotlib figure without edges: dots, labels (no overlaps), legend, title."""
    community = check_inputs(nodes, positions)
    chatters = nodes["chatters"].to_numpy(zero_copy_only=False).astype(np.float64)
    colour_of = node_colours(community, communities)
    width, height = MAP_IN + LEGEND_IN, MAP_IN + 0.5
    fig = Figure(figsize=(width, height), dpi=DPI, facecolor="none")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0, 0, MAP_IN / width, MAP_IN / height))
    ax.set_axis_off()
    ax.set_xlim(-LIMIT, LIMIT)
    ax.set_ylim(-LIMIT, LIMIT)
    size = 3 + 160 * np.sqrt(chatters / max(chatters.max(initial=0), 1))
    order = np.argsort(-size, kind="stable")  # big dots first, small ones stay visible
    ax.scatter(
        positions[order, 0],
        positions[order, 1],
        s=size[order],
        c=_to_rgba(colour_of)[order],
        linewidths=0.25,
        edgecolors="#FFFFFF",
        zorder=2,
    )
    placed: list = []
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]  # Agg canvas
    _label_communities(ax, renderer, placed, communities, community, positions)
    _name_channels(ax, renderer, placed, nodes, positions, chatters)
    _legend(fig, (MAP_IN / width, MAP_IN / height), communities, colour_of)
    fig.suptitle(
        clean_text(title, 120), x=MAP_IN / width / 2, y=0.99, fontsize=20, parse_math=False
    )
    return fig


def check_inputs(nodes: pa.Table, positions: np.ndarray) -> np.ndarray:
    """Community id per node (int64), after checking positions and ids fit the maps."""
    if np.shape(positions) != (nodes.num_rows, 2):
        raise ValueError(f"positions {np.shape(positions)} do not match {nodes.num_rows} nodes")
    community = nodes["community"].to_numpy(zero_copy_only=False).astype(np.int64)
    if community.min(initial=0) < 0 or community.max(initial=0) > MAX_COMMUNITY_ID:
        raise ValueError(f"community ids must be dense, in 0..{MAX_COMMUNITY_ID}")
    return community


def available_fonts() -> list[str]:
    """The fallback chain of ``FONTS`` that is installed (DejaVu Sans always is)."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in FONTS if name in installed] or ["DejaVu Sans"]


def text_style() -> dict:
    """Matplotlib settings the map is drawn (and its labels measured) with. Unhinted
    glyphs look the same at this size and make text drawing ~35 % cheaper than autohint."""
    return {"font.family": available_fonts(), "svg.fonttype": "none", "text.hinting": "none"}


def clean_text(text: str | None, limit: int = 40) -> str:
    """Printable text: control and format characters (bidi overrides, ZW*) removed, shortened."""
    kept = "".join(ch for ch in text or "" if unicodedata.category(ch) not in ("Cc", "Cf"))
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def _to_rgba(colour_of: np.ndarray) -> np.ndarray:
    """(n, 4) RGBA floats for palette indices (-1 = grey)."""
    table = np.array([rgba(c) for c in (*PALETTE, OTHER)])
    return table[np.where(colour_of < 0, len(PALETTE), colour_of)]


def _edge_layer(edges: pa.Table, positions: np.ndarray, community, rgba, px: int):
    """Faint edges as one (px, px, 4) uint8 image, row 0 at the bottom, or None if no edges.

    Colour is the community's inside a community and grey between; overlaps add up.
    Edges are sampled once per pixel of a ``px``-wide grid and summed with
    ``np.bincount`` (Agg needs seconds to stroke 50,000 long antialiased lines).
    Past ``MAX_EDGE_SAMPLES`` pixels, the weakest edges between communities go first.
    """
    src = edges["src"].to_numpy(zero_copy_only=False).astype(np.int64)
    dst = edges["dst"].to_numpy(zero_copy_only=False).astype(np.int64)
    to_px = (px - 1) / (2 * LIMIT)
    p0 = ((positions[src] + LIMIT) * to_px).astype(np.float32)
    d = ((positions[dst] + LIMIT) * to_px).astype(np.float32) - p0
    count = np.maximum(np.ceil(np.sqrt((d**2).sum(axis=1))), 1).astype(np.int64)
    inside = community[src] == community[dst]
    score = edges["score"].to_numpy(zero_copy_only=False)
    order = np.lexsort((-score, ~inside))  # inside first, then by score
    keep = order[np.cumsum(count[order]) <= MAX_EDGE_SAMPLES]
    if len(keep) == 0:
        return None
    p0, d, count, inside = p0[keep], d[keep], count[keep], inside[keep]
    colour = np.where(inside[:, None], rgba[src[keep], :3], 0.55)
    weight = np.where(inside, 1.0, 0.6)
    edge = np.repeat(np.arange(len(keep)), count)
    t = np.arange(len(edge), dtype=np.float32) - np.repeat(np.cumsum(count) - count, count)
    t = (t + 0.5) / np.repeat(count, count)
    x = np.clip(np.rint(p0[edge, 0] + d[edge, 0] * t), 0, px - 1).astype(np.int64)
    y = np.clip(np.rint(p0[edge, 1] + d[edge, 1] * t), 0, px - 1).astype(np.int64)
    flat = y * px + x
    total = np.bincount(flat, weights=weight[edge], minlength=px * px)
    image = np.empty((px * px, 4), dtype=np.float64)
    for channel in range(3):
        image[:, channel] = np.bincount(
            flat, weights=(weight * colour[:, channel])[edge], minlength=px * px
        )
    image[:, :3] /= np.maximum(total, 1e-12)[:, None]
    image[:, 3] = 0.7 * (1.0 - np.exp(-0.3 * total))
    return (image * 255).astype(np.uint8).reshape(px, px, 4)


def label_box(text, renderer):
    """The box a map label reserves (display pixels): its text extent, halo and gap."""
    return text.get_window_extent(renderer).padded(HALO_PT / 2 * DPI / 72 + GAP_PX)


def _place(text, renderer, placed: list, offsets, align) -> bool:
    """Moves ``text`` to the first offset (points) whose box is free and inside the map
    (never under the legend or past the edge); removes it if none is."""
    area = text.axes.get_window_extent(renderer)
    for dx, dy in offsets:
        text.xyann = (dx, dy)
        align(text, dx, dy)
        box = label_box(text, renderer)
        inside = area.x0 <= box.x0 and box.x1 <= area.x1 and area.y0 <= box.y0 and box.y1 <= area.y1
        if inside and not any(box.overlaps(other) for other in placed):
            placed.append(box)
            return True
    text.remove()
    return False


def _halo():
    return [patheffects.withStroke(linewidth=HALO_PT, foreground="#FFFFFF")]


def _name_channels(ax, renderer, placed, nodes, positions, chatters) -> None:
    """Display names of the biggest channels, sized by audience, never overlapping."""
    top = np.argsort(-chatters, kind="stable")[:NAMED_CHANNELS]
    names = nodes["display_name"].to_pylist()
    logins = nodes["login"].to_pylist()
    biggest = max(chatters.max(initial=0), 1.0)

    def corner(text, dx, dy):
        text.set_ha("left" if dx > 0 else "right")
        text.set_va("bottom" if dy > 0 else "top")

    for i in top:
        text = ax.annotate(
            clean_text(names[i] or logins[i], 24),
            positions[i],
            xytext=(4, 3),
            textcoords="offset points",
            fontsize=7 + 7 * np.sqrt(chatters[i] / biggest),
            color="#222222",
            zorder=4,
            parse_math=False,
            path_effects=_halo(),
        )
        _place(text, renderer, placed, [(4, 3), (-4, 3), (4, -3), (-4, -3)], corner)


def label_text(row: dict, limit: int = 34) -> str:
    """A community's map label: its name (game · language and top channels)."""
    return clean_text(row["label"], limit)


def label_lines(label: str | None, limit: int = 40) -> tuple[str, str]:
    """A community label as (name, top channels): "GTA V · Spanish: a, b" -> the two
    parts; a label of top channels only (no game or language known) is all name."""
    head, sep, tail = (label or "").rpartition(": ")
    if not sep or not head.strip():
        return clean_text(label, limit), ""
    return clean_text(head, limit), clean_text(tail, limit)


def audience_text(row: dict) -> str:
    """'N distinct chatters' when the table has a measured ``audience``, else the summed
    count (an imported overlap graph has no per-chatter data: its audience is 0 or null)."""
    audience = row.get("audience")
    if audience or (audience == 0 and not row.get("chatters")):
        return f"{audience:,} distinct chatters"
    return f"{row['chatters']:,} chatters (sum over channels)"


def _label_communities(ax, renderer, placed, communities, community, positions) -> None:
    """The largest communities' labels (name, top channels, size) at their centroid, else
    just above or below it; ones that still collide are left out."""
    ids, _ = colour_index(communities)
    ids = ids[:LABELLED_COMMUNITIES]
    rows = {r["community"]: r for r in communities.to_pylist()}
    centre = centroids(community, positions, ids)
    for k, cid in enumerate(ids.tolist()):
        if not np.isfinite(centre[k]).all():
            continue
        row = rows[cid]
        name, top = label_lines(row["label"], 34)
        lines = (
            [name, top, f"{row['channels']:,} channels"]
            if top
            else [name, f"{row['channels']:,} channels"]
        )
        size = 12 if k < 10 else 10
        text = ax.annotate(
            "\n".join(lines),
            centre[k],
            xytext=(0, 0),
            textcoords="offset points",
            ha="center",
            va="center",
            fontsize=size,
            fontweight="bold",
            color="#111111",
            zorder=5,
            parse_math=False,
            path_effects=_halo(),
        )
        step = 1.25 * size * len(lines)  # the label's height, in points
        _place(text, renderer, placed, [(0, 0), (0, step), (0, -step)], lambda *_: None)


def _legend(fig, anchor: tuple[float, float], communities: pa.Table, colour_of) -> None:
    """Legend of the coloured communities (colour, label, channels, audience)."""
    ids, index = colour_index(communities)
    rows = {r["community"]: r for r in communities.to_pylist()}
    shown = list(zip(ids.tolist(), index.tolist(), strict=True))[:LEGEND_ROWS]
    handles = [Line2D([], [], ls="", marker="o", ms=9, color=PALETTE[k]) for _, k in shown]
    labels = [
        f"{clean_text(rows[c]['label'], 34)}\n{rows[c]['channels']:,} channels · "
        f"{audience_text(rows[c])}"
        for c, _ in shown
    ]
    if len(ids) > LEGEND_ROWS:
        handles.append(Line2D([], [], ls=""))
        labels.append(f"+ {len(ids) - LEGEND_ROWS:,} more communities (interactive map)")
    grey = int((colour_of < 0).sum())
    if grey:
        handles.append(Line2D([], [], ls="", marker="o", ms=9, color=OTHER))
        labels.append(f"leftovers and unconnected channels ({grey:,})")
    if not handles:
        return
    legend = fig.legend(
        handles,
        labels,
        loc="upper left",
        bbox_to_anchor=anchor,
        fontsize=8,
        frameon=False,
        labelspacing=0.5,
        title="Communities",
        title_fontproperties={"weight": "bold", "size": 12},
    )
    for text in [*legend.get_texts(), legend.get_title()]:
        text.set_parse_math(False)
