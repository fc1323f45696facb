"""Map layout: related communities side by side, big ones as lobes, channels inside.

Three levels, plain numpy, deterministic
for a seed:

1. *Groups.* Every community with at least ``MIN_GROUP`` channels is drawn;
   one with ``SPLIT`` channels or more is split into lobes (its sub-scenes:
   k-means on a spectral embedding of its own edges), so its inner structure shows.
   A group is a disc whose area grows with its channel count.
2. *Placement.* Lobes of one community are packed by stress majorisation
   (target distance: touching for the most related, further for weaker
   links), then the communities themselves the same way, from a C x C
   affinity (summed overlap between communities, normalised per community:
   ``A_ij / sqrt(A_i A_j)``; targets from the pair's affinity against the
   map's strongest pair, a disc's most related ones touching it while they fit
   on its rim: see ``_place_communities``), then each community's lobes are
   turned to face the communities they share most with. Discs never overlap.
3. *Channels.* Inside each disc, edge springs, a density push and a disc
   clamp (the previous layout's member step). Channels outside every drawn
   community sit next to their placed neighbours; isolated ones go to a quiet
   ring around the map (``unconnected`` in the legend).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from scipy import sparse

MAX_GROUPS = 400  # communities drawn as their own colour group; the rest are leftovers
MIN_GROUP = 3  # communities smaller than this are leftovers
SPLIT = 80  # communities with this many channels are drawn as lobes
LOBE_SIZE = 50  # about this many channels per lobe
MAX_LOBES = 8
MIN_LOBE = 10  # smaller lobes join their community's largest lobe
FILL = 0.55  # share of a disc's area its channels occupy (1 channel ~ 1 unit²)
GAP = 0.15  # free space between touching discs, as a share of their radii
SPREAD = 5.0  # extra distance of unrelated communities, in packed-radius units
LOBE_SPREAD = 0.5  # the same between the lobes of one community (kept tight)
CLOSENESS = 0.15  # exponent on the pair relation in community target distances
RIM_SHARE = 0.5  # share of a disc's rim its most related discs may touch
COMPACT = 1.0  # < 1: scale community centres down, then push apart (costs (a))
TARGETS = "affinity"  # community targets: "affinity" (chosen) or "relative" (previous)
BEST_WEIGHT = 10.0  # extra stress weight of each disc's most related disc
STRESS_STEPS = 150
MEMBER_STEPS = 120
SMOOTH_STEPS = 60
PULL, PUSH, WIDE = 0.2, 8.0, 3.0  # edge springs, density push, long-range share
BLUR = ((1.2, 1.0), (4.0, WIDE))  # density smoothing: (Gaussian sigma in cells, weight)


def compute_layout(
    nodes: pa.Table, edges: pa.Table, seed: int, affinity: np.ndarray | None = None
) -> np.ndarray:
    """float64 array (len(nodes), 2), coordinates in [-1, 1]; deterministic for a seed.

    ``affinity``: optional dense (C, C) summed overlap between communities (ids
    0..C-1), e.g. from the full pair list; without it the backbone edges are summed.
    """
    n = nodes.num_rows
    if n == 0:
        return np.zeros((0, 2))
    rng = np.random.default_rng(seed)
    community = nodes["community"].to_numpy(zero_copy_only=False).astype(np.int64)
    src = edges["src"].to_numpy(zero_copy_only=False).astype(np.int64)
    dst = edges["dst"].to_numpy(zero_copy_only=False).astype(np.int64)
    weight = np.clip(edges["score"].to_numpy(zero_copy_only=False).astype(np.float64), 0, None)
    drawn, comm_of = _drawn_communities(community)
    n_comm = int(comm_of.max(initial=-1)) + 1
    lobe = _lobes(comm_of, src, dst, weight, rng)
    n_lobes = int(lobe.max(initial=-1)) + 1
    lobe_comm = np.zeros(n_lobes, np.int64)
    lobe_comm[lobe[drawn]] = comm_of[drawn]
    sizes = np.bincount(lobe[drawn], minlength=n_lobes).astype(np.float64)
    radii = np.sqrt(sizes / (np.pi * FILL)) + 0.5
    between = _lobe_weights(lobe, src, dst, weight, n_lobes)
    local, comm_radius = _pack_lobes(lobe_comm, radii, between, n_comm, rng)
    sim = _normalise(_community_affinity(community, comm_of, src, dst, weight, affinity, n_comm))
    comm_centre = _place_communities(comm_radius, sim, rng)
    local = _face_neighbours(local, lobe_comm, between, comm_centre)
    centres = comm_centre[lobe_comm] + local
    pos = np.zeros((n, 2))
    if drawn.any():
        pos[drawn] = _members(drawn, lobe, centres, radii, src, dst, weight, rng)
    pos = _leftovers(pos, drawn, src, dst, weight, centres, radii)
    pos -= (pos.max(axis=0) + pos.min(axis=0)) / 2
    extent = np.abs(pos).max()
    return pos / extent if extent > 0 else pos


def unconnected(nodes: pa.Table, edges: pa.Table) -> np.ndarray:
    """Mask of channels without any edge (drawn on the outer ring, listed as unconnected)."""
    n = nodes.num_rows
    ends = np.r_[
        edges["src"].to_numpy(zero_copy_only=False), edges["dst"].to_numpy(zero_copy_only=False)
    ]
    return np.bincount(ends.astype(np.int64), minlength=n)[:n] == 0


def _drawn_communities(community: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mask of channels in a drawn community, and its rank (0 = largest) or -1."""
    ids, inverse, counts = np.unique(community, return_inverse=True, return_counts=True)
    order = np.lexsort((ids, -counts))
    rank = np.empty(len(ids), dtype=np.int64)
    rank[order] = np.arange(len(ids))
    own = (rank < MAX_GROUPS) & (counts >= MIN_GROUP)
    comm_of = np.where(own, rank, -1)[inverse.ravel()]
    return comm_of >= 0, comm_of


def _lobes(comm_of: np.ndarray, src, dst, weight, rng: np.random.Generator) -> np.ndarray:
    """Group per channel (-1 = leftover): one per community, or its lobes when big.

    Lobes: k-means (k ~ size / ``LOBE_SIZE``) on the community's two smoothest
    random-walk vectors of its own edges, so channels that share viewers stay together.
    """
    n = len(comm_of)
    n_comm = int(comm_of.max(initial=-1)) + 1
    counts = np.bincount(comm_of[comm_of >= 0], minlength=n_comm)
    k_of = np.clip(np.rint(counts / LOBE_SIZE), 1, MAX_LOBES).astype(np.int64)
    k_of[counts < SPLIT] = 1
    sub = np.zeros(n, np.int64)
    inside = (comm_of[src] == comm_of[dst]) & (comm_of[src] >= 0)
    big = (comm_of >= 0) & (np.r_[k_of, 1][comm_of] > 1)
    if big.any() and inside.any():
        s, d, w = src[inside], dst[inside], weight[inside] / weight[inside].max()
        degree = np.bincount(s, weights=w, minlength=n) + np.bincount(d, weights=w, minlength=n)
        group = np.where(comm_of >= 0, comm_of, n_comm)
        emb = _smooth_start(group, s, d, w, degree, n_comm + 1, rng)
        sub[big] = _kmeans(emb[big], comm_of[big], k_of)
    key = np.where(comm_of >= 0, comm_of * (len(comm_of) + 1) + sub, -1)
    ids, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    owner = np.where(ids >= 0, ids // (len(comm_of) + 1), -1)
    # small lobes join the largest lobe of their community
    best = np.full(n_comm + 1, -1)
    order = np.lexsort((-counts, owner))
    first = order[np.r_[True, owner[order][1:] != owner[order][:-1]]]
    best[owner[first]] = first
    target = np.where((counts < MIN_LOBE) & (owner >= 0), best[owner], np.arange(len(ids)))
    merged = target[inverse.ravel()]
    kept = np.unique(merged[comm_of >= 0])
    renum = np.full(len(ids), -1)
    renum[kept] = np.arange(len(kept))
    return renum[merged]


def _kmeans(points: np.ndarray, owner: np.ndarray, k_of: np.ndarray) -> np.ndarray:
    """Cluster per point: k-means within each owner (``k_of[owner]`` clusters), all at once."""
    kmax = int(k_of.max())
    slots = np.arange(kmax)
    angle = 2 * np.pi * slots[None, :] / k_of[owner][:, None]
    valid = slots[None, :] < k_of[owner][:, None]
    centre = np.stack([np.cos(angle), np.sin(angle)], axis=2)  # per point: its owner's start
    label = np.zeros(len(points), np.int64)
    for _ in range(15):
        dist = ((points[:, None, :] - centre) ** 2).sum(axis=2)
        label = np.argmin(np.where(valid, dist, np.inf), axis=1)
        key = owner * kmax + label
        size = np.bincount(key, minlength=(owner.max() + 1) * kmax)
        means = (
            np.stack(
                [np.bincount(key, weights=points[:, a], minlength=len(size)) for a in range(2)],
                axis=1,
            )
            / np.maximum(size, 1)[:, None]
        )
        table = means.reshape(-1, kmax, 2)
        keep = (size.reshape(-1, kmax) > 0)[owner]
        centre = np.where(keep[:, :, None], table[owner], centre)
    return label


def _lobe_weights(lobe, src, dst, weight, n_lobes: int) -> np.ndarray:
    """Dense (L, L) backbone score summed between lobes (both directions, no diagonal)."""
    ok = (lobe[src] >= 0) & (lobe[dst] >= 0) & (lobe[src] != lobe[dst])
    mat = sparse.coo_matrix(
        (weight[ok], (lobe[src][ok], lobe[dst][ok])), shape=(n_lobes, n_lobes)
    ).toarray()
    return mat + mat.T


def _community_affinity(community, comm_of, src, dst, weight, affinity, n_comm) -> np.ndarray:
    """(C', C') affinity between drawn communities (rank order), from ``affinity`` if given."""
    if affinity is not None:
        ids = np.full(n_comm, -1, np.int64)
        ids[comm_of[comm_of >= 0]] = community[comm_of >= 0]
        mat = np.asarray(affinity, np.float64)[np.ix_(ids, ids)]
        mat = (mat + mat.T) / 2
    else:
        ok = (comm_of[src] >= 0) & (comm_of[dst] >= 0)
        mat = sparse.coo_matrix(
            (weight[ok], (comm_of[src][ok], comm_of[dst][ok])), shape=(n_comm, n_comm)
        ).toarray()
        mat = mat + mat.T
    np.fill_diagonal(mat, 0.0)
    return mat


def _normalise(mat: np.ndarray) -> np.ndarray:
    """Per-community normalisation ``A_ij / sqrt(A_i A_j)`` (A_i: i's total to others)."""
    total = mat.sum(axis=1)
    scale = np.sqrt(np.outer(total, total))
    return np.divide(mat, scale, out=np.zeros_like(mat), where=scale > 0)


def _place_discs(
    radii: np.ndarray, sim: np.ndarray, rng: np.random.Generator, spread: float
) -> np.ndarray:
    """Lobe centres: stress majorisation toward affinity-based distances, no overlaps.

    Target distance of i and j: touching (plus ``GAP``) at the relation of i's (or
    j's) most related lobe, up to ``spread`` x the packed radius further when
    unrelated (``1 - rel ** 0.25``).
    """
    rel = _relative(sim)
    contact = _contact(radii)
    target = contact + spread * np.sqrt((radii**2).sum()) * (1.0 - rel**0.25)
    return _stress(radii, target, (rel >= 1.0) & (sim > 0), rng)


def _place_communities(radii: np.ndarray, sim: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Community centres: stress toward distances from the pair's affinity, no overlaps.

    A pair's relation is ``sqrt(rel * s)``: ``rel`` relative to the stronger side's
    most related community, ``s`` relative to the strongest pair of the map, so a
    community related to everybody (a hub) does not pull everybody to its rim and
    big, strongly related communities sit closer than weak small ones. Target:
    ``SPREAD`` x the packed radius x ``(1 - relation ** CLOSENESS)``, never below
    touching; a disc's most related discs touch it as long as they fit in
    ``RIM_SHARE`` of its rim (strongest first). ``TARGETS = "relative"`` is the
    previous rule (``_place_discs``).
    """
    if TARGETS == "relative" or len(radii) <= 1:
        return _place_discs(radii, sim, rng, SPREAD)
    rel = _relative(sim)
    contact = _contact(radii)
    strongest = sim.max(initial=0.0)
    share = sim / strongest if strongest > 0 else sim
    far = 1.0 - np.sqrt(rel * share) ** CLOSENESS
    far[_touching(radii, sim)] = 0.0
    reach = SPREAD * np.sqrt((radii**2).sum())
    target = np.maximum(contact, contact.min() + reach * far)  # min: the two smallest touching
    pos = _stress(radii, target, (rel >= 1.0) & (sim > 0), rng)
    return _push_apart(pos * COMPACT, radii) if COMPACT < 1 else pos


def _relative(sim: np.ndarray) -> np.ndarray:
    """Pair relation relative to the most related of either side (1 = someone's best)."""
    top = sim.max(axis=1, initial=0.0)
    return np.maximum(
        np.divide(sim, top[:, None], out=np.zeros_like(sim), where=top[:, None] > 0),
        np.divide(sim, top[None, :], out=np.zeros_like(sim), where=top[None, :] > 0),
    )


def _contact(radii: np.ndarray) -> np.ndarray:
    """Centre distance of two touching discs, plus the gap."""
    return (radii[:, None] + radii[None, :]) * (1 + GAP) + 1.0


def _touching(radii: np.ndarray, sim: np.ndarray) -> np.ndarray:
    """(G, G) mask of the best-partner pairs that touch: around each disc, the discs
    whose most related it is (and its own most related), strongest first, while
    their angles fit in ``RIM_SHARE`` of its rim."""
    g = len(radii)
    ok = sim.max(axis=1, initial=0.0) > 0
    best = np.argmax(sim, axis=1)[ok]
    key = np.unique(np.r_[best * g + np.flatnonzero(ok), np.flatnonzero(ok) * g + best])
    hub, other = key // g, key % g
    angle = 2 * np.arcsin(np.minimum(radii[other] * (1 + GAP) / (radii[hub] + radii[other]), 1))
    order = np.lexsort((other, -sim[hub, other], hub))
    hub, other, angle = hub[order], other[order], angle[order]
    used = np.cumsum(angle)
    used -= np.r_[0.0, used][np.searchsorted(hub, hub)]
    mask = np.zeros((g, g), dtype=bool)
    fits = used <= RIM_SHARE * 2 * np.pi
    mask[hub[fits], other[fits]] = True
    return mask & mask.T


def _stress(
    radii: np.ndarray, target: np.ndarray, best: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Stress majorisation toward ``target`` (``best`` pairs weigh ``BEST_WEIGHT``
    times more), then overlapping discs pushed apart."""
    g = len(radii)
    if g <= 1:
        return np.zeros((g, 2))
    target = target.copy()
    np.fill_diagonal(target, 0.0)
    w = (1.0 + BEST_WEIGHT * best) / np.where(target > 0, target, 1.0)
    np.fill_diagonal(w, 0.0)
    pos = _classical_mds(target, rng)
    w_sum = w.sum(axis=1)[:, None]
    for _ in range(STRESS_STEPS):
        diff = pos[:, None, :] - pos[None, :, :]
        dist = np.sqrt((diff**2).sum(axis=2))
        np.fill_diagonal(dist, 1.0)
        ratio = w * target / np.maximum(dist, 1e-9)
        pos = (w @ pos + (ratio[:, :, None] * diff).sum(axis=1)) / w_sum
    return _push_apart(pos, radii)


def _push_apart(pos: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Overlapping discs pushed apart (the smaller one moves more), centred."""
    min_dist = _contact(radii) - 0.5
    np.fill_diagonal(min_dist, 0.0)
    mass = radii**2
    share = 0.6 * mass[None, :] / (mass[:, None] + mass[None, :])
    for _ in range(500):
        before = pos
        pos = _separate(pos, min_dist, share)
        if pos is before:
            break
    return pos - pos.mean(axis=0)


def _classical_mds(target: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """2-D classical MDS of a distance matrix, plus a seeded nudge so ties break."""
    g = len(target)
    centre = np.eye(g) - 1.0 / g
    b = -0.5 * centre @ (target**2) @ centre
    vals, vecs = np.linalg.eigh(b)
    pos = vecs[:, -2:] * np.sqrt(np.maximum(vals[-2:], 1e-9))
    return pos + rng.normal(scale=1e-3 * target.max(), size=(g, 2))


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


def _pack_lobes(lobe_comm, radii, between, n_comm, rng) -> tuple[np.ndarray, np.ndarray]:
    """Lobe centres relative to their community's centre, and each community's radius."""
    local = np.zeros((len(radii), 2))
    comm_radius = np.zeros(n_comm)
    for c in range(n_comm):
        idx = np.flatnonzero(lobe_comm == c)
        if len(idx) == 0:
            continue
        if len(idx) > 1:
            sub = _normalise(between[np.ix_(idx, idx)])
            local[idx] = _place_discs(radii[idx], sub, rng, LOBE_SPREAD)
        comm_radius[c] = (np.sqrt((local[idx] ** 2).sum(axis=1)) + radii[idx]).max()
    return local, comm_radius


def _face_neighbours(local, lobe_comm, between, comm_centre) -> np.ndarray:
    """Turn each community's lobes so lobes face the communities they share most with."""
    out = local.copy()
    for c in np.unique(lobe_comm):
        idx = np.flatnonzero(lobe_comm == c)
        if len(idx) < 2:
            continue
        other = lobe_comm != c
        toward = comm_centre[lobe_comm[other]] - comm_centre[c]
        toward /= np.maximum(np.sqrt((toward**2).sum(axis=1)), 1e-9)[:, None]
        pull = between[np.ix_(idx, np.flatnonzero(other))] @ toward  # (lobes, 2)
        p = local[idx]
        dot = (p * pull).sum()
        cross = (p[:, 0] * pull[:, 1] - p[:, 1] * pull[:, 0]).sum()
        theta = np.arctan2(cross, dot)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        out[idx] = p @ rot.T
    return out


def _members(drawn, lobe, centres, radii, src, dst, weight, rng) -> np.ndarray:
    """Positions of the channels of drawn communities (inside their lobe's disc)."""
    idx = np.flatnonzero(drawn)
    where = np.full(len(drawn), -1)
    where[idx] = np.arange(len(idx))
    ok = drawn[src] & drawn[dst]
    fixed = np.zeros(len(idx), dtype=bool)
    packed = _shelf(radii)  # members are placed on a compact sheet (small density grid)
    pos = _place_members(
        lobe[idx], packed, radii, where[src[ok]], where[dst[ok]], weight[ok], fixed, rng
    )
    return pos - packed[lobe[idx]] + centres[lobe[idx]]


def _shelf(radii: np.ndarray) -> np.ndarray:
    """Centres of the discs side by side in rows (largest first), 2 units apart."""
    order = np.argsort(-radii, kind="stable")
    width = np.sqrt(((2 * radii + 2) ** 2).sum()) * 1.2
    centres = np.zeros((len(radii), 2))
    x = y = row = 0.0
    for i in order.tolist():  # one step per disc (groups, not channels)
        d = 2 * radii[i] + 2
        if x > 0 and x + d > width:
            x, y, row = 0.0, y + row, 0.0
        row = max(row, d)
        centres[i] = (x + d / 2, y + d / 2)
        x += d
    return centres


def _leftovers(pos, drawn, src, dst, weight, centres, radii) -> np.ndarray:
    """Channels outside drawn communities: beside their placed neighbours, else a ring."""
    placed = drawn.copy()
    out = pos.copy()
    a, b = np.r_[src, dst], np.r_[dst, src]
    w = np.r_[weight, weight] + 1e-12
    for _ in range(3):
        use = ~placed[a] & placed[b]
        if not use.any():
            break
        total = np.bincount(a[use], weights=w[use], minlength=len(pos))
        new = (total > 0) & ~placed
        for axis in range(2):
            out[new, axis] = (
                np.bincount(a[use], weights=w[use] * out[b[use], axis], minlength=len(pos))[new]
                / total[new]
            )
        k = np.arange(int(new.sum()))
        out[new] += 1.2 * np.c_[np.cos(k * 2.39996), np.sin(k * 2.39996)]  # golden angle
        placed |= new
    rest = np.flatnonzero(~placed)
    if len(rest):
        reach = ((np.sqrt((centres**2).sum(axis=1)) + radii).max() if len(radii) else 0.0) + 2.0
        reach = max(reach, np.sqrt((out[placed] ** 2).sum(axis=1)).max(initial=0) + 2.0)
        ring = max(reach, len(rest) * 1.3 / (2 * np.pi))
        angle = np.arange(len(rest)) * 2 * np.pi / len(rest)
        out[rest] = ring * np.c_[np.cos(angle), np.sin(angle)]
    return out


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
    # Spring pull on i: sum_j w_ij (pos_j - pos_i) = (A @ local)_i - degree_i local_i
    # (both ends share a disc, so the centres cancel); A is symmetric, one sparse product.
    springs = sparse.coo_matrix((np.r_[w, w], (np.r_[s, d], np.r_[d, s])), shape=(n, n)).tocsr()
    blur = _blur_operators(cells)
    for step in range(MEMBER_STEPS):
        temp = 1.5 * (1.0 - step / MEMBER_STEPS) + 0.05
        pos = centres[group] + local
        pull = (springs @ local - degree[:, None] * local) / (degree + 1.0)[:, None]
        push = _density_push(pos, lo, cells, blur)
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


def _blur_operators(cells: np.ndarray) -> list[tuple[sparse.csr_matrix, sparse.csr_matrix, float]]:
    """Per ``BLUR`` term, banded matrices (rows, columns) of a Gaussian filter over a
    grid of ``cells``, zero outside: ``rows @ grid @ cols`` is scipy.ndimage's
    ``gaussian_filter(grid, sigma, mode="constant")`` (same kernel: 4 sigma, normalised)."""
    out = []
    for sigma, factor in BLUR:
        radius = int(4.0 * sigma + 0.5)
        offsets = np.arange(-radius, radius + 1)
        kernel = np.exp(-0.5 / sigma**2 * offsets.astype(np.float64) ** 2)
        kernel /= kernel.sum()
        rows, cols = (  # offsets past the grid would only reach the zero padding
            sparse.diags(
                kernel[np.abs(offsets) < m],
                offsets[np.abs(offsets) < m],
                shape=(m, m),
                format="csr",
            )
            for m in cells.tolist()
        )
        out.append((rows, cols, factor))
    return out


def _density_push(pos: np.ndarray, lo: np.ndarray, cells: np.ndarray, blur: list) -> np.ndarray:
    """Per-node step down the gradient of a smoothed channel-density grid (unit cells);
    ``blur`` from :func:`_blur_operators`."""
    ij = np.clip(np.floor(pos - lo).astype(np.int64), 0, cells - 1)
    flat = ij[:, 0] * cells[1] + ij[:, 1]
    grid = np.bincount(flat, minlength=int(cells[0] * cells[1])).astype(np.float64)
    grid = grid.reshape(cells)
    density = sum(factor * ((rows @ grid) @ cols) for rows, cols, factor in blur)
    gx, gy = np.gradient(density)
    frac = pos - lo - ij  # sub-cell jitter so nodes in one cell do not move as one
    return -np.c_[gx[ij[:, 0], ij[:, 1]], gy[ij[:, 0], ij[:, 1]]] + 0.05 * (0.5 - frac)
