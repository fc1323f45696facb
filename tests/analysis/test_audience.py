"""Distinct chatters per community from the ``members`` work file, against Python sets."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

import numpy as np
import pyarrow.parquet as pq
import pytest

from vieweratlas import audience, pipeline, presence
from vieweratlas import lake as keys
from vieweratlas.overlap import build_incidence
from vieweratlas.params import AnalysisParams
from vieweratlas.synthetic import SyntheticSpec, generate, write_daily_presence

DAY = "2026-03-04"
KEY = keys.analysis_file(DAY, "members.parquet")


def _window(seed: int):
    rng = np.random.default_rng(seed)
    days = []
    for _ in range(3):
        channel = rng.integers(10, 60, 3000)
        user = rng.zipf(1.6, 3000) % 900 + 5000  # a few heavy users in many channels
        days.append((channel.astype(np.int64), user.astype(np.int64)))
    return days


@pytest.mark.parametrize("group_rows", [1 << 21, 97])
def test_community_audience_counts_each_chatter_once_per_community(lake, monkeypatch, group_rows):
    monkeypatch.setattr(audience, "GROUP_ROWS", group_rows)  # many row groups at 97
    days = _window(3)
    incidence = build_incidence(days)
    rows = audience.write_members(lake, KEY, incidence)
    community = np.random.default_rng(4).integers(0, 7, len(incidence.channel_ids))

    members: dict[int, set[int]] = defaultdict(set)
    for channel, user in zip(*(np.concatenate(x) for x in zip(*days, strict=True)), strict=True):
        row = int(np.searchsorted(incidence.channel_ids, channel))
        members[int(community[row])].add(int(user))
    expected = [len(members[k]) for k in range(int(community.max()) + 1)]

    assert audience.community_audience(lake, KEY, community).tolist() == expected
    assert rows == incidence.days.nnz
    file = pq.ParquetFile(lake.fs.open(lake.path(KEY), "rb"))
    if group_rows == 97:
        assert file.num_row_groups > 10
    users = [set(file.read_row_group(g)["user"].to_pylist()) for g in range(file.num_row_groups)]
    assert all(not (a & b) for i, a in enumerate(users) for b in users[i + 1 :])  # no user split


def test_labels_step_audience_equals_a_recount_from_presence(lake):
    """The members file (local engine) and DuckDB over the presence files (Athena engine)
    give the same distinct chatters per community, bots and small channels left out."""
    spec = SyntheticSpec(channels=80, users=4000, communities=5, lurkers=3, days=3, seed=5)
    write_daily_presence(lake, generate(spec), date(2026, 3, 4))
    params = AnalysisParams(window_days=3, min_chatters=5)
    pipeline.overlap_step(lake, DAY, params)
    assert lake.exists(keys.analysis_file(DAY, "members.parquet"))
    pipeline.communities_step(lake, DAY, params)
    pipeline.labels_step(lake, DAY, params)
    channels = lake.read_parquet(keys.analysis_file(DAY, "channels.parquet"))
    membership = lake.read_parquet(keys.analysis_file(DAY, "membership.parquet"))
    table = lake.read_parquet(keys.analysis_file(DAY, "communities.parquet"))
    recount = presence.community_audience(
        lake,
        pipeline.window(DAY, 3),
        channels["channel_id"].to_numpy(),
        membership["community"].to_numpy(),
        params.bot_channel_share,
    )
    assert recount is not None
    got = dict(zip(table["community"].to_pylist(), table["audience"].to_pylist(), strict=True))
    assert [got[k] for k in range(len(recount))] == recount.tolist()
    summed = np.bincount(membership["community"].to_numpy(), channels["chatters"].to_numpy())
    assert (recount <= summed).all() and (recount < summed).any()  # chatters in several count once


def test_an_imported_graph_drops_a_members_file_left_by_an_earlier_run(lake):
    """Labels count from ``members`` whenever it exists, so an engine that writes none
    must not leave an earlier run's file behind (its channel rows would not match)."""
    from vieweratlas.edgelist import import_overlap

    incidence = build_incidence(_window(3))
    audience.write_members(lake, KEY, incidence)
    labels = b"ID,Label,Count\nalpha,Alpha,10\nbeta,Beta,8\n"
    import_overlap(lake, DAY, b"Source,Target,Weight\nalpha,beta,3\n", labels)
    assert not lake.exists(KEY)
