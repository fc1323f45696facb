"""Layout quality and speed on the real Twitch graph and on planted synthetic data.

    .venv/bin/python scripts/bench_layout.py [--seeds 3] [--variants]

Metrics (issue 11): (a) share of the 20 largest communities whose most related
community (normalised affinity) is among the 3 nearest centroids; (b) Spearman
rank correlation between normalised affinity and centroid distance over all
pairs of drawn communities (negative is good); (c) neighbour preservation:
per channel with >= 10 overlaps, the share of its 10 nearest dots among its 10
strongest overlaps (cosine). Real graph: tests/data/twitch-atlas-2021-10
(Twitch Atlas, MIT), communities by ``communities.detect`` with the defaults,
affinity summed over all listed pairs. Prints a table; wall time per layout.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
from scipy import sparse, stats
from scipy.spatial import cKDTree

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from scripts.bench_maps import planted_graph
from scripts.real_graph import load

from vieweratlas import layout
from vieweratlas.communities import RUNS, detect
from vieweratlas.params import AnalysisParams

VARIANTS = {
    "chosen": {},
    "no lobes": {"SPLIT": 10**9},
    "spread 3": {"SPREAD": 3.0},
    "closeness 0.25": {"CLOSENESS": 0.25},
    "rim share 0.8": {"RIM_SHARE": 0.8},
    "no touching": {"RIM_SHARE": 0.0},
    "all best touch": {"RIM_SHARE": 100.0},
    "compacted to 0.6": {"COMPACT": 0.6},
    "relative, spread 3": {"TARGETS": "relative", "SPREAD": 3.0},
    "relative, spread 5": {"TARGETS": "relative", "SPREAD": 5.0},
    "backbone affinity": {"_backbone": True},
}


def affinity_of(community, src, dst, weight) -> np.ndarray:
    """Dense (C, C) summed pair weight between communities (sparse aggregation)."""
    c = int(community.max()) + 1
    mat = sparse.coo_matrix((weight, (community[src], community[dst])), shape=(c, c)).toarray()
    return mat + mat.T


def quality(positions, community, affinity, src, dst, score) -> tuple[float, float, float]:
    """The three metrics (a), (b), (c) described in the module docstring."""
    ids, counts = np.unique(community, return_counts=True)
    drawn = ids[counts >= layout.MIN_GROUP]
    drawn = drawn[np.argsort(-counts[np.isin(ids, drawn)], kind="stable")]
    centre = np.array([positions[community == c].mean(axis=0) for c in drawn])
    sim = layout._normalise(affinity[np.ix_(drawn, drawn)] * (1 - np.eye(len(drawn))))
    dist = np.sqrt(((centre[:, None] - centre[None]) ** 2).sum(axis=2))
    np.fill_diagonal(dist, np.inf)
    hits = []
    for i in range(min(20, len(drawn))):
        if sim[i].max() <= 0:
            continue
        hits.append(int(np.argmax(sim[i])) in np.argsort(dist[i])[:3])
    upper = np.triu_indices(len(drawn), 1)
    rho = stats.spearmanr(sim[upper], dist[upper]).statistic
    n = len(community)
    ends, other = np.r_[src, dst], np.r_[dst, src]
    s2 = np.r_[score, score]
    order = np.lexsort((-s2, ends))
    first = np.searchsorted(ends[order], ends[order])
    rank = np.arange(len(order)) - first
    deg = np.bincount(ends, minlength=n)
    keep = order[rank < 10]
    strong = sparse.coo_matrix(
        (np.ones(len(keep)), (ends[keep], other[keep])), shape=(n, n)
    ).tocsr()
    who = np.flatnonzero(deg >= 10)
    _, near = cKDTree(positions).query(positions[who], k=11)
    found = np.asarray(strong[np.repeat(who, 10), near[:, 1:].ravel()]).reshape(len(who), 10)
    return float(np.mean(hits)), float(rho), float(found.sum(axis=1).mean() / 10)


class Fill:
    """Records the community discs ``compute_layout`` places: ``value`` is their
    summed area over the area of the circle around them (how dense the map is)."""

    def __init__(self) -> None:
        self.value = float("nan")
        self._place = layout._place_communities

    def __call__(self, radii, sim, rng):
        centres = self._place(radii, sim, rng)
        mid = (centres.max(axis=0, initial=0) + centres.min(axis=0, initial=0)) / 2
        reach = (np.sqrt(((centres - mid) ** 2).sum(axis=1)) + radii).max(initial=0)
        self.value = float((radii**2).sum() / reach**2) if reach > 0 else float("nan")
        return centres


def hubs(community, affinity) -> tuple[int, float]:
    """Why big communities are hard (real graph): how many of the 20 largest share
    one most related community, and Spearman of affinity vs touching distance."""
    ids, counts = np.unique(community, return_counts=True)
    keep = counts >= layout.MIN_GROUP
    order = np.argsort(-counts[keep], kind="stable")
    drawn, size = ids[keep][order], counts[keep][order]
    sim = layout._normalise(affinity[np.ix_(drawn, drawn)] * (1 - np.eye(len(drawn))))
    best = np.argmax(sim[:20], axis=1)
    radius = np.sqrt(size / (np.pi * layout.FILL))
    upper = np.triu_indices(len(drawn), 1)
    touch = (radius[:, None] + radius[None, :])[upper]
    return int(np.bincount(best).max()), float(stats.spearmanr(sim[upper], touch).statistic)


@contextlib.contextmanager
def variant(settings: dict, fill: Fill):
    """``layout`` with the variant's constants (keys with ``_``: bench flags) and
    ``fill`` recording the community discs."""
    saved = {k: getattr(layout, k) for k in settings if not k.startswith("_")}
    saved["_place_communities"] = layout._place_communities
    for k, v in {**settings, "_place_communities": fill}.items():
        if k in saved:
            setattr(layout, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(layout, k, v)


def datasets(seed: int, top_k: int | None = None):
    """(name, nodes, edges, community affinity, pairs src/dst/score) per data set;
    the real graph's backbone keeps ``top_k`` pairs per channel (default: params')."""
    params = AnalysisParams(**({"top_k": top_k} if top_k else {}))
    real = load()
    bb = real.backbone(params.top_k)
    found = detect(
        len(real.logins),
        bb["src"].to_numpy(),
        bb["dst"].to_numpy(),
        bb["score"].to_numpy(),
        params.algorithm,
        params.resolution,
        seed,
        runs=RUNS,
    )
    comm = found.membership.astype(np.int64)
    aff = affinity_of(comm, real.src, real.dst, real.weight)
    yield "real 2,200", real.nodes(comm), bb, aff, (real.src, real.dst, real.score)
    nodes, edges, _ = planted_graph(5000, 50000, 60, seed=seed, p_in=0.8, related=0.8)
    comm = nodes["community"].to_numpy().astype(np.int64)
    s, d = edges["src"].to_numpy(), edges["dst"].to_numpy()
    sc = edges["score"].to_numpy()
    yield "synthetic 5,000", nodes, edges, affinity_of(comm, s, d, sc), (s, d, sc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--variants", action="store_true", help="also the other methods tried")
    parser.add_argument("--top-k", type=int, help="real graph's backbone top_k (default: params')")
    args = parser.parse_args()
    names = list(VARIANTS) if args.variants else ["chosen"]
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(
        f"{'data':16s} {'method':18s} {'(a) top3':>9s} {'(b) rho':>8s} {'(c) nbr':>8s}"
        f" {'fill':>5s} {'wall s':>6s} {'cpu s':>6s}"
    )
    rows: dict[tuple[str, str], list] = {}
    for seed in range(args.seeds):
        for name, nodes, edges, aff, (s, d, sc) in datasets(seed, args.top_k):
            comm = nodes["community"].to_numpy().astype(np.int64)
            if seed == 0 and name.startswith("real"):
                most, rho = hubs(comm, aff)
                print(
                    f"{name}: one community is the most related of {most} of the 20 largest;"
                    f" Spearman(affinity, touching distance) {rho:+.2f}"
                )
            for method in names:
                fill = Fill()
                with variant(VARIANTS[method], fill):
                    given = None if VARIANTS[method].get("_backbone") else aff
                    clock, cpu = time.perf_counter(), time.process_time()
                    pos = layout.compute_layout(nodes, edges, seed, given)
                    took = time.perf_counter() - clock
                    took_cpu = time.process_time() - cpu
                rows.setdefault((name, method), []).append(
                    (*quality(pos, comm, aff, s, d, sc), fill.value, took, took_cpu)
                )
    for (name, method), values in rows.items():
        a, b, c, f, t, cpu = np.mean(values, axis=0)
        print(f"{name:16s} {method:18s} {a:9.2f} {b:8.2f} {c:8.2f} {f:5.2f} {t:6.2f} {cpu:6.2f}")


if __name__ == "__main__":
    main()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (data, graphs and every run): {peak:,.0f} MB")
