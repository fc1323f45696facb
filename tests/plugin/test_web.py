"""The map app on both storage roots: what it serves, with which headers, and what it refuses."""

from __future__ import annotations

import re
import uuid

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from tests.plugin.published import publish_day

from vieweratlas import lake as keys
from vieweratlas import links
from vieweratlas.airflow_glue import open_lake
from vieweratlas.settings import load_settings
from vieweratlas.web import create_app

DAYS = ["2026-05-01", "2026-05-02"]


def allow() -> None:
    """Stands in for Airflow's access check (the api-server test runs the real one)."""


@pytest.fixture(scope="module", params=["file", "s3"])
def lake(request, tmp_path_factory):
    """One lake per storage root for the whole module (publishing is the slow part)."""
    if request.param == "file":
        root = tmp_path_factory.mktemp("web").joinpath("data").as_uri()
    else:
        root = f"s3://{request.getfixturevalue('moto_server').bucket}/web-{uuid.uuid4().hex[:8]}"
    return open_lake(load_settings({"VIEWERATLAS_DATA_ROOT": root}))


@pytest.fixture(scope="module")
def published(lake):
    summaries = {day: publish_day(lake, day, seed=i + 1) for i, day in enumerate(DAYS)}
    lake.write_bytes("secret.txt", b"not for the web")
    return summaries


@pytest.fixture(scope="module")
def client(lake, published):
    app = create_app(open_lake=lambda: lake, access=allow)
    with TestClient(app, root_path=links.PREFIX) as test_client:
        yield test_client


def test_index_lists_dates_with_summaries_and_links(client, published):
    reply = client.get("/")
    assert reply.status_code == 200
    text = reply.text
    assert text.index("2026-05-02") < text.index("2026-05-01")  # newest first
    for day, summary in published.items():
        assert f'href="/vieweratlas/dates/{day}/map.html"' in text
        assert f'href="/vieweratlas/dates/{day}/nodes.csv"' in text
        assert f"{summary['counts']['channels']:,} channels" in text
        assert "modularity 0.610" in text
    assert 'href="/vieweratlas/latest/map.html"' in text
    assert "<script" not in text.lower()
    assert "default-src 'none'" in reply.headers["content-security-policy"]


@pytest.mark.parametrize(
    "path, key",
    [
        ("/latest/map.html", keys.analysis_latest("map.html")),
        ("/dates/2026-05-01/map.html", keys.analysis_file("2026-05-01", "map.html")),
    ],
)
def test_map_keeps_its_own_csp_in_the_header(client, lake, path, key):
    reply = client.get(path)
    assert reply.status_code == 200
    assert reply.content == lake.read_bytes(key)
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', reply.text)
    assert meta, "the map's own policy is still in the page"
    assert reply.headers["content-security-policy"] == meta.group(1) + "; frame-ancestors 'self'"
    assert reply.headers["content-type"] == "text/html; charset=utf-8"


def test_files_come_byte_for_byte_with_strict_headers(client, lake):
    png = client.get("/dates/2026-05-01/map.png")
    assert png.content == lake.read_bytes(keys.analysis_file("2026-05-01", "map.png"))
    assert png.headers["content-type"] == "image/png"
    assert png.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'self'"
    assert png.headers["x-content-type-options"] == "nosniff"
    csv = client.get("/dates/2026-05-02/edges.csv")
    assert csv.content == lake.read_bytes(keys.analysis_file("2026-05-02", "edges.csv"))
    assert csv.headers["content-disposition"] == 'attachment; filename="edges.csv"'
    assert client.get("/latest/summary.json").json()["date"] == "2026-05-02"


@pytest.mark.parametrize(
    "path",
    [
        "/dates/2026-06-01/map.html",  # a real date never analysed
        "/dates/2026-02-30/map.html",  # not a date
        "/dates/20260501/map.html",
        "/dates/2026-05-01/communities.parquet",  # published, but not served
        "/dates/2026-05-01/_work/edges.parquet",
        "/dates/2026-05-01/..%2F..%2F..%2Fsecret.txt",
        "/dates/..%2F..%2Fsecret.txt/map.html",
        "/dates/2026-05-01%2F..%2F..%2F..%2Fsecret.txt/map.html",
        "/latest/..%2F..%2Fsecret.txt",
        "/latest/secret.txt",
        "/../secret.txt",
        "/secret.txt",
    ],
)
def test_unknown_dates_and_crafted_paths_are_404(client, path):
    reply = client.get(path)
    assert reply.status_code == 404, reply.text
    assert "not for the web" not in reply.text


def test_dag_tab_opens_the_latest_map_and_explains_elsewhere(client):
    reply = client.get("/dags/daily_analysis", follow_redirects=False)
    assert reply.status_code == 307
    assert reply.headers["location"] == "/vieweratlas/latest/map.html"
    other = client.get("/dags/channel_refresh")
    assert other.status_code == 200 and "daily_analysis" in other.text
    assert "<code>channel_refresh</code>" in other.text


def test_every_route_is_behind_the_access_check(lake, published):
    def refuse() -> None:
        raise HTTPException(403, "no")

    app = create_app(open_lake=lambda: lake, access=refuse)
    with TestClient(app) as test_client:
        for path in ["/", "/latest/map.html", "/dates/2026-05-01/map.png", "/dates/x/y",
                     "/dags/daily_analysis", "/runs/daily_analysis/r1", "/nope"]:  # fmt: skip
            assert test_client.get(path).status_code in (403, 404), path
            if path != "/nope":
                assert test_client.get(path).status_code == 403, path


def test_empty_lake_index_explains(tmp_path):
    empty = open_lake(load_settings({"VIEWERATLAS_DATA_ROOT": tmp_path.as_uri()}))
    app = create_app(open_lake=lambda: empty, access=allow)
    with TestClient(app) as test_client:
        assert "No analysis has been published yet" in test_client.get("/").text
        assert test_client.get("/latest/map.html").status_code == 404
