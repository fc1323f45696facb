"""Where the map plugin serves things: URL paths shared by the plugin, the DAG and alerts.

Cheap to import (standard library only). Paths are relative to Airflow's base
URL; the plugin's FastAPI app is mounted at :data:`PREFIX`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

PREFIX = "/vieweratlas"
DAG_ID = "daily_analysis"
PUBLISH_TASK = "publish"
#: ``url_route`` of the plugin's views (unique across plugins; the UI shows them at plugin/<route>).
NAV_ROUTE = "twitch-map"
DAG_TAB_ROUTE = "twitch-map-dag"
RUN_TAB_ROUTE = "twitch-map-run"


def date_file_path(day: str, name: str = "map.html") -> str:
    """One analysed date's output, e.g. ``/vieweratlas/dates/2026-05-01/map.html``."""
    return f"{PREFIX}/dates/{day}/{name}"


def latest_file_path(name: str = "map.html") -> str:
    """The newest analysis's output."""
    return f"{PREFIX}/latest/{name}"


def run_tab_path(run_id: str, dag_id: str = DAG_ID) -> str:
    """The run's "Map" tab inside the Airflow UI (what the ``publish`` extra link opens)."""
    return f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/plugin/{RUN_TAB_ROUTE}"


def asset_extra(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The ``vieweratlas_analysis`` asset event's ``extra``: map paths and headline figures."""
    counts = summary.get("counts") or {}
    day = str(summary["date"])
    return {
        "date": day,
        "map_path": date_file_path(day),
        "map_png_path": date_file_path(day, "map.png"),
        "channels": counts.get("channels"),
        "chatters": counts.get("chatters"),
        "communities": counts.get("communities"),
        "modularity": summary.get("modularity"),
        "top_communities": [
            {k: c.get(k) for k in ("label", "channels", "chatters")}
            for c in (summary.get("top_communities") or [])[:5]
        ],
    }
