"""Communities: python-louvain or Leiden behind one seeded, deterministic function.

Both run on the backbone with the cosine score as edge weight (so a giant
channel does not pull everything into its community). Communities are
renumbered by size: 0 is the largest (ties: the one holding the lowest node).
Modularity is reported at resolution 1 with the same weights, whichever
algorithm and resolution found the partition, so runs compare.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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

    found = leidenalg.find_partition(
        graph,
        leidenalg.RBConfigurationVertexPartition,
        weights="weight",
        resolution_parameter=resolution,
        n_iterations=-1,
        seed=seed,
    )
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
) -> Partition:
    """Communities of an undirected weighted graph on nodes ``0..n-1``."""
    if n == 0:
        return Partition(np.zeros(0, np.int32), 0.0, [])
    graph = _igraph(n, src, dst, weight)
    if algorithm == "leiden":
        raw = _leiden(graph, resolution, seed)
    elif algorithm == "louvain":
        raw = _louvain(n, src, dst, weight, resolution, seed)
    else:
        raise ValueError(f"unknown algorithm {algorithm!r}")
    membership = renumber(raw)
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
