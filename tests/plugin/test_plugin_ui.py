"""The map plugin in a real api-server, used through the real Airflow UI in headless Chromium.

The api-server and dag-processor run from the venv (``tests/ops/airflow_stack.py``)
with ``plugins/`` as the plugins folder, the real ``daily_analysis`` DAG, and a
data lake (file:// or the moto server's S3) holding maps made by the real
publish step. In multi-team mode the DAG's bundle belongs to team ``atlas``:
``analyst`` (viewer in ``atlas``) may read it, ``outsider`` (viewer in ``other``)
may not, which is what "unauthorised" means to Airflow's own access check.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from tests.ops.airflow_stack import USER, AirflowStack
from tests.plugin.cdp import CHROMIUM, Browser
from tests.plugin.published import publish_day
from tests.testkit import aws_connection, free_port

from vieweratlas import links

ROOT = Path(__file__).resolve().parents[2]
DAY = "2026-05-01"  # the triggered run's analysed date
LATEST = "2026-05-02"  # newest published date (what the DAG tab opens)
TEAM = "atlas"
BUNDLES = [
    {
        "name": "dags-folder",
        "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
        "kwargs": {},
        "team_name": TEAM,
    }
]
# The map page sets data-ready="<channels drawn>" on <body> once its script has run.
DRAWN = (
    "(() => { const d = {doc}; if (!d || !d.body) return null;"
    " const n = Number(d.body.dataset.ready || 0); const c = d.querySelector('canvas');"
    " if (!n || !c) return null;"
    " const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
    " let ink = 0; for (let i = 0; i < px.length; i += 4) {"
    "  if (px[i + 3] && !(px[i] > 240 && px[i + 1] > 240 && px[i + 2] > 240)) ink++; }"
    " return ink > 500 ? [n, ink, d.location.pathname] : null; })()"
)


def drawn_in(frame: str) -> str:
    """JS: [channels, inked pixels, path] once the map in ``frame`` has drawn, else null."""
    return DRAWN.replace("{doc}", f"{frame}?.contentDocument")


IFRAME = "document.querySelector('iframe[title=\"{title}\"]')"


class PluginStack(AirflowStack):
    """api-server + dag-processor (no scheduler: runs stay queued), multi-team, three users."""

    COMPONENTS = tuple(c for c in AirflowStack.COMPONENTS if c[0] != "scheduler")

    def __init__(self, home: Path, dags: Path, port: int, extra_env: dict[str, str]) -> None:
        super().__init__(home, dags, port, extra_env)
        self.passwords = {USER: self.password, "analyst": "analyst-pw", "outsider": "outsider-pw"}
        (home / "passwords.json").write_text(json.dumps(self.passwords))
        self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"] = (
            f"{USER}:admin,analyst:viewer:{TEAM},outsider:viewer:other"
        )
        self.env["AIRFLOW__CORE__MULTI_TEAM"] = "True"
        self.env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(BUNDLES)
        shutil.copytree(ROOT / "plugins", home / "plugins")  # the default plugins folder

    def start(self) -> None:
        self.cli("db", "migrate", timeout=180)
        self.cli("teams", "create", TEAM)
        self.cli("teams", "create", "other")
        super().start()  # migrating again is a no-op

    def token(self, user: str) -> str:
        reply = httpx.post(
            f"{self.base_url}/auth/token",
            json={"username": user, "password": self.passwords[user]},
            timeout=10,
        )
        assert reply.status_code == 201, reply.text
        return reply.json()["access_token"]

    def get(self, path: str, user: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}"} if user else {}
        return httpx.get(f"{self.base_url}{path}", headers=headers, timeout=30)


@pytest.fixture(params=["file", "s3"])
def stack(request, tmp_path):
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(ROOT / "dags" / "daily_analysis.py", dags)
    if request.param == "file":
        root, conn = (tmp_path / "data").as_uri(), {}
    else:
        moto = request.getfixturevalue("moto_server")
        root = f"s3://{moto.bucket}/ui-{uuid.uuid4().hex[:8]}"
        conn = {"AIRFLOW_CONN_AWS_DEFAULT": aws_connection(moto.endpoint_url)}
    home = tmp_path / "airflow"
    home.mkdir()
    deployment = PluginStack(home, dags, free_port(), {"VIEWERATLAS_DATA_ROOT": root, **conn})
    try:
        deployment.start()
        from vieweratlas.airflow_glue import open_lake
        from vieweratlas.settings import load_settings

        lake = open_lake(load_settings({"VIEWERATLAS_DATA_ROOT": root}))
        deployment.summaries = {
            d: publish_day(lake, d, seed=i) for i, d in enumerate([DAY, LATEST])
        }
        deployment.wait_ready()
        deployment.mark("API ready, maps published")
        yield deployment
    finally:
        deployment.stop()


@pytest.mark.slow
@pytest.mark.xdist_group("e2e")
@pytest.mark.timeout(480)
@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed")
def test_map_one_click_from_the_airflow_ui(stack, tmp_path):
    stack.wait_dags([links.DAG_ID])
    run_id = stack.trigger(links.DAG_ID, f"{DAY}T12:00:00+00:00")
    plugin = next(
        p for p in stack.api("GET", "plugins")["plugins"] if p["name"] == "vieweratlas_maps"
    )
    assert {v["destination"] for v in plugin["external_views"]} == {"nav", "dag", "dag_run"}
    shots = tmp_path / "shots"
    shots.mkdir()

    # Refused: no credentials, a forged token, a real user who may not read the DAG.
    for path in [
        "/vieweratlas/",
        "/vieweratlas/latest/map.html",
        f"/vieweratlas/dates/{DAY}/map.png",
    ]:
        assert stack.get(path).status_code == 401, path
        forged = httpx.get(f"{stack.base_url}{path}", cookies={"_token": "x.y.z"}, timeout=30)
        assert forged.status_code in (401, 403), path
        assert stack.get(path, "outsider").status_code == 403, path
        assert stack.get(path, "analyst").status_code == 200, path
    # Unknown dates and crafted paths: a clear 404.
    for path in [
        "/vieweratlas/dates/2026-06-01/map.html",
        "/vieweratlas/dates/2026-13-01/map.html",
        "/vieweratlas/dates/2026-05-01/..%2F..%2F..%2F_work%2Fedges.parquet",
        "/vieweratlas/latest/communities.parquet",
        "/vieweratlas/runs/daily_analysis/no-such-run",
    ]:
        reply = stack.get(path, "analyst")
        assert reply.status_code == 404, (path, reply.text)
    # Every served file keeps the map's policy.
    page = stack.get(f"/vieweratlas/dates/{DAY}/map.html", "analyst")
    assert "script-src 'sha256-" in page.headers["content-security-policy"]
    assert "data-ready" not in page.text.split("<body", 1)[0]

    with Browser(tmp_path / "profile") as browser:
        # Log in through the UI's own login form.
        browser.goto(f"{stack.base_url}/auth/login?next=/dags/{links.DAG_ID}")
        browser.wait("!!document.querySelector('input[name=username]')", what="login form")
        browser.type_into("input[name=username]", "analyst")
        browser.type_into("input[name=password]", "analyst-pw")
        browser.click("document.querySelector('button[type=submit]')", "sign-in button")
        browser.wait(f"location.pathname === '/dags/{links.DAG_ID}'", what="DAG page")

        # The DAG page's "Map" tab shows the latest map, drawn.
        browser.click_until(
            "[...document.querySelectorAll('a,button')].find(e => e.textContent.trim() === 'Map')",
            f"location.pathname.endsWith('/plugin/{links.DAG_TAB_ROUTE}')",
            "Map tab",
        )
        frame = IFRAME.format(title="Map")
        drawn = browser.wait(drawn_in(frame), what="map in DAG tab")
        assert drawn[2] == "/vieweratlas/latest/map.html"
        assert drawn[0] == stack.summaries[LATEST]["counts"]["channels"]
        browser.screenshot(shots / "dag_tab.png")

        # The navigation entry opens the index; its first date link opens that map.
        browser.click_until(
            "[...document.querySelectorAll('nav a, nav button, a')]"
            ".find(e => e.textContent.trim() === 'Twitch map')",
            f"location.pathname.endsWith('/plugin/{links.NAV_ROUTE}')",
            "Twitch map nav entry",
        )
        nav = IFRAME.format(title="Twitch map")
        browser.wait(f"!!{nav}?.contentDocument?.querySelector('table')", what="index page")
        listed = browser.js(
            f"[...{nav}.contentDocument.querySelectorAll('td a')].map(a => a.textContent)"
        )
        assert LATEST in listed and DAY in listed
        browser.screenshot(shots / "nav.png")
        browser.js(
            f"{nav}.contentDocument.querySelector('a[href$=\"/dates/{DAY}/map.html\"]').click()"
        )
        drawn = browser.wait(drawn_in(nav), what="map from index")
        assert drawn[2] == f"/vieweratlas/dates/{DAY}/map.html"

        # The run's page has its own "Map" tab: that run's date.
        browser.goto(f"{stack.base_url}/dags/{links.DAG_ID}/runs/{quote(run_id, safe='')}")
        browser.click_until(
            "[...document.querySelectorAll('a,button')].find(e => e.textContent.trim() === 'Map')",
            f"location.pathname.endsWith('/plugin/{links.RUN_TAB_ROUTE}')",
            "run Map tab",
        )
        drawn = browser.wait(drawn_in(frame), what="map in run tab")
        assert drawn[2] == f"/vieweratlas/dates/{DAY}/map.html"
        assert drawn[0] == stack.summaries[DAY]["counts"]["channels"]
        browser.screenshot(shots / "run_tab.png")

    # The publish task's extra link points at that run tab.
    link = stack.api(
        "GET",
        f"dags/{links.DAG_ID}/dagRuns/{quote(run_id, safe='')}/taskInstances/publish/links",
        ok=(200, 404),
    )
    if link and "extra_links" in link:
        assert link["extra_links"]["Twitch map"] == links.run_tab_path(run_id)
    stack.mark(f"done at {datetime.now(UTC):%H:%M:%S}")
