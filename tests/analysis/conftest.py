"""Helpers for the analysis tests: presence files written the way the collector writes them."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest


def presence_table(rows: list[tuple], day: str = "2026-03-02"):
    """PRESENCE rows from (channel_id, channel_login, user_id, user_login, source) tuples."""
    import pyarrow as pa

    from vieweratlas.schema import PRESENCE

    at = datetime.fromisoformat(day).replace(hour=12, tzinfo=UTC)
    return pa.Table.from_pylist(
        [
            {
                "channel_id": c,
                "channel_login": cl,
                "user_id": u,
                "user_login": ul,
                "source": s,
                "content_id": "123" if s == "vod" else None,
                "first_seen": at,
                "last_seen": at,
                "message_count": 1,
            }
            for c, cl, u, ul, s in rows
        ],
        schema=PRESENCE,
    )


@pytest.fixture
def load_dag(airflow_db):
    """``load_dag(dag_id)``: a DAG from ``dags/`` parsed as the DAG processor does."""
    from tests.testkit import load_dag

    return load_dag


@pytest.fixture(scope="session")
def real_map_graph():
    """The real Twitch graph (tests/data/twitch-atlas-2021-10) as the maps get it:
    nodes, backbone edges, labelled communities (one Leiden run) and layout positions."""
    from scripts.real_graph import load

    from vieweratlas.communities import detect
    from vieweratlas.labels import community_table
    from vieweratlas.layout import compute_layout

    data = load()
    backbone = data.backbone()
    found = detect(
        len(data.logins), *(backbone[c].to_numpy() for c in ("src", "dst", "score")),
        "leiden", 1.0, 1, runs=1,
    )  # fmt: skip
    nodes = data.nodes(found.membership)
    return nodes, backbone, community_table(nodes), compute_layout(nodes, backbone, seed=1)
