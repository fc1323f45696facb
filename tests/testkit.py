"""Small helpers every test area shares (import as ``tests.testkit``): one copy each."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

DAGS = Path(__file__).resolve().parents[1] / "dags"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def aws_connection(endpoint_url: str, region: str = "us-east-1", **extra: Any) -> str:
    """An Airflow AWS connection (JSON form, for ``AIRFLOW_CONN_…``) pointing at a moto server."""
    extra = {"endpoint_url": endpoint_url, "region_name": region, **extra}
    return json.dumps(
        {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    )


def load_dag(dag_id: str, path: Path | None = None):
    """The DAG in ``dags/<dag_id>.py``, parsed the way the DAG processor parses it.

    Needs a migrated metadata DB (the ``airflow_db`` fixture) to run the DAG after.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(path or DAGS / f"{dag_id}.py"))
    assert not bag.import_errors, bag.import_errors
    return bag.dags[dag_id]
