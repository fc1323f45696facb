"""ViewerAtlas map plugin: the Twitch map one click from the Airflow UI (Airflow 3.1+).

- a FastAPI app at ``/vieweratlas`` serving the published maps, PNGs, timeline and
  CSV downloads from the data lake (``vieweratlas.web``), only to users who may
  read the ``daily_analysis`` DAG;
- a "Twitch map" entry in the navigation (index of analysed dates), a "Map" tab
  on DAG pages (the latest map) and on run pages (that run's map);
- a "Twitch map" extra link on ``daily_analysis``'s ``publish`` task.

The library (``vieweratlas``) comes from the DAGs side: ``include/`` on
PYTHONPATH (Astro image) or the DAGs folder on PYTHONPATH (MWAA's startup.sh).
Settings come from the same ``VIEWERATLAS_*`` environment as the tasks, S3
credentials from the same Airflow connection (env, metadata DB or Secrets
Manager, whichever secrets backend the deployment uses).
"""

from __future__ import annotations

import inspect
import logging
from urllib.parse import urlsplit

from airflow.plugins_manager import AirflowPlugin

log = logging.getLogger(__name__)


def _unsupported_reason() -> str | None:
    """Why this Airflow cannot run the plugin safely, or None."""
    try:
        from airflow.api_fastapi.core_api.security import requires_access_dag
    except ImportError as exc:
        return f"no FastAPI auth dependency in this Airflow ({exc})"
    if "param_dag_id" not in inspect.signature(requires_access_dag).parameters:
        return "requires_access_dag cannot check one fixed DAG here (needs Airflow 3.1+)"
    try:
        import vieweratlas.web  # noqa: F401
    except ImportError as exc:
        return f"the vieweratlas library is not importable ({exc}); check PYTHONPATH"
    return None


def _base_path() -> str:
    """Path part of Airflow's base URL (empty when Airflow is served at the root)."""
    from airflow.configuration import conf

    return urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")


def _build() -> tuple[list, list, list]:
    """fastapi_apps, external_views and global extra links, or three empty lists."""
    reason = _unsupported_reason()
    if reason:
        log.warning("ViewerAtlas map plugin not loaded: %s", reason)
        return [], [], []

    from airflow.api_fastapi.core_api.security import requires_access_dag
    from airflow.sdk import BaseOperatorLink

    from vieweratlas import links
    from vieweratlas.airflow_glue import open_lake
    from vieweratlas.settings import load_settings
    from vieweratlas.web import create_app

    class TwitchMapLink(BaseOperatorLink):
        """``publish``'s link to its run's Map tab (empty on every other task)."""

        name = "Twitch map"

        def get_link(self, operator, *, ti_key) -> str:
            if (ti_key.dag_id, ti_key.task_id) != (links.DAG_ID, links.PUBLISH_TASK):
                return ""
            return _base_path() + links.run_tab_path(ti_key.run_id)

    app = create_app(
        open_lake=lambda: open_lake(load_settings()),
        access=requires_access_dag("GET", param_dag_id=links.DAG_ID),
    )
    base = _base_path() + links.PREFIX
    views = [
        {
            "name": "Twitch map",
            "href": f"{base}/",
            "destination": "nav",
            "nav_top_level": True,
            "url_route": links.NAV_ROUTE,
        },
        {
            "name": "Map",
            "href": f"{base}/dags/{{DAG_ID}}",
            "destination": "dag",
            "url_route": links.DAG_TAB_ROUTE,
        },
        {
            "name": "Map",
            "href": f"{base}/runs/{{DAG_ID}}/{{RUN_ID}}",
            "destination": "dag_run",
            "url_route": links.RUN_TAB_ROUTE,
        },
    ]
    apps = [{"app": app, "url_prefix": links.PREFIX, "name": "ViewerAtlas maps"}]
    return apps, views, [TwitchMapLink()]


_APPS, _VIEWS, _LINKS = _build()


class ViewerAtlasMapsPlugin(AirflowPlugin):
    """Registers the map app, its navigation entry, tabs and the publish extra link."""

    name = "vieweratlas_maps"
    fastapi_apps = _APPS
    external_views = _VIEWS
    global_operator_extra_links = _LINKS
