"""Static community map: a PNG drawn with matplotlib's Agg canvas (no pyplot state).

Channels are dots sized by chatters and coloured by community (the 20 largest get
distinct colours, the rest grey), edges are a faint LineCollection, the largest
communities are labelled at their centroid and listed in a legend. Every string
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

# Kelly's colours of maximum contrast, without white, black and grey.
PALETTE = (
    "#F3C300", "#875692", "#F38400", "#A1CAF1", "#BE0032", "#C2B280", "#008856",
    "#E68FAC", "#0067A5", "#F99379", "#604E97", "#F6A600", "#B3446C", "#DCD300",
    "#882D17", "#8DB600", "#654522", "#E25822", "#2B3D26", "#5A8F8F",
)  # fmt: skip
OTHER = "#B4B4B4"
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
MAX_EDGE_SAMPLES = 2_000_000  # edge pixels sampled; longer totals use a coarser step
LIMIT = 1.06  # axes range; the layout is in [-1, 1]
NAMED_CHANNELS = 30


def render_png(
    nodes: pa.Table,
    edges: pa.Table,
    positions: np.ndarray,
    communities: pa.Table,
    title: str,
) -> bytes:
    """The static map as PNG bytes (2340 x 1920 px: the map, then a legend column)."""
    community = nodes["community"].to_numpy(zero_copy_only=False).astype(np.int64)
    chatters = nodes["chatters"].to_numpy(zero_copy_only=False).astype(np.float64)
    ranked = _ranked_communities(communities)
    colour_of = _colour_lookup(community, ranked)
    rgba = _to_rgba(colour_of)
    with rc_context({"font.family": available_fonts(), "svg.fonttype": "none"}):
        width, height = MAP_IN + LEGEND_IN, MAP_IN + 0.5
        fig = Figure(figsize=(width, height), dpi=DPI, facecolor="#FFFFFF")
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, MAP_IN / width, MAP_IN / height))
        ax.set_axis_off()
        ax.set_xlim(-LIMIT, LIMIT)
        ax.set_ylim(-LIMIT, LIMIT)
        _draw_edges(ax, edges, positions, community, rgba, px=int(MAP_IN * DPI))
        size = 3 + 160 * np.sqrt(chatters / max(chatters.max(initial=0), 1))
        order = np.argsort(-size, kind="stable")  # big dots first, small ones stay visible
        ax.scatter(
            positions[order, 0],
            positions[order, 1],
            s=size[order],
            c=rgba[order],
            linewidths=0.25,
            edgecolors="#FFFFFF",
            zorder=2,
        )
        _name_channels(ax, nodes, positions, chatters)
        _label_communities(ax, ranked, community, positions)
        _legend(fig, (MAP_IN / width, MAP_IN / height), ranked, bool((colour_of < 0).any()))
        fig.suptitle(
            clean_text(title, 120), x=MAP_IN / width / 2, y=0.99, fontsize=20, parse_math=False
        )
        buf = io.BytesIO()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
            fig.savefig(buf, format="png", dpi=DPI, facecolor=fig.get_facecolor())
    return buf.getvalue()


def available_fonts() -> list[str]:
    """The fallback chain of ``FONTS`` that is installed (DejaVu Sans always is)."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return [name for name in FONTS if name in installed] or ["DejaVu Sans"]


def clean_text(text: str | None, limit: int = 40) -> str:
    """Printable text: control and format characters (bidi overrides, ZW*) removed, shortened."""
    kept = "".join(ch for ch in text or "" if unicodedata.category(ch) not in ("Cc", "Cf"))
    kept = " ".join(kept.split())
    return kept if len(kept) <= limit else kept[: limit - 1] + "…"


def _ranked_communities(communities: pa.Table) -> list[dict]:
    """Community rows, largest first (by channels, then id)."""
    rows = communities.to_pylist()
    return sorted(rows, key=lambda r: (-r["channels"], r["community"]))


def _colour_lookup(community: np.ndarray, ranked: list[dict]) -> np.ndarray:
    """Palette index per node, or -1 for grey (communities beyond the palette)."""
    ids = np.array([r["community"] for r in ranked[: len(PALETTE)]], dtype=np.int64)
    lookup = np.full(max(community.max(initial=0), ids.max(initial=0)) + 1, -1, dtype=np.int64)
    lookup[ids] = np.arange(len(ids))
    return lookup[community]


def _to_rgba(colour_of: np.ndarray) -> np.ndarray:
    """(n, 4) RGBA floats for palette indices (-1 = grey)."""
    table = np.array([_hex(c) for c in (*PALETTE, OTHER)])
    return table[np.where(colour_of < 0, len(PALETTE), colour_of)]


def _hex(colour: str) -> tuple[float, float, float, float]:
    return (*(int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)), 1.0)


def _draw_edges(ax, edges: pa.Table, positions: np.ndarray, community, rgba, px: int) -> None:
    """Faint edges as one additive image: community colour inside a community, grey between.

    Each edge is sampled about once per pixel and accumulated with ``np.bincount``:
    Agg strokes 50,000 long antialiased lines in seconds, this takes ~0.1 s.
    """
    src = edges["src"].to_numpy(zero_copy_only=False).astype(np.int64)
    dst = edges["dst"].to_numpy(zero_copy_only=False).astype(np.int64)
    if len(src) == 0:
        return
    colour = np.where((community[src] == community[dst])[:, None], rgba[src, :3], 0.55)
    weight = np.where(community[src] == community[dst], 1.0, 0.5)
    to_px = (px - 1) / (2 * LIMIT)
    p0 = ((positions[src] + LIMIT) * to_px).astype(np.float32)
    d = ((positions[dst] + LIMIT) * to_px).astype(np.float32) - p0
    length = np.sqrt((d**2).sum(axis=1))
    step = max(1.0, float(length.sum()) / MAX_EDGE_SAMPLES)  # bounds memory and time
    count = np.maximum(np.ceil(length / step), 1).astype(np.int64)
    edge = np.repeat(np.arange(len(src)), count)
    t = np.arange(len(edge), dtype=np.float32) - np.repeat(np.cumsum(count) - count, count)
    t = (t + 0.5) / np.repeat(count, count)
    x = np.clip(np.rint(p0[edge, 0] + d[edge, 0] * t), 0, px - 1).astype(np.int64)
    y = np.clip(np.rint(p0[edge, 1] + d[edge, 1] * t), 0, px - 1).astype(np.int64)
    flat = y * px + x
    per_edge = weight * step
    total = np.bincount(flat, weights=per_edge[edge], minlength=px * px)
    image = np.empty((px * px, 4), dtype=np.float32)
    for channel in range(3):
        image[:, channel] = np.bincount(
            flat, weights=(per_edge * colour[:, channel])[edge], minlength=px * px
        )
    image[:, :3] /= np.maximum(total, 1e-12)[:, None]
    image[:, 3] = 0.6 * (1.0 - np.exp(-0.25 * total))
    ax.imshow(
        image.reshape(px, px, 4),
        extent=(-LIMIT, LIMIT, -LIMIT, LIMIT),
        origin="lower",
        interpolation="nearest",
        zorder=1,
    )


def _name_channels(ax, nodes: pa.Table, positions: np.ndarray, chatters: np.ndarray) -> None:
    """Display names of the channels with the most chatters, next to their dot."""
    top = np.argsort(-chatters, kind="stable")[:NAMED_CHANNELS]
    names = nodes["display_name"].to_pylist()
    logins = nodes["login"].to_pylist()
    for i in top:
        ax.annotate(
            clean_text(names[i] or logins[i], 24),
            positions[i],
            xytext=(4, 4),
            textcoords="offset points",
            fontsize=8,
            color="#222222",
            zorder=4,
            parse_math=False,
            path_effects=[patheffects.withStroke(linewidth=2, foreground="#FFFFFF")],
        )


def _label_communities(ax, ranked: list[dict], community: np.ndarray, positions) -> None:
    """Each coloured community's label and size at the centroid of its channels."""
    count = np.bincount(community)
    sum_x = np.bincount(community, weights=positions[:, 0])
    sum_y = np.bincount(community, weights=positions[:, 1])
    for row in ranked[: len(PALETTE)]:
        cid = row["community"]
        if cid >= len(count) or count[cid] == 0:
            continue
        ax.text(
            sum_x[cid] / count[cid],
            sum_y[cid] / count[cid],
            f"{clean_text(row['label'])}\n{row['channels']:,} channels",
            ha="center",
            va="center",
            fontsize=12,
            fontweight="bold",
            color="#111111",
            zorder=5,
            parse_math=False,
            path_effects=[patheffects.withStroke(linewidth=3.5, foreground="#FFFFFF")],
        )


def _legend(fig, anchor: tuple[float, float], ranked: list[dict], has_other: bool) -> None:
    """Legend of the coloured communities (colour, label, channels, chatters)."""
    handles = [
        Line2D([], [], ls="", marker="o", ms=9, color=colour)
        for colour, _ in zip(PALETTE, ranked, strict=False)
    ]
    labels = [
        f"{clean_text(r['label'])}: {r['channels']:,} ch, {r['chatters']:,} chatters"
        for r in ranked[: len(PALETTE)]
    ]
    if has_other:
        handles.append(Line2D([], [], ls="", marker="o", ms=9, color=OTHER))
        labels.append(f"other communities ({max(len(ranked) - len(PALETTE), 0):,})")
    if not handles:
        return
    legend = fig.legend(
        handles, labels, loc="upper left", bbox_to_anchor=anchor, fontsize=10, frameon=False
    )
    for text in legend.get_texts():
        text.set_parse_math(False)
