"""Communities: Leiden (igraph's native implementation) or python-louvain behind
one seeded, deterministic function.

Both run on the backbone with the cosine score as edge weight (so a giant
channel does not pull everything into its community). One run depends on its
seed (channels on the edge of two scenes flip), so :func:`detect` runs ``RUNS``
seeds derived from the given one, reweights every edge by the share of runs
that put its ends together (a consensus graph), runs again on that graph, and
keeps the partition with the best quality at the chosen resolution. Leiden
passes are bounded (``LEIDEN_ITERATIONS``, stopping early once a pass gains
nothing). Communities are renumbered by size: 0 is the largest (ties: the one
holding the lowest node).
Modularity is reported at resolution 1 with the same weights, whichever
algorithm and resolution found the partition, so runs compare.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

RUNS = 6  # seeded runs per round
ROUNDS = 2  # the first on the backbone, then on the consensus graph
LEIDEN_ITERATIONS = 10  # Leiden passes per run (stops earlier once nothing moves)


@dataclass
class Partition:
    """Community per node, and how good it is."""

    membership: np.ndarray  # int32, community per node, 0 = largest
    modularity: float
    sizes: list[int]  # nodes per community, by community number

    @property
    def count(self) -> int:
        return len(self.sizes)


def _igraph(n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray):
    import igraph as ig

    edges = np.column_stack([src, dst]).astype(np.int64)  # igraph reads an int64 array directly
    graph = ig.Graph(n=n, edges=edges, directed=False)
    graph.es["weight"] = weight.tolist()
    return graph


def _consensus(original, keep: np.ndarray, weight: np.ndarray):
    """``original`` with only the edges where ``keep`` holds, weighted ``weight`` (same order)."""
    graph = original.subgraph_edges(np.flatnonzero(keep).tolist(), delete_vertices=False)
    graph.es["weight"] = weight.tolist()
    return graph


@contextmanager
def _igraph_rng(seed: int) -> Iterator[None]:
    """igraph draws from Python's ``random`` module; use a private seeded one meanwhile."""
    import igraph as ig

    ig.set_random_number_generator(random.Random(seed))  # noqa: S311 (reproducible, not secret)
    try:
        yield
    finally:
        ig.set_random_number_generator(random)


def _leiden(graph, resolution: float, seed: int) -> tuple[np.ndarray, float]:
    """igraph's native Leiden on modularity, one pass at a time, at most
    ``LEIDEN_ITERATIONS`` passes, stopping once a pass no longer improves quality;
    the partition and its quality (modularity at ``resolution``, as igraph reports it)."""
    membership, quality = None, -np.inf
    with _igraph_rng(seed):
        for _ in range(LEIDEN_ITERATIONS):
            found = graph.community_leiden(
                objective_function="modularity",
                weights="weight",
                resolution=resolution,
                n_iterations=1,
                initial_membership=membership,
            )
            gained = float(found.quality)  # = graph.modularity(...), without a second pass
            if membership is not None and gained <= quality + 1e-12:
                break
            membership, quality = found.membership, gained
    return np.asarray(membership, dtype=np.int64), quality


def _louvain(
    n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, resolution: float, seed: int
) -> np.ndarray:
    import community as community_louvain
    import networkx as nx

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), weight.tolist(), strict=True))
    found = community_louvain.best_partition(
        graph, weight="weight", resolution=resolution, random_state=seed
    )
    return np.fromiter((found[i] for i in range(n)), dtype=np.int64, count=n)


def renumber(membership: np.ndarray) -> np.ndarray:
    """Communities numbered by size (0 = largest), ties by their lowest node."""
    labels, first, inverse, counts = np.unique(
        membership, return_index=True, return_inverse=True, return_counts=True
    )
    order = np.lexsort((first, -counts))
    new = np.empty(len(labels), dtype=np.int32)
    new[order] = np.arange(len(labels), dtype=np.int32)
    return new[inverse.ravel()]


def _runs(
    graph,
    edges: tuple[np.ndarray, np.ndarray, np.ndarray],
    algorithm: str,
    resolution: float,
    seeds: list[int],
) -> tuple[list[np.ndarray], list[float]]:
    """One partition per seed on ``graph`` (built from ``edges``), and each one's
    quality at ``resolution``."""
    src, dst, weight = edges
    found, quality = [], []
    for seed in seeds:
        if algorithm == "leiden":
            raw, gained = _leiden(graph, resolution, seed)
        else:
            raw = _louvain(graph.vcount(), src, dst, weight, resolution, seed)
            gained = graph.modularity(raw.tolist(), weights="weight", resolution=resolution)
        found.append(raw)
        quality.append(gained)
    return found, quality


def detect(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    algorithm: str,
    resolution: float,
    seed: int,
    runs: int = RUNS,
    rounds: int = ROUNDS,
) -> Partition:
    """Communities of an undirected weighted graph on nodes ``0..n-1``.

    ``runs`` seeded runs; with ``rounds`` > 1 each further round runs again on
    the consensus graph: every edge's weight times the share of the previous
    round's runs that put both ends in one community (edges no run kept inside
    are dropped). The last round's best partition (quality at ``resolution``,
    ties to the earliest seed) is returned.
    """
    if algorithm not in ("leiden", "louvain"):
        raise ValueError(f"unknown algorithm {algorithm!r}")
    if n == 0:
        return Partition(np.zeros(0, np.int32), 0.0, [])
    runs, rounds = max(runs, 1), max(rounds, 1) if runs > 1 else 1
    edges = (src, dst, weight)
    original = graph = _igraph(n, src, dst, weight)
    found: list[np.ndarray] = []
    for round_ in range(rounds):
        seeds = [(seed + 7919 * run + 104729 * round_) % 2**31 for run in range(runs)]
        if round_:
            together = np.mean([found[i][src] == found[i][dst] for i in range(runs)], axis=0)
            keep = together > 0
            edges = (src[keep], dst[keep], weight[keep] * together[keep])
            graph = _consensus(original, keep, edges[2])
        found, quality = _runs(graph, edges, algorithm, resolution, seeds)
    membership = renumber(found[int(np.argmax(quality))])
    modularity = original.modularity(membership.tolist(), weights="weight") if len(src) else 0.0
    sizes = np.bincount(membership).tolist()
    return Partition(membership, float(modularity), sizes)


def normalized_mutual_info(truth: np.ndarray, found: np.ndarray) -> float:
    """NMI of two labelings (arithmetic-mean normalisation, as scikit-learn's default)."""
    _, a = np.unique(truth, return_inverse=True)
    _, b = np.unique(found, return_inverse=True)
    a, b = a.ravel(), b.ravel()
    n = len(a)
    if n == 0:
        return 1.0
    joint = np.bincount(a * (b.max() + 1) + b).astype(np.float64) / n
    joint = joint[joint > 0]
    pa_, pb_ = np.bincount(a) / n, np.bincount(b) / n
    h_a = -np.sum(pa_[pa_ > 0] * np.log(pa_[pa_ > 0]))
    h_b = -np.sum(pb_[pb_ > 0] * np.log(pb_[pb_ > 0]))
    pairs = np.unique(a * (b.max() + 1) + b)
    outer = pa_[pairs // (b.max() + 1)] * pb_[pairs % (b.max() + 1)]
    mutual = float(np.sum(joint * np.log(joint / outer)))
    if h_a == 0 and h_b == 0:
        return 1.0
    return max(0.0, mutual / ((h_a + h_b) / 2))


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (1 = identical up to renaming)."""
    _, x = np.unique(a, return_inverse=True)
    _, y = np.unique(b, return_inverse=True)
    x, y = x.ravel().astype(np.int64), y.ravel().astype(np.int64)
    n = len(x)
    if n < 2:
        return 1.0
    pairs = lambda c: float((c * (c - 1) / 2).sum())  # noqa: E731
    both = pairs(np.bincount(x * (y.max() + 1) + y).astype(np.float64))
    rows, cols = pairs(np.bincount(x).astype(np.float64)), pairs(np.bincount(y).astype(np.float64))
    expected = rows * cols / (n * (n - 1) / 2)
    top = (rows + cols) / 2 - expected
    return 1.0 if top == 0 else (both - expected) / top
