"""Map layout: communities as separated discs, channels spread inside their disc.

Two levels, both plain numpy so a 5,000-channel graph lays out in well under a
second and the result depends only on the inputs and the seed:

1. every big community becomes a disc whose area is proportional to its channel
   count; the discs are placed by a small force simulation (linked communities
   attract, discs never overlap, a weak gravity keeps the map compact). Tiny
   communities (and those beyond ``MAX_GROUPS``) share one "other" disc;
2. channels start from a smooth spectral-like embedding of their community's
   edges (orthogonal iteration of a random walk, all discs at once), then edges
   pull their ends together, a smoothed density grid pushes crowded channels
   apart, each channel is clamped to its disc, and radii are finally evened out
   (order kept) so no disc has a crowded core or rim.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy import ndimage, sparse

MAX_GROUPS = 150  # communities drawn as their own disc; the rest share one
MIN_GROUP = 3  # communities smaller than this go to the shared disc
FILL = 0.55  # share of a disc's area its channels occupy (1 channel ~ 1 unit²)
GAP = 0.12  # free space between discs, as a share of the smaller radius (+1 unit)
GROUP_STEPS = 200
MEMBER_STEPS = 120
SMOOTH_STEPS = 60
PULL, PUSH, WIDE = 0.2, 8.0, 3.0  # edge springs, density push, long-range share


def compute_layout(nodes: pa.Table, edges: pa.Table, seed: int) -> np.ndarray:
    """float64 array (len(nodes), 2), coordinates in [-1, 1]; deterministic for a seed."""
    n = nodes.num_rows
    if n == 0:
        return np.zeros((0, 2))
    rng = np.random.default_rng(seed)
    group, sizes, has_other = _groups(nodes["community"].to_numpy(zero_copy_only=False))
    src = edges["src"].to_numpy(zero_copy_only=False).astype(np.int64)
    dst = edges["dst"].to_numpy(zero_copy_only=False).astype(np.int64)
    weight = np.clip(edges["score"].to_numpy(zero_copy_only=False).astype(np.float64), 0, None)
    radii = np.sqrt(sizes / (np.pi * FILL)) + 0.5
    affinity = _group_affinity(group[src], group[dst], weight, sizes)
    centres = _place_groups(radii, affinity, rng)
    fixed = group == len(sizes) - 1 if has_other else np.zeros(n, dtype=bool)
    pos = _place_members(group, centres, radii, src, dst, weight, fixed, rng)
    pos -= (pos.max(axis=0) + pos.min(axis=0)) / 2
    extent = np.abs(pos).max()
    return pos / extent if extent > 0 else pos


def _groups(community: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Disc per node (0 = largest community), disc sizes, and whether the last is 'other'."""
    ids, inverse, counts = np.unique(community, return_inverse=True, return_counts=True)
    order = np.lexsort((ids, -counts))  # by size, ties by community id
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    own = (rank < MAX_GROUPS) & (counts >= MIN_GROUP)
    n_own = int(own.sum())
    disc = np.where(own, rank, n_own)  # big communities rank first, so ranks < n_own
    group = disc[inverse]
    sizes = np.bincount(group).astype(np.float64)
    return group, sizes, n_own < len(ids)


def _group_affinity(
    gs: np.ndarray, gd: np.ndarray, weight: np.ndarray, sizes: np.ndarray
) -> np.ndarray:
    """Dense (G, G) symmetric affinity between discs: edge score sums, size-normalised."""
    g = len(sizes)
    between = gs != gd
    mat = sparse.coo_matrix((weight[between], (gs[between], gd[between])), shape=(g, g)).toarray()
    mat = mat + mat.T
    mat /= np.sqrt(np.outer(sizes, sizes))
    top = mat.max()
    return mat / top if top > 0 else mat


def _place_groups(radii: np.ndarray, affinity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Disc centres: springs between related discs, gravity, then no overlaps."""
    g = len(radii)
    if g == 1:
        return np.zeros((1, 2))
    pos = rng.normal(size=(g, 2)) * np.sqrt((radii**2).sum())
    mass = radii**2 / (radii**2).mean()
    min_dist = radii[:, None] + radii[None, :] + GAP * np.minimum.outer(radii, radii) + 1.0
    np.fill_diagonal(min_dist, 0.0)
    share = 0.6 * mass[None, :] / (mass[:, None] + mass[None, :])  # i moves by j's share
    degree = affinity.sum(axis=1)[:, None]
    for step in range(GROUP_STEPS):
        alpha = 1.0 - step / GROUP_STEPS
        pull = (affinity @ pos - degree * pos) / (degree + 1.0)
        pos += alpha * (0.3 * pull / np.sqrt(mass)[:, None] - 0.05 * pos)
        pos = _separate(pos, min_dist, share)
    for _ in range(200):
        before = pos
        pos = _separate(pos, min_dist, share)
        if pos is before:
            break
    return pos


def _separate(pos: np.ndarray, min_dist: np.ndarray, share: np.ndarray) -> np.ndarray:
    """One pass pushing overlapping discs apart (``pos`` itself if none overlap)."""
    dx = pos[:, 0:1] - pos[:, 0]  # (i, j): from j to i
    dy = pos[:, 1:2] - pos[:, 1]
    dist = np.hypot(dx, dy)
    overlap = min_dist - dist
    if overlap.max() <= 0:
        return pos
    push = np.clip(overlap, 0.0, None) * share / np.maximum(dist, 1e-9)
    return pos + np.c_[(push * dx).sum(axis=1), (push * dy).sum(axis=1)]


def _place_members(
    group: np.ndarray,
    centres: np.ndarray,
    radii: np.ndarray,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    fixed: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Channel positions inside their disc: edge springs, density repulsion, disc clamp.

    ``fixed`` channels (the shared 'other' disc) sit on a sunflower spiral instead.
    """
    n = len(group)
    r_node = radii[group]
    angle = rng.uniform(0, 2 * np.pi, n)
    rad = np.sqrt(rng.uniform(0, 1, n)) * (r_node - 0.5)
    k = np.arange(int(fixed.sum()))
    angle[fixed] = k * np.pi * (3 - np.sqrt(5))  # golden angle
    rad[fixed] = np.sqrt((k + 0.5) / max(len(k), 1)) * (r_node[fixed] - 0.5)
    local = np.c_[np.cos(angle), np.sin(angle)] * rad[:, None]
    movable = (~fixed)[:, None]
    inside = group[src] == group[dst]
    s, d = src[inside], dst[inside]
    w = weight[inside] / (weight[inside].max() if inside.any() else 1.0)
    degree = np.bincount(s, weights=w, minlength=n) + np.bincount(d, weights=w, minlength=n)
    linked = (degree > 0) & ~fixed
    if linked.any():
        smooth = _smooth_start(group, s, d, w, degree, len(radii), rng)
        local[linked] = smooth[linked]
    limit = np.maximum(r_node - 0.5, 0.0)
    local = _equalise_radius(local, group, limit, ~fixed)
    lo = (centres - radii[:, None]).min(axis=0) - 2.0
    cells = np.ceil((centres + radii[:, None]).max(axis=0) + 2.0 - lo).astype(np.int64) + 1
    for step in range(MEMBER_STEPS):
        temp = 1.5 * (1.0 - step / MEMBER_STEPS) + 0.05
        pos = centres[group] + local
        delta = pos[d] - pos[s]
        pull = np.zeros((n, 2))
        for axis in range(2):
            pull[:, axis] = np.bincount(s, weights=w * delta[:, axis], minlength=n)
            pull[:, axis] -= np.bincount(d, weights=w * delta[:, axis], minlength=n)
        pull /= (degree + 1.0)[:, None]
        push = _density_push(pos, lo, cells)
        move = PULL * pull + PUSH * push
        length = np.sqrt((move**2).sum(axis=1))
        move *= (np.minimum(length, temp) / np.where(length > 0, length, 1.0))[:, None]
        local += move * movable
        norm = np.sqrt((local**2).sum(axis=1))
        local *= (np.minimum(norm, limit) / np.where(norm > 0, norm, 1.0))[:, None]
    return centres[group] + _equalise_radius(local, group, limit, ~fixed)


def _equalise_radius(
    local: np.ndarray, group: np.ndarray, limit: np.ndarray, mask: np.ndarray
) -> np.ndarray:
    """Keep each channel's angle and radius rank in its disc, but spread radii evenly
    over the disc's area, so no disc gets a crowded core or a crowded rim."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return local
    radius = np.sqrt((local[idx] ** 2).sum(axis=1))
    order = idx[np.lexsort((radius, group[idx]))]
    grp = group[order]
    first = np.searchsorted(grp, grp)  # index in ``order`` where each node's group starts
    count = np.bincount(grp)[grp]
    target = np.empty(len(local))
    target[order] = np.sqrt((np.arange(len(order)) - first + 0.5) / count) * limit[order]
    out = local.copy()
    norm = np.sqrt((local[idx] ** 2).sum(axis=1))
    scale = target[idx] / np.where(norm > 0, norm, 1.0)
    out[idx] = np.where(norm[:, None] > 0, local[idx] * scale[:, None], local[idx])
    return out


def _smooth_start(
    group: np.ndarray,
    s: np.ndarray,
    d: np.ndarray,
    w: np.ndarray,
    degree: np.ndarray,
    n_groups: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Start positions that follow the graph: per disc, the two smoothest non-constant
    vectors of a lazy random walk (orthogonal iteration, all discs at once), RMS radius 1.
    """
    n = len(group)
    walk = sparse.coo_matrix((np.r_[w, w], (np.r_[s, d], np.r_[d, s])), shape=(n, n)).tocsr()
    walk = sparse.diags(1.0 / np.maximum(degree, 1e-12)) @ walk
    mass = degree + 1e-9

    def per_group(values: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=values, minlength=n_groups)[group]

    x = rng.normal(size=(n, 2))
    for _ in range(SMOOTH_STEPS):
        x = 0.5 * (x + walk @ x)
        for k in range(2):
            x[:, k] -= per_group(mass * x[:, k]) / per_group(mass)  # drop the constant
        x[:, 0] /= np.sqrt(per_group(mass * x[:, 0] ** 2)) + 1e-12
        x[:, 1] -= per_group(mass * x[:, 0] * x[:, 1]) * x[:, 0]
        x[:, 1] /= np.sqrt(per_group(mass * x[:, 1] ** 2)) + 1e-12
    count = np.bincount(group, minlength=n_groups)[group]
    rms = np.sqrt(per_group((x**2).sum(axis=1)) / count)
    return x / np.maximum(rms, 1e-12)[:, None]


def _density_push(pos: np.ndarray, lo: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Per-node step down the gradient of a smoothed channel-density grid (unit cells)."""
    ij = np.clip(np.floor(pos - lo).astype(np.int64), 0, cells - 1)
    flat = ij[:, 0] * cells[1] + ij[:, 1]
    density = np.bincount(flat, minlength=int(cells[0] * cells[1])).astype(np.float64)
    density = density.reshape(cells)
    density = ndimage.gaussian_filter(density, sigma=1.2, mode="constant") + WIDE * (
        ndimage.gaussian_filter(density, sigma=4.0, mode="constant")
    )
    gx, gy = np.gradient(density)
    frac = pos - lo - ij  # sub-cell jitter so nodes in one cell do not move as one
    return -np.c_[gx[ij[:, 0], ij[:, 1]], gy[ij[:, 0], ij[:, 1]]] + 0.05 * (0.5 - frac)
