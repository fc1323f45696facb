"""Community tracking: ids, colours and events on planted days; the track step in the lake."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from vieweratlas import lake as keys
from vieweratlas.history import track_step
from vieweratlas.params import AnalysisParams
from vieweratlas.synthetic_evolution import (
    EvolutionSpec,
    PlantedDay,
    as_day,
    evaluate,
    evolve,
    replay,
    write_day,
)
from vieweratlas.tracking import Thresholds, assign_colors, track

# label: channel ids (100 chatters each). Yesterday -> today:
# A+B merge, S splits in two, D dies, N is born, G grows, H shrinks, channel 70 moves X -> Y,
# R ends and Q starts (sharing two channels).
YESTERDAY = {
    "A": range(1, 11),
    "B": range(11, 17),
    "S": range(21, 31),
    "D": range(31, 35),
    "G": range(41, 46),
    "H": range(51, 61),
    "X": range(61, 71),
    "Y": range(71, 81),
    "R": range(91, 101),
}
TODAY = {
    "A": range(1, 17),
    "S": range(21, 26),
    "T": range(26, 31),
    "N": range(81, 86),
    "G": range(41, 50),
    "H": range(51, 55),
    "X": range(61, 70),
    "Y": range(70, 81),
    "Q": [91, 92, *range(101, 111)],  # too little of R (Jaccard 0.1) to carry its id
}
NAMES = sorted(set(YESTERDAY) | set(TODAY))


def planted(groups: dict, chatters: int = 100) -> PlantedDay:
    ids = np.concatenate([np.asarray(r, np.int64) for r in groups.values()])
    labels = np.concatenate([np.full(len(r), NAMES.index(k)) for k, r in groups.items()])
    return PlantedDay(ids, labels, np.full(len(ids), chatters, np.int64))


def name_of(day: PlantedDay, uids: list[str]) -> dict[str, str]:
    """uid -> planted name for one day."""
    _, labels = as_day(day)
    return {uid: NAMES[int(labels[n])] for n, uid in enumerate(uids)}


def test_every_event_type_on_a_planted_pair_of_days():
    before, after = planted(YESTERDAY), planted(TODAY)
    prev, _ = as_day(before)
    first = track(None, prev, "2026-03-01", Thresholds(), palette_size=40)
    assert first.events == [] and len(set(first.uids)) == 9
    prev.uids, prev.colors = first.uids, first.colors
    cur, _ = as_day(after)
    result = track(prev, cur, "2026-03-02", Thresholds(), palette_size=40)

    was, now = name_of(before, first.uids), name_of(after, result.uids)
    got = {
        (
            e["event"],
            tuple(sorted(was[u] for u in e["from_uids"])),
            tuple(sorted(now[u] for u in e["to_uids"])),
        )
        for e in result.events
    }
    assert got == {
        ("merge", ("A", "B"), ("A",)),
        ("split", ("S",), ("S", "T")),
        ("death", ("D",), ()),
        ("birth", (), ("N",)),
        ("death", ("R",), ()),
        ("birth", (), ("Q",)),
        ("grow", ("G",), ("G",)),
        ("shrink", ("H",), ("H",)),
    }
    # persisting communities keep their id and colour; new ones get today's ids
    uid_was = {v: k for k, v in was.items()}
    colour_was = dict(zip(first.uids, first.colors.tolist(), strict=True))
    for n, uid in enumerate(result.uids):
        name = now[uid]
        if name in ("A", "G", "H", "X", "Y"):
            assert uid == uid_was[name]
            assert result.colors[n] == colour_was[uid]
        if name in ("T", "N"):
            assert uid.startswith("c20260302-")
    assert now[result.uids[0]] != "S" or "S" in now.values()
    assert len(set(result.colors.tolist())) == len(result.colors)
    assert result.moves["channel_id"].tolist() == [70]
    assert now[result.uids[int(result.moves["to_c"][0])]] == "Y"


def test_colours_stay_and_new_communities_take_free_ones():
    colours = assign_colors(np.array([3, -1, 0, -1, 45]), np.array([5, 9, 4, 1, 8.0]), 40)
    assert colours[[0, 2]].tolist() == [3, 0]  # kept
    assert colours[1] == 1 and colours[3] == 4  # biggest new first, smallest free index
    assert colours[4] == 2  # grey (past the palette) but big: promoted to a free colour
    assert len(set(colours.tolist())) == 5


@pytest.mark.parametrize("seed", [0, 1])
def test_planted_evolution_is_recovered(seed):
    evolution = evolve(EvolutionSpec(channels=2000, communities=50, days=6, seed=seed))
    scores = evaluate(evolution, replay(evolution, Thresholds()))
    for kind, score in scores["events"].items():
        assert score["planted"] > 0, kind
        assert score["precision"] >= 0.9, (kind, score)
        assert score["recall"] >= 0.9, (kind, score)
    assert scores["ids_kept"] >= 0.98, scores


DAYS = [(date(2026, 3, 1) + timedelta(days=k)).isoformat() for k in range(6)]


def _uids(lake, day) -> dict[int, str]:
    nodes = lake.read_parquet(keys.analysis_file(day, "graph_nodes.parquet"))
    return dict(
        zip(nodes["channel_id"].to_pylist(), nodes["community_uid"].to_pylist(), strict=True)
    )


@pytest.mark.parametrize("data_root", ["file", "s3"], indirect=True)
def test_track_step_in_the_lake_rerun_gap_and_stale(lake):
    params = AnalysisParams(track_lookback_days=2, timeline_days=10)
    one_each = dict(merges=1, splits=1, births=1, deaths=1, grows=1, shrinks=1, moves=5)
    spec = EvolutionSpec(channels=800, communities=16, days=6, min_size=10, **one_each)
    evolution = evolve(spec)
    for day, planted_day in zip(DAYS, evolution.days, strict=True):
        if day != DAYS[3]:  # day 3 was never analysed
            write_day(lake, planted_day, day)
    stats = [track_step(lake, day, params) for day in DAYS if day != DAYS[3]]
    assert [s["previous_day"] for s in stats] == [None, DAYS[0], DAYS[1], DAYS[2], DAYS[4]]
    assert stats[1]["events"]["merge"] == 1 and stats[1]["events"]["birth"] == 1

    communities = lake.read_parquet(keys.analysis_file(DAYS[4], "communities.parquet"))
    assert {"community_uid", "color_index"} <= set(communities.column_names)
    events = lake.read_parquet(keys.analysis_file(DAYS[1], "events.parquet"))
    assert {"birth", "death", "merge", "split", "grow", "shrink", "move"} <= set(
        events["event"].to_pylist()
    )
    assert lake.read_bytes(keys.analysis_file(DAYS[1], "events.csv")).startswith(b'"date"')
    assert lake.read_bytes(keys.analysis_file(DAYS[5], "timeline.png")).startswith(b"\x89PNG")

    # Re-running a day gives the same ids and leaves later days alone.
    before = {n: lake.read_bytes(keys.analysis_file(DAYS[2], n)) for n in ("events.parquet",)}
    uids = _uids(lake, DAYS[2])
    again = track_step(lake, DAYS[2], params)
    assert _uids(lake, DAYS[2]) == uids
    assert (
        lake.read_bytes(keys.analysis_file(DAYS[2], "events.parquet")) == before["events.parquet"]
    )
    assert again["stale_days"] == []

    # The gap beyond the look-back starts ids afresh (never reusing an earlier one).
    short = AnalysisParams(track_lookback_days=1, timeline_days=10)
    fresh = track_step(lake, DAYS[4], short)
    assert fresh["previous_day"] is None
    assert not set(_uids(lake, DAYS[4]).values()) & set(_uids(lake, DAYS[2]).values())
    assert fresh["stale_days"] == [DAYS[5]]  # day 5 was tracked against the old day 4
    assert lake.read_json(keys.analysis_file(DAYS[5], "tracking.json"))["stale"] is True
    page = lake.read_bytes(keys.analysis_file(DAYS[5], "timeline.html")).decode()
    assert "Stale" not in page  # written before; re-running day 5 refreshes it
    refreshed = track_step(lake, DAYS[5], short)
    assert refreshed["stale_because"] is None
    assert lake.read_json(keys.analysis_file(DAYS[5], "tracking.json"))["stale"] is False
    assert set(_uids(lake, DAYS[5]).values()) & set(_uids(lake, DAYS[4]).values())


def test_notification_mentions_births_deaths_merges_and_splits():
    from vieweratlas.alerts import summary_message
    from vieweratlas.settings import load_settings

    tracking = {
        "previous_day": "2026-03-01",
        "events": {"birth": 2, "death": 1, "merge": 1, "split": 0, "grow": 3, "shrink": 0},
        "listed": {
            "merge": [
                {"label": "Valorant\nSubject: x", "from_uids": ["ca", "cb"], "to_uids": ["ca"]}
            ]
        },
        "stale_days": ["2026-03-03"],
    }
    _, body = summary_message({"date": "2026-03-02", "tracking": tracking}, load_settings())
    assert "Changes since 2026-03-01: 2 births, 1 deaths, 1 merges, 0 splits, 3 grew" in body
    assert "  merge: Valorant Subject: x (ca + cb -> ca)" in body  # one line
    assert "2026-03-03" in body
    _, first = summary_message({"tracking": {"previous_day": None, "events": {}}}, load_settings())
    assert "tracking starts on this day" in first


def test_colour_indices_fit_the_maps_palette():
    from vieweratlas.history import palette_size
    from vieweratlas.timeline import palette

    assert palette_size() == len(palette()[0])
