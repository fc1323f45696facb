"""The map plugin's FastAPI app: published maps and tables, straight from the data lake.

Mounted by ``plugins/vieweratlas_maps.py`` at :data:`vieweratlas.links.PREFIX`
inside Airflow's api-server, behind an access dependency the plugin passes in
(read access to ``daily_analysis``). Files are read with the tasks' own storage
code and connection (:func:`vieweratlas.airflow_glue.open_lake`), so the same
routes serve ``file://`` locally and ``s3://`` on MWAA.

Every key comes from :mod:`vieweratlas.lake`: a date must be a real
``YYYY-MM-DD`` and a file name one of :data:`SERVED` that the lake layout
publishes; anything else is a 404 before storage is touched. Every response
carries a Content-Security-Policy: a map keeps its own policy (copied from its
``<meta>`` into the header), other files get ``default-src 'none'``.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import cache
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from vieweratlas import lake as keys
from vieweratlas import links
from vieweratlas.storage import Lake

log = logging.getLogger(__name__)

#: Outputs the app may serve, with their media types (only those the lake layout publishes).
SERVED = {
    "map.html": "text/html; charset=utf-8",
    "map.png": "image/png",
    "timeline.html": "text/html; charset=utf-8",
    "timeline.png": "image/png",
    "summary.json": "application/json",
    "nodes.csv": "text/csv; charset=utf-8",
    "edges.csv": "text/csv; charset=utf-8",
    "communities.csv": "text/csv; charset=utf-8",
    "channel_neighbors.csv": "text/csv; charset=utf-8",
    "events.csv": "text/csv; charset=utf-8",
}
DOWNLOADS = (
    ("nodes.csv", "Gephi nodes"),
    ("edges.csv", "Gephi edges"),
    ("communities.csv", "communities"),
    ("channel_neighbors.csv", "channel neighbours"),
    ("events.csv", "community events"),
)
DETAILED_DATES = 31  # the index shows summaries for this many newest dates, links for older ones
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_META_CSP = re.compile(
    rb'<meta http-equiv="Content-Security-Policy" content="([^"<>]+)"', re.IGNORECASE
)
FRAME = "frame-ancestors 'self'"  # shown inside the Airflow UI, nowhere else
STRICT_CSP = f"default-src 'none'; {FRAME}"
PAGE_CSP = (
    f"default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; "
    f"base-uri 'none'; form-action 'none'; {FRAME}"
)
STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:1.2em;color:#1b1f24}"
    "table{border-collapse:collapse}td,th{padding:.3em .7em;border-bottom:1px solid #ddd;"
    "text-align:left;vertical-align:top}td:first-child{white-space:nowrap}"
    "a{color:#0b62c4}.muted{color:#666}"
    "img{max-width:min(100%,720px);border:1px solid #ddd}"
)


def served_names() -> frozenset[str]:
    """Names servable now: in :data:`SERVED` and published by the lake layout."""
    return frozenset(SERVED) & frozenset(keys.ANALYSIS_OUTPUTS)


def valid_day(day: str) -> str:
    """``day`` if it is a real ``YYYY-MM-DD`` date, else a 404."""
    try:
        if _DAY.match(day):
            return date.fromisoformat(day).isoformat()
    except ValueError:
        pass
    raise HTTPException(404, "No analysis for that date (expected YYYY-MM-DD).")


def valid_name(name: str) -> str:
    """``name`` if it is a servable output, else a 404."""
    if name not in served_names():
        raise HTTPException(404, f"Not a published output. Known: {', '.join(sorted(SERVED))}.")
    return name


def file_response(data: bytes, name: str) -> Response:
    """The file with its media type and a CSP; HTML keeps its own ``<meta>`` policy."""
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"}
    if name.endswith(".html"):
        found = _META_CSP.search(data[:4096])
        policy = found.group(1).decode("ascii", "replace") if found else "default-src 'none'"
        headers["Content-Security-Policy"] = f"{policy}; {FRAME}"
    else:
        headers["Content-Security-Policy"] = STRICT_CSP
    if name.endswith(".csv"):
        headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return Response(data, media_type=SERVED[name], headers=headers)


def page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    """A small HTML page (no script) under :data:`PAGE_CSP`."""
    text = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    headers = {"Content-Security-Policy": PAGE_CSP, "Cache-Control": "private, no-cache"}
    return HTMLResponse(text, status_code=status_code, headers=headers)


def analysed_dates(lake: Lake) -> list[str]:
    """Dates with a published ``summary.json``, newest first."""
    found = set()
    for key in lake.list(keys.ANALYSIS.prefix):
        day = keys.partition_date(key)
        if day and key == keys.analysis_file(day, "summary.json"):
            found.add(day.isoformat())
    return sorted(found, reverse=True)


def _fmt(value: Any, spec: str = ",") -> str:
    try:
        return format(value, spec)
    except (TypeError, ValueError):
        return "?"


def summary_row(root: str, day: str, summary: dict | None, present: set[str]) -> str:
    """One index table row: date, figures, biggest communities, links."""
    esc = html.escape
    link = f'<a href="{root}/dates/{day}/map.html">{day}</a>'
    if summary is None:
        return f'<tr><td>{link}</td><td colspan="3" class="muted">summary unreadable</td></tr>'
    counts = summary.get("counts") or {}
    tops = ", ".join(
        f"{esc(str(c.get('label') or 'unlabelled'))} ({_fmt(c.get('channels'))})"
        for c in (summary.get("top_communities") or [])[:3]
    )
    files = [f'<a href="{root}/dates/{day}/map.png">PNG</a>']
    if "timeline.html" in present:
        files.append(f'<a href="{root}/dates/{day}/timeline.html">timeline</a>')
    files += [f'<a href="{root}/dates/{day}/{n}">{n}</a>' for n, _ in DOWNLOADS if n in present]
    return (
        f"<tr><td>{link}</td><td>{_fmt(counts.get('channels'))} channels, "
        f"{_fmt(counts.get('communities'))} communities, modularity "
        f"{_fmt(summary.get('modularity'), '.3f')}</td><td>{tops}</td>"
        f"<td>{' · '.join(files)}</td></tr>"
    )


def index_body(root: str, lake: Lake) -> str:
    """The index: the latest map first, then every analysed date with its summary."""
    dates = analysed_dates(lake)
    if not dates:
        return (
            "<h1>Twitch map</h1><p>No analysis has been published yet. Trigger the "
            "<code>daily_analysis</code> DAG (or wait for its nightly run).</p>"
        )
    recent = dates[:DETAILED_DATES]
    names = served_names()
    keys_present = set(lake.list(keys.ANALYSIS.prefix))

    def read(day: str) -> dict | None:
        try:
            return lake.read_json(keys.analysis_file(day, "summary.json"))
        except (OSError, ValueError):
            log.warning("Unreadable summary.json for %s", day)
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        summaries = dict(zip(recent, pool.map(read, recent), strict=True))
    rows = [
        summary_row(
            root,
            day,
            summaries[day],
            {n for n in names if keys.analysis_file(day, n) in keys_present},
        )
        for day in recent
    ]
    older = " ".join(f'<a href="{root}/dates/{d}/map.html">{d}</a>' for d in dates[DETAILED_DATES:])
    latest = dates[0]
    return "".join(
        [
            "<h1>Twitch map</h1>",
            f'<p><a href="{root}/latest/map.html"><strong>Open the latest map ({latest})'
            f'</strong></a> · <a href="{root}/latest/map.png">PNG</a></p>',
            f'<p><a href="{root}/latest/map.html"><img src="{root}/latest/map.png" '
            f'alt="Community map of {latest}" width="720"></a></p>',
            "<h2>Analysed dates</h2><table><thead><tr><th>Date</th><th>Summary</th>"
            "<th>Biggest communities (channels)</th><th>Files</th></tr></thead><tbody>",
            *rows,
            "</tbody></table>",
            f"<p>Older dates: {older}</p>" if older else "",
        ]
    )


def elsewhere_body(dag_id: str, root: str) -> str:
    """What the Map tab says on DAGs other than ``daily_analysis``."""
    return (
        f"<p>The Twitch map is made by the <code>{links.DAG_ID}</code> DAG; "
        f"<code>{html.escape(dag_id)}</code> has no map of its own.</p>"
        f'<p><a href="{root}/">All analysed dates</a> · '
        f'<a href="{root}/latest/map.html">latest map</a></p>'
    )


def create_app(open_lake: Callable[[], Lake], access: Callable[..., Any]) -> FastAPI:
    """The app; ``open_lake`` is called once, on the first request; ``access`` guards every route.

    ``run_day(run_id)`` (the analysed date of a ``daily_analysis`` run, or None) is looked
    up through :func:`run_analysis_day`, which reads Airflow's metadata database.
    """
    app = FastAPI(
        title="ViewerAtlas maps",
        dependencies=[Depends(access)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    lake = cache(open_lake)

    def root(request: Request) -> str:
        return request.scope.get("root_path", "").rstrip("/")

    def read(key: str, name: str) -> Response:
        try:
            data = lake().read_bytes(key)
        except FileNotFoundError:
            raise HTTPException(404, f"{name} has not been published for that date.") from None
        return file_response(data, name)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return page("Twitch map", index_body(root(request), lake()))

    @app.get("/latest/{name}")
    def latest_file(name: str) -> Response:
        return read(keys.analysis_latest(valid_name(name)), name)

    @app.get("/dates/{day}/{name}")
    def date_file(day: str, name: str) -> Response:
        return read(keys.analysis_file(valid_day(day), valid_name(name)), name)

    @app.get("/dags/{dag_id}")
    def dag_tab(dag_id: str, request: Request) -> Response:
        if dag_id != links.DAG_ID:
            return page("Twitch map", elsewhere_body(dag_id, root(request)))
        if not lake().exists(keys.analysis_latest("map.html")):
            return page("Twitch map", index_body(root(request), lake()))
        return RedirectResponse(f"{root(request)}/latest/map.html", status_code=307)

    @app.get("/runs/{dag_id}/{run_id}")
    def run_tab(dag_id: str, run_id: str, request: Request) -> Response:
        if dag_id != links.DAG_ID:
            return page("Twitch map", elsewhere_body(dag_id, root(request)))
        day = run_analysis_day(dag_id, run_id)
        if day is None:
            raise HTTPException(404, "No such daily_analysis run.")
        if not lake().exists(keys.analysis_file(day, "summary.json")):
            body = (
                f"<p>The map of {day} is not published yet: it appears when this run's "
                f'<code>publish</code> task succeeds.</p><p><a href="{root(request)}/">'
                "All analysed dates</a></p>"
            )
            return page("Twitch map", body, status_code=404)
        return RedirectResponse(f"{root(request)}/dates/{day}/map.html", status_code=307)

    return app


def run_analysis_day(dag_id: str, run_id: str) -> str | None:
    """The date a run analyses (as its tasks compute it), from Airflow's metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    from vieweratlas.params import analysis_day

    with create_session() as session:
        row = session.execute(
            select(DagRun.logical_date, DagRun.run_after).where(
                DagRun.dag_id == dag_id, DagRun.run_id == run_id
            )
        ).first()
    return None if row is None else analysis_day(row.logical_date, row.run_after)
