"""Communities: python-louvain or Leiden behind one seeded, deterministic function.

Both run on the backbone with the cosine score as edge weight (so a giant
channel does not pull everything into its community). One run depends on its
seed (channels on the edge of two scenes flip), so :func:`detect` runs ``runs``
seeds derived from the given one and keeps the partition with the best quality
at the chosen resolution. Leiden passes are bounded (``LEIDEN_ITERATIONS``). Communities are
renumbered by size: 0 is the largest (ties: the one holding the lowest node).
Modularity is reported at resolution 1 with the same weights, whichever
algorithm and resolution found the partition, so runs compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RUNS = 8  # seeds tried per detection; the best partition is kept
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

    graph = ig.Graph(n=n, edges=np.column_stack([src, dst]).tolist(), directed=False)
    graph.es["weight"] = weight.tolist()
    return graph


def _leiden(graph, resolution: float, seed: int) -> np.ndarray:
    import leidenalg

    found = leidenalg.RBConfigurationVertexPartition(
        graph, weights="weight", resolution_parameter=resolution
    )
    optimiser = leidenalg.Optimiser()
    optimiser.set_rng_seed(seed)
    for _ in range(LEIDEN_ITERATIONS):
        if optimiser.optimise_partition(found) <= 0:
            break
    return np.asarray(found.membership, dtype=np.int64)


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


def detect(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    weight: np.ndarray,
    algorithm: str,
    resolution: float,
    seed: int,
    runs: int = RUNS,
) -> Partition:
    """Communities of an undirected weighted graph on nodes ``0..n-1``: the best of
    ``runs`` seeded runs (quality at ``resolution``; ties to the earliest seed)."""
    if algorithm not in ("leiden", "louvain"):
        raise ValueError(f"unknown algorithm {algorithm!r}")
    if n == 0:
        return Partition(np.zeros(0, np.int32), 0.0, [])
    graph = _igraph(n, src, dst, weight)
    best, best_quality = None, -np.inf
    for run in range(max(runs, 1)):
        run_seed = (seed + 7919 * run) % 2**31
        if algorithm == "leiden":
            raw = _leiden(graph, resolution, run_seed)
        else:
            raw = _louvain(n, src, dst, weight, resolution, run_seed)
        quality = graph.modularity(raw.tolist(), weights="weight", resolution=resolution)
        if best is None or quality > best_quality + 1e-12:
            best, best_quality = raw, quality
    assert best is not None  # runs >= 1
    membership = renumber(best)
    quality = graph.modularity(membership.tolist(), weights="weight") if len(src) else 0.0
    sizes = np.bincount(membership).tolist()
    return Partition(membership, float(quality), sizes)


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
