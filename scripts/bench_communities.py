"""Choose the community resolution by measurement: stability across seeds and NMI.

    .venv/bin/python scripts/bench_communities.py [--seeds 5] [--runs 1 6] [--rounds 1 2]

Real graph (tests/data/twitch-atlas-2021-10, Twitch Atlas, MIT): communities,
modularity, and the adjusted Rand index between every pair of seeds. Planted
windows (synthetic.py): an easy one (1,000 channels) and the hard one
(``hard_spec``, 5,000 channels, backbone at the default ``top_k``): NMI and ARI
against the planted communities. ``--data`` picks the graphs. Prints one table
row per (data, algorithm, resolution, runs, rounds), with CPU seconds per detection.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from scripts.real_graph import load

from vieweratlas.communities import adjusted_rand_index, detect, normalized_mutual_info


def synthetic_graph(channels: int = 1000, seed: int = 11):
    """Backbone (src, dst, score) and planted community of an easy synthetic window."""
    from vieweratlas.synthetic import SyntheticSpec

    spec = SyntheticSpec(
        channels=channels, users=60 * channels, communities=30, in_community=0.6, seed=seed
    )
    return planted_graph(spec, top_k=10)


def hard_graph(top_k: int | None = None):
    """The hard planted window (``synthetic.hard_spec``: 5,000 channels, 1 M users,
    7 days, heavy-tailed audiences and community sizes), backbone at ``top_k``
    (default: the params')."""
    from vieweratlas.params import AnalysisParams
    from vieweratlas.synthetic import hard_spec

    spec = hard_spec(channels=5000, users=1_000_000, communities=100, days=7, seed=7)
    return planted_graph(spec, top_k=top_k or AnalysisParams().top_k)


def planted_graph(spec, top_k: int):
    """Backbone (src, dst, score) and planted community per channel of ``spec``'s window."""
    from vieweratlas.bots import bot_user_mask
    from vieweratlas.overlap import backbone, build_incidence, filter_window
    from vieweratlas.params import AnalysisParams
    from vieweratlas.synthetic import KNOWN_BOTS, generate

    window = generate(spec)
    inc = build_incidence([(window.channel_ids[c], u) for c, u, _ in window.days])
    params = AnalysisParams()  # the pipeline's bot and channel filters, as overlap_step
    bots, _, _ = bot_user_mask(
        inc.user_ids,
        inc.channels_per_user,
        len(inc.channel_ids),
        np.array(sorted(KNOWN_BOTS), np.int64),
        params.bot_channel_share,
    )
    inc = filter_window(inc, bots, params.min_chatters)
    kept = backbone(inc, "unique", top_k)
    planted = window.planted[np.searchsorted(window.channel_ids, inc.channel_ids)]
    return len(inc.channel_ids), kept.src, kept.dst, kept.score, planted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--runs", type=int, nargs="+", default=[1, 6])
    parser.add_argument("--rounds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--resolutions", type=float, nargs="+", default=[0.5, 1, 1.5, 2, 2.5])
    parser.add_argument("--algorithms", nargs="+", default=["leiden"])
    parser.add_argument(
        "--data", nargs="+", default=["real", "synthetic", "hard"], help="graphs to run"
    )
    parser.add_argument(
        "--top-k", type=int, help="real and hard backbones' top_k (default: params')"
    )
    args = parser.parse_args()
    graphs = {}
    if "real" in args.data:
        from vieweratlas.params import AnalysisParams

        real = load()
        bb = real.backbone(args.top_k or AnalysisParams().top_k)
        graphs["real"] = (len(real.logins), *(bb[c].to_numpy() for c in ("src", "dst", "score")))
        graphs["real"] += (None,)
    if "synthetic" in args.data:
        graphs["synthetic"] = synthetic_graph()
    if "hard" in args.data:
        graphs["hard"] = hard_graph(args.top_k)
    print(
        "data      algo    res  runs rounds  comms  modularity  ARI seeds (mean/min)"
        "  NMI/ARI planted  CPU s/detection"
    )
    for (name, (n, src, dst, score, planted)), algo, res, runs, rounds in itertools.product(
        graphs.items(), args.algorithms, args.resolutions, args.runs, args.rounds
    ):
        if runs == 1 and rounds > 1:
            continue  # one run has no consensus
        clock = time.process_time()
        found = [
            detect(n, src, dst, score, algo, res, s, runs=runs, rounds=rounds)
            for s in range(args.seeds)
        ]
        per_run = (time.process_time() - clock) / args.seeds
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
            f"{name:9s} {algo:7s} {res:4.2f} {runs:4d} {rounds:6d} {comms:6.1f} "
            f"{np.mean([f.modularity for f in found]):10.4f}  "
            f"{np.mean(aris):9.3f}/{np.min(aris):.3f}      {truth:15s}  {per_run:5.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (data, graphs and every run): {peak:,.0f} MB")
