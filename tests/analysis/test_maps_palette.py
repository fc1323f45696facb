"""palette: enough distinguishable colours on both backgrounds, tracked colour index kept."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from vieweratlas.palette import (
    DARK_BACKGROUND,
    LIGHT_BACKGROUND,
    OTHER,
    PALETTE,
    centroids,
    colour_index,
    node_colours,
)
from vieweratlas.schema import COMMUNITIES


def _linear(hex_colour: str) -> np.ndarray:
    c = np.array([int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)])
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _oklab(hex_colour: str) -> np.ndarray:
    r, g, b = _linear(hex_colour)
    lms = np.cbrt(
        [
            0.4122214708 * r + 0.5363325363 * g + 0.0514459929 * b,
            0.2119034982 * r + 0.6806995451 * g + 0.1073969566 * b,
            0.0883024619 * r + 0.2817188376 * g + 0.6299787005 * b,
        ]
    )
    m = np.array(
        [
            [0.2104542553, 0.7936177850, -0.0040720468],
            [1.9779984951, -2.4285922050, 0.4505937099],
            [0.0259040371, 0.7827717662, -0.8086757660],
        ]
    )
    return m @ lms


def _luminance(hex_colour: str) -> float:
    return float(_linear(hex_colour) @ [0.2126, 0.7152, 0.0722])


def test_at_least_40_distinct_colours_far_from_each_other_and_from_grey():
    assert len(PALETTE) >= 40 and len(set(PALETTE)) == len(PALETTE)
    lab = np.array([_oklab(c) for c in PALETTE])
    apart = np.sqrt(((lab[:, None] - lab[None]) ** 2).sum(axis=2))
    np.fill_diagonal(apart, np.inf)
    assert apart.min() > 0.07  # OKLab distance: a clearly visible difference
    assert np.sqrt(((lab - _oklab(OTHER)) ** 2).sum(axis=1)).min() > 0.07


def test_every_colour_shows_on_light_and_dark_backgrounds():
    light, dark = _luminance(LIGHT_BACKGROUND), _luminance(DARK_BACKGROUND)
    for colour in PALETTE:
        y = _luminance(colour)
        assert (light + 0.05) / (y + 0.05) >= 1.5, colour
        assert (y + 0.05) / (dark + 0.05) >= 2.8, colour


def _table(channels: list[int], colour: list[int] | None = None) -> pa.Table:
    rows = [
        {"community": k, "label": f"c{k}", "channels": c, "chatters": c, "top_channels": []}
        for k, c in enumerate(channels)
    ]
    table = pa.Table.from_pylist(rows, schema=COMMUNITIES)
    if colour is not None:
        table = table.append_column("color_index", pa.array(colour, pa.int32()))
    return table


def test_every_community_of_three_channels_gets_a_colour_leftovers_grey():
    channels = [50] * 60 + [3, 2, 1]  # more communities than colours
    ids, index = colour_index(_table(channels))
    assert ids.tolist() == list(range(61))  # all with >= 3 channels, largest first
    assert index[: len(PALETTE)].tolist() == list(range(len(PALETTE)))
    colours = node_colours(np.array([0, 60, 61, 62]), _table(channels))
    assert colours.tolist() == [0, 60 % len(PALETTE), -1, -1]


def test_tracked_colour_index_wins_over_rank():
    table = _table([9, 5, 4], colour=[7, 3, 41])
    ids, index = colour_index(table)
    assert ids.tolist() == [0, 1, 2]
    assert index.tolist() == [7, 3, 41]


def test_centroids():
    community = np.array([0, 0, 2])
    pos = np.array([[0.0, 0.0], [1.0, 1.0], [3.0, 4.0]])
    out = centroids(community, pos, np.array([2, 0, 1]))
    assert out[0].tolist() == [3.0, 4.0] and out[1].tolist() == [0.5, 0.5]
    assert np.isnan(out[2]).all()
