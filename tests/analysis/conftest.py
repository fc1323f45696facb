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
