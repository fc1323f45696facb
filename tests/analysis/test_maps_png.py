"""render_png: a real PNG of the documented size, coloured by community, robust to names."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pytest
from matplotlib import rc_context
from PIL import Image
from scripts.bench_maps import planted_graph

from vieweratlas.layout import compute_layout
from vieweratlas.map_png import (
    PALETTE,
    audience_text,
    available_fonts,
    clean_text,
    draw_map,
    label_box,
    label_lines,
    render_png,
    text_style,
)

SIZE = (2340, 1920)


@pytest.fixture(scope="module")
def graph():
    nodes, edges, communities = planted_graph(n=1200, m=8000, n_comm=25, seed=5)
    return nodes, edges, communities, compute_layout(nodes, edges, seed=1)


@pytest.fixture(scope="module")
def image(graph) -> np.ndarray:
    nodes, edges, communities, positions = graph
    png = render_png(nodes, edges, positions, communities, "Map <b>$x^2$</b> {{ 1 }} 日本")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as img:
        img.verify()
    with Image.open(io.BytesIO(png)) as img:
        assert img.size == SIZE
        return np.asarray(img.convert("RGB"))


def _packed(image: np.ndarray) -> np.ndarray:
    """24-bit colour per pixel, so colours can be counted with one np.unique."""
    rgb = image.reshape(-1, 3).astype(np.int64)
    return (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def test_png_is_a_drawn_map(image):
    assert image.shape == (SIZE[1], SIZE[0], 3)
    assert len(np.unique(_packed(image))) > 200  # not blank
    assert (image.mean(axis=2) < 250).mean() > 0.05  # a real share of the canvas is drawn


def test_biggest_communities_have_their_own_colours(image):
    colours, counts = np.unique(_packed(image), return_counts=True)
    found = dict(zip(colours.tolist(), counts.tolist(), strict=True))
    for colour in PALETTE[:20]:
        assert found.get(int(colour[1:], 16), 0) > 30, colour  # dots drawn in exact colour


def test_hostile_and_mathtext_names_do_not_break_rendering(graph):
    nodes, edges, communities, positions = graph
    hostile = pa.table(
        {
            **{name: nodes[name] for name in nodes.column_names},
            "display_name": ["$\\frac{1}{0}$ $$ \\"] * nodes.num_rows,  # bad mathtext if parsed
        },
        schema=nodes.schema,
    )
    png = render_png(hostile, edges, positions, communities, "$\\undefinedmacro$")
    assert png.startswith(b"\x89PNG")


def test_tiny_graphs_render():
    one, edges, communities = planted_graph(n=60, m=100, n_comm=3, seed=1)
    empty_nodes = one.slice(0, 0)
    png = render_png(empty_nodes, edges.slice(0, 0), np.zeros((0, 2)), communities.slice(0, 0), "")
    assert png.startswith(b"\x89PNG")
    png = render_png(one, edges, compute_layout(one, edges, 1), communities, "small")
    assert png.startswith(b"\x89PNG")


def test_rejects_mismatched_positions_and_sparse_ids(graph):
    nodes, edges, communities, positions = graph
    with pytest.raises(ValueError, match="positions"):
        render_png(nodes, edges, positions[:, :1], communities, "t")
    ids = pa.array([2**31 - 1] * nodes.num_rows, pa.int32())
    far = nodes.set_column(nodes.schema.get_field_index("community"), "community", ids)
    with pytest.raises(ValueError, match="dense"):
        render_png(far, edges, positions, communities, "t")


def test_clean_text_strips_controls_and_bidi_overrides():
    assert clean_text("\u202eevil\u202c\x00 name\n") == "evil name"
    assert clean_text(None) == ""
    assert clean_text("日本語 قناة 🎮") == "日本語 قناة 🎮"
    assert clean_text("x" * 50, 10) == "x" * 9 + "…"


def test_label_lines_split_name_from_top_channels():
    assert label_lines("Call of Duty: Warzone · English: a, b, c") == (
        "Call of Duty: Warzone · English",
        "a, b, c",
    )
    assert label_lines("xQcOW, ibai") == ("xQcOW, ibai", "")
    assert label_lines(None) == ("", "")


def test_audience_is_distinct_only_when_measured():
    assert audience_text({"audience": 1234, "chatters": 2000}) == "1,234 distinct chatters"
    summed = "2,000 chatters (sum over channels)"
    assert audience_text({"audience": 0, "chatters": 2000}) == summed  # imported graph
    assert audience_text({"audience": None, "chatters": 2000}) == summed
    assert audience_text({"chatters": 2000}) == summed


def test_font_chain_starts_with_an_installed_font():
    fonts = available_fonts()
    assert fonts[0] == "DejaVu Sans"


@pytest.mark.parametrize("real", [False, True], ids=["synthetic", "real"])
def test_map_labels_ink_stays_in_boxes_that_never_overlap(graph, real_map_graph, real):
    """Every pair of map labels (community and channel names alike) keeps its boxes apart,
    and every pixel the labels draw (text and halo, drawn alone) lies inside a box."""
    nodes, _, communities, positions = real_map_graph if real else graph
    with rc_context(text_style()):  # as render_png draws it
        fig = draw_map(nodes, positions, communities, "t")
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        texts = [t for t in fig.axes[0].texts if t.get_text()]
        boxes = [label_box(t, renderer) for t in texts]
        for artist in [*fig.axes[0].collections, *fig.legends, *fig.texts]:
            artist.set_visible(False)  # the labels alone
        fig.canvas.draw()
        alpha = np.asarray(fig.canvas.buffer_rgba())[::-1, :, 3]  # row 0 at the bottom
    named = {t.get_text().split("\n")[0] for t in texts}
    assert len(boxes) >= 15 and len(named - {clean_text(n, 24) for n in nodes["login"].to_pylist()})
    top3 = [label_lines(label, 34)[0] for label in communities["label"].to_pylist()[:3]]
    assert set(top3) <= named  # the largest communities are all named
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (texts[boxes.index(a)].get_text(), a, b)
    area = fig.axes[0].get_window_extent(renderer)  # the map, left of the legend column
    outside = [t.get_text() for t, b in zip(texts, boxes, strict=True) if not area.contains(*b.p1)]
    assert not outside and all(area.contains(*b.p0) for b in boxes), outside
    covered = np.zeros(alpha.shape, dtype=bool)
    for box in boxes:
        x0, y0 = np.floor(box.p0).astype(int)
        x1, y1 = np.ceil(box.p1).astype(int)
        covered[max(y0, 0) : y1, max(x0, 0) : x1] = True
    ink = alpha > 16
    stray = np.argwhere(ink & ~covered)
    assert ink.sum() > 5000 and len(stray) == 0, stray[:10].tolist()
