"""Test harness: a throwaway Airflow home, a moto server over real HTTP, both storage roots.

Airflow reads its configuration at import, so the environment is set here at
module import, before any test module imports Airflow. Each pytest-xdist worker
gets its own Airflow home and SQLite metadata DB.
"""

from __future__ import annotations

import os
import sys
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.testkit import aws_connection, free_port

ROOT = Path(__file__).resolve().parents[1]
INCLUDE = ROOT / "include"
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix=f"va-airflow-{WORKER}-"))
REGION = "us-east-1"
BUCKET = "vieweratlas-test"

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(AIRFLOW_HOME / "logs"),
        # Never talk to a real AWS account from tests.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "VIEWERATLAS_DATA_ROOT": (AIRFLOW_HOME / "data").as_uri(),
        "PYTHONPATH": os.pathsep.join(
            [str(INCLUDE), str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH", "")] if p]
        ),
    }
)
for name in [
    n for n in os.environ if n.startswith(("VIEWERATLAS_", "AIRFLOW_VAR_", "AIRFLOW_CONN_"))
]:
    if name not in ("VIEWERATLAS_DATA_ROOT", "VIEWERATLAS_SHOTS"):  # SHOTS: test screenshots
        del os.environ[name]
if str(INCLUDE) not in sys.path:
    sys.path.insert(0, str(INCLUDE))


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """A migrated SQLite metadata DB in a temporary AIRFLOW_HOME (once per worker)."""
    from airflow.utils import db

    db.resetdb(skip_init=False)
    return AIRFLOW_HOME


@dataclass
class MotoAWS:
    """A moto server on loopback with our bucket and topic."""

    endpoint_url: str
    bucket: str
    topic_arn: str
    server: object

    def client(self, service: str):
        import boto3

        return boto3.client(service, endpoint_url=self.endpoint_url, region_name=REGION)

    def restart(self) -> None:
        """Start the server again after ``stop()`` (state is lost; bucket re-created)."""
        self.server.start()


_WORKER_MOTO: list[MotoAWS] = []


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoAWS]:
    """A real moto server over HTTP on a free loopback port, with a bucket and a topic.

    Sets ``AIRFLOW_CONN_AWS_DEFAULT`` and ``AWS_ENDPOINT_URL`` so Airflow hooks and
    plain boto3 / s3fs clients (the collector, the downloader) reach it.
    """
    if _WORKER_MOTO:  # collector/tests registers this fixture too: one server per worker
        yield _WORKER_MOTO[0]
        return
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = aws_connection(endpoint, REGION)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name=REGION).create_bucket(Bucket=BUCKET)
    topic = boto3.client("sns", endpoint_url=endpoint, region_name=REGION).create_topic(
        Name="vieweratlas-alerts"
    )
    _WORKER_MOTO.append(MotoAWS(endpoint, BUCKET, topic["TopicArn"], server))
    yield _WORKER_MOTO[0]
    _WORKER_MOTO.clear()
    server.stop()
    os.environ.pop("AIRFLOW_CONN_AWS_DEFAULT", None)
    os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture(params=["file", "s3"])
def data_root(request, tmp_path, monkeypatch) -> str:
    """Both storage roots: a local folder and a fresh prefix in the moto bucket.

    Sets ``VIEWERATLAS_DATA_ROOT`` so settings, DAGs and programs under test use it.
    """
    if request.param == "file":
        root = (tmp_path / "data").as_uri()
    else:
        moto = request.getfixturevalue("moto_server")
        root = f"s3://{moto.bucket}/t-{uuid.uuid4().hex[:12]}"
    monkeypatch.setenv("VIEWERATLAS_DATA_ROOT", root)
    return root


@pytest.fixture
def lake(data_root):
    """The data lake under ``data_root``, opened the way tasks open it."""
    from vieweratlas.airflow_glue import open_lake
    from vieweratlas.settings import load_settings

    return open_lake(load_settings())
