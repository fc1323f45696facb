"""Community colours and centroids, shared by the PNG and the HTML map.

48 colours picked by farthest-point sampling in OKLab among colours that keep
a contrast ratio of at least 1.6 against white and 3 against the dark
background (``DARK_BACKGROUND``), away from the grey of leftovers: every
community with ``MIN_CHANNELS`` channels or more gets one. A community keeps
its tracked ``color_index`` when the communities table has that column
(stable over days), else colours follow size rank.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

PALETTE = (
    "#CC086C", "#3061EF", "#63DE44", "#F073F9", "#318718", "#F4B00C", "#A15F2C", "#FE6742",
    "#317C92", "#06D8D9", "#9F36C7", "#27A6FC", "#F7A0BB", "#967CD9", "#9C9309", "#CE6993",
    "#3DB881", "#A5BDF2", "#89618B", "#ADC992", "#D41101", "#14A2AE", "#D08E56", "#DA4BC3",
    "#C297F3", "#ACB91B", "#3FBD12", "#5C8E67", "#735BC9", "#4281CF", "#F63D70", "#B85DF1",
    "#E5B28A", "#7B7418", "#B24A5F", "#3CDD99", "#A84497", "#56BCE1", "#F57FC5", "#CE5526",
    "#93A770", "#81A0D1", "#B88DBA", "#75BFAB", "#BB7C76", "#F88982", "#7960FB", "#60A42F",
)  # fmt: skip
OTHER = "#9A9A9A"  # channels outside any coloured community
LIGHT_BACKGROUND, DARK_BACKGROUND = "#FFFFFF", "#15151A"
MIN_CHANNELS = 3  # smaller communities are leftovers (grey, not in the legend)


def ranked(communities: pa.Table) -> pa.Table:
    """Communities largest first (channels, then id)."""
    return communities.sort_by([("channels", "descending"), ("community", "ascending")])


def colour_index(communities: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """(community ids, palette index) of the coloured communities, largest first.

    Communities with fewer than ``MIN_CHANNELS`` channels are not coloured. The
    index is ``color_index`` modulo the palette when the column exists, else rank.
    """
    table = ranked(communities)
    ids = table["community"].to_numpy(zero_copy_only=False).astype(np.int64)
    big = table["channels"].to_numpy(zero_copy_only=False) >= MIN_CHANNELS
    if "color_index" in table.column_names:
        raw = table["color_index"].to_numpy(zero_copy_only=False)
        index = np.nan_to_num(raw.astype(np.float64), nan=-1).astype(np.int64)
        fallback = np.arange(len(ids))
        index = np.where(index >= 0, index, fallback) % len(PALETTE)
    else:
        index = np.arange(len(ids)) % len(PALETTE)
    return ids[big], index[big]


def node_colours(community: np.ndarray, communities: pa.Table) -> np.ndarray:
    """Palette index per node (-1: grey leftover)."""
    ids, index = colour_index(communities)
    size = max(int(community.max(initial=0)), int(ids.max(initial=0))) + 1
    lookup = np.full(size, -1, dtype=np.int64)
    lookup[ids] = index
    return lookup[community]


def centroids(community: np.ndarray, positions: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(len(ids), 2) mean position of each community's channels (NaN if it has none)."""
    size = max(int(community.max(initial=0)), int(ids.max(initial=0))) + 1
    count = np.bincount(community, minlength=size).astype(np.float64)
    out = np.full((len(ids), 2), np.nan)
    for axis in range(2):
        total = np.bincount(community, weights=positions[:, axis], minlength=size)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, axis] = (total / count)[ids]
    return out


def rgba(hex_colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    """Matplotlib RGBA floats of a ``#RRGGBB`` colour."""
    red, green, blue = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return (red, green, blue, alpha)
