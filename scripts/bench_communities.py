"""Choose the community resolution by measurement: stability across seeds and NMI.

    .venv/bin/python scripts/bench_communities.py [--seeds 5] [--runs 1 8]

Real graph (tests/data/twitch-atlas-2021-10, Twitch Atlas, MIT): communities,
modularity, and the adjusted Rand index between every pair of seeds. Synthetic
planted window (synthetic.py, 1,000 channels): NMI and ARI against the planted
communities. Prints one table row per (data, algorithm, resolution, runs).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from scripts.real_graph import load

from vieweratlas.communities import adjusted_rand_index, detect, normalized_mutual_info


def synthetic_graph(channels: int = 1000, seed: int = 11):
    """Backbone (src, dst, score) and planted community of a synthetic window."""
    from vieweratlas.overlap import backbone, build_incidence
    from vieweratlas.synthetic import SyntheticSpec, generate

    spec = SyntheticSpec(
        channels=channels, users=60 * channels, communities=30, in_community=0.6, seed=seed
    )
    window = generate(spec)
    inc = build_incidence([(window.channel_ids[c], u) for c, u, _ in window.days])
    kept = backbone(inc, "unique", 10)
    planted = window.planted[np.searchsorted(window.channel_ids, inc.channel_ids)]
    return len(inc.channel_ids), kept.src, kept.dst, kept.score, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--resolutions", type=float, nargs="+", default=[0.5, 1, 1.5, 2, 2.5])
    parser.add_argument("--algorithms", nargs="+", default=["leiden"])
    args = parser.parse_args()
    real = load()
    bb = real.backbone()
    graphs = {
        "real": (len(real.logins), *(bb[c].to_numpy() for c in ("src", "dst", "score")), None),
        "synthetic": synthetic_graph(),
    }
    print(
        "data      algo    res  runs  comms  modularity  ARI seeds (mean/min)  NMI/ARI planted"
        "  s/run"
    )
    for (name, (n, src, dst, score, planted)), algo, res, runs in itertools.product(
        graphs.items(), args.algorithms, args.resolutions, args.runs
    ):
        clock = time.perf_counter()
        found = [detect(n, src, dst, score, algo, res, s, runs=runs) for s in range(args.seeds)]
        per_run = (time.perf_counter() - clock) / args.seeds
        aris = [
            adjusted_rand_index(a.membership, b.membership)
            for a, b in itertools.combinations(found, 2)
        ]
        truth = ""
        if planted is not None:
            nmi = np.mean([normalized_mutual_info(planted, f.membership) for f in found])
            ari = np.mean([adjusted_rand_index(planted, f.membership) for f in found])
            truth = f"{nmi:.3f}/{ari:.3f}"
        comms = np.mean([sum(s >= 3 for s in f.sizes) for f in found])
        print(
            f"{name:9s} {algo:7s} {res:4.1f} {runs:4d} {comms:6.1f} "
            f"{np.mean([f.modularity for f in found]):10.4f}  "
            f"{np.mean(aris):9.3f}/{np.min(aris):.3f}      {truth:15s}  {per_run:5.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
