"""Model: how fast chat coverage comes back after every connection dropped at once.

``python -m vieweratlas_collector.rejoin_model [--channels 5000] [--shards 1]``

A simulation, not a live run: every channel must be re-JOINed through the
collector's own :class:`JoinLimiter` (Twitch's 20 JOINs / 10 s plus the 10 %
margin), driven by a virtual clock so 46 minutes take milliseconds. A
channel's share of the chatter volume follows its viewer rank as a power law
(volume of rank ``r`` proportional to ``r ** -a``; Twitch audiences are close
to Zipf, ``a`` = 1, and ``a`` is varied to show the sensitivity). Two orders
are compared: by rank (what the collector does: the limiter serves the
best-ranked waiting channel first) and arbitrary (the order before, here a
seeded shuffle). Shards on separate IPs rejoin in parallel, each its share.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random

from vieweratlas_collector.ratelimit import JoinLimiter


def join_times(count: int, limit: int, window: float) -> list[float]:
    """Seconds after the drop at which each of ``count`` JOINs goes out."""

    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    limiter = JoinLimiter(limit, window, clock=clock)
    times = []
    for _ in range(count):
        clock.now += limiter.delay()
        limiter.take()
        times.append(clock.now)
    return times


def time_to_cover(
    channels: int, shards: int, exponent: float, ordered: bool, share: float = 0.9
) -> float:
    """Seconds until ``share`` of the expected chatter volume is joined again."""
    volume = [r**-exponent for r in range(1, channels + 1)]
    total = sum(volume)
    rng = random.Random(16)  # noqa: S311 - a model, not crypto
    back = [0.0] * channels
    for shard in range(shards):
        mine = list(range(shard, channels, shards))  # each shard: a spread of ranks
        if not ordered:
            rng.shuffle(mine)
        for channel, at in zip(mine, join_times(len(mine), 20, 10.0), strict=True):
            back[channel] = at
    order = sorted(range(channels), key=back.__getitem__)
    covered = list(itertools.accumulate(volume[c] / total for c in order))
    return back[order[bisect.bisect_left(covered, share)]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--channels", type=int, default=5000)
    args = parser.parse_args(argv)
    rows = []
    for shards in (1, 4):
        for exponent in (0.8, 1.0, 1.2):
            row = {"channels": args.channels, "shards": shards, "zipf_a": exponent}
            for ordered in (True, False):
                seconds = time_to_cover(args.channels, shards, exponent, ordered)
                row["by_rank_min" if ordered else "arbitrary_min"] = round(seconds / 60, 1)
            rows.append(row)
    row = {"all_channels_min": round(join_times(args.channels, 20, 10.0)[-1] / 60, 1)}
    print(json.dumps({"time_to_90pct_volume": rows, "one_shard": row}, indent=1))


if __name__ == "__main__":
    main()
