"""Helpers for the analysis tests: presence files written the way the collector writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

DAGS = Path(__file__).resolve().parents[2] / "dags"


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
    from airflow.dag_processing.dagbag import DagBag

    def load(dag_id: str):
        bag = DagBag(dag_folder=str(DAGS / f"{dag_id}.py"))
        assert not bag.import_errors, bag.import_errors
        return bag.dags[dag_id]

    return load
