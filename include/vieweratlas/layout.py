"""Map layout: communities as separated discs, channels spread inside their disc.

Two levels, both plain numpy so a 5,000-channel graph lays out in well under a
second and the result depends only on the inputs and the seed:

1. every big community becomes a disc whose area is proportional to its channel
   count; the discs are placed by a small force simulation (linked communities
   attract, discs never overlap, a weak gravity keeps the map compact). Tiny
   communities (and those beyond ``MAX_GROUPS``) share one "other" disc;
2. channels move inside their disc: edges of the same disc pull their ends
   together, a smoothed density grid pushes crowded channels apart, and each
   channel is clamped to its disc, so communities stay visibly apart.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy import ndimage, sparse

MAX_GROUPS = 200  # communities drawn as their own disc; the rest share one
MIN_GROUP = 3  # communities smaller than this go to the shared disc
FILL = 0.55  # share of a disc's area its channels occupy (1 channel ~ 1 unit²)
GAP = 0.12  # free space between discs, as a share of the smaller radius (+1 unit)
GROUP_STEPS = 300
MEMBER_STEPS = 120
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
    mat = sparse.coo_matrix(
        (weight[between], (gs[between], gd[between])), shape=(g, g)
    ).toarray()
    mat = mat + mat.T
    mat /= np.sqrt(np.outer(sizes, sizes))
    top = mat.max()
    return mat / top if top > 0 else mat


def _place_groups(radii: np.ndarray, affinity: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Disc centres: springs between related discs, gravity, then no overlaps."""
    g = len(radii)
    span = np.sqrt((radii**2).sum())
    pos = rng.normal(size=(g, 2)) * span
    if g == 1:
        return np.zeros((1, 2))
    mass = radii**2 / (radii**2).mean()
    min_dist = radii[:, None] + radii[None, :] + GAP * np.minimum.outer(radii, radii) + 1.0
    np.fill_diagonal(min_dist, 0.0)
    for step in range(GROUP_STEPS):
        alpha = 1.0 - step / GROUP_STEPS
        delta = pos[None, :, :] - pos[:, None, :]  # i -> j
        pull = (affinity[:, :, None] * delta).sum(axis=1) / (affinity.sum(axis=1)[:, None] + 1)
        pos += alpha * (0.3 * pull / mass[:, None] ** 0.5 - 0.05 * pos)
        pos = _separate(pos, min_dist, mass)
    for _ in range(100):
        before = pos
        pos = _separate(pos, min_dist, mass)
        if np.allclose(before, pos):
            break
    return pos


def _separate(pos: np.ndarray, min_dist: np.ndarray, mass: np.ndarray) -> np.ndarray:
    """One pass pushing overlapping discs apart; lighter discs move more."""
    delta = pos[:, None, :] - pos[None, :, :]  # j -> i
    dist = np.sqrt((delta**2).sum(axis=2))
    overlap = np.clip(min_dist - dist, 0.0, None)
    if not overlap.any():
        return pos
    share = mass[None, :] / (mass[:, None] + mass[None, :])  # i moves by j's share
    unit = delta / np.where(dist > 1e-9, dist, 1.0)[:, :, None]
    return pos + 0.6 * ((overlap * share)[:, :, None] * unit).sum(axis=1)


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
        limit = np.maximum(r_node - 0.5, 0.0)
        local *= (np.minimum(norm, limit) / np.where(norm > 0, norm, 1.0))[:, None]
    return centres[group] + local


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
