"""
### Daily analysis: presence snapshots to a community map

Runs at 00:30 UTC for the day that just ended (the logical date), over a window
of `window_days` days ending on it, and can be backfilled for any past date
(`airflow backfill create --dag-id daily_analysis ...`): every step writes keys
derived from the analysed date only, so a re-run rewrites the same outputs.
**Manual runs:** a logical date on a day that was not over when the run was
created (the trigger form's default, "now") analyses the day before, the last
complete day; pick an earlier logical date to map that day. Every parameter is
optional (empty = the default shown).

**The map:** *Twitch map* in the navigation lists every analysed date; the
*Map* tab here opens the latest map and the *Map* tab of a run that run's map.

0. **list_window_days**: the window's dates (no I/O).
1. **daily_presence** (one mapped task per window day): live snapshots and VOD
   presence unioned into one chatter list per channel, source and day. The
   logical date is always rebuilt; earlier days only when their input files
   changed (or with `rebuild_presence`). Unreadable files are skipped and
   listed; more than `max_bad_input_share` of them fails the run.
2. **overlap**: blocklisted and over-broad (bot) accounts removed, exact shared
   chatters for every channel pair (`unique` or `repeat` weighting) with
   sparse matrices, and a top-`top_k` cosine backbone.
3. **communities**: Leiden or Louvain, seeded; modularity and sizes reported.
4. **labels**: dominant game and language per community (viewer-weighted).
5. **track**: each community matched to the nearest earlier analysed day's
   (within `track_lookback_days`) by audience-weighted channel overlap: persistent
   `community_uid` and `color_index`, the day's events (births, deaths, merges,
   splits, grow/shrink, channel moves) and the timeline. `depends_on_past`:
   day D is tracked only after D-1's track task succeeded or was skipped, so a
   backfill tracks its days in date order even when its analyses run in
   parallel. When the analysis of a day fails, its track task is skipped (not
   failed), so the next day tracks against the nearest earlier tracked day.
6. **publish**: PNG and HTML maps, Gephi CSVs, tables and `summary.json` under
   `analysis/daily/date=YYYY-MM-DD/`, copied to `analysis/latest/`; emits the
   `vieweratlas_analysis` asset (its event's extra: the map's URL path and the
   headline figures). Its *Twitch map* extra link opens the run's map.
7. **notify**: a short summary to the SNS topic (or the task log, at INFO).

Re-running a day whose communities then change marks the later days tracked
against it as stale (`_work/tracking.json`, `summary.json`, the notification);
re-run them in order: `airflow backfill create ... --reprocess-behavior completed`.

Logic lives in `vieweratlas.pipeline` and the stage modules it calls.
"""

from __future__ import annotations

from airflow.sdk import Asset, Param, dag, task

try:
    from airflow.sdk import CronDataIntervalTimetable
except ImportError:  # Airflow 3.0 (MWAA 3.0.6) has it only in core
    from airflow.timetables.interval import CronDataIntervalTimetable

from vieweratlas.dag_defaults import DEFAULT_ARGS, START_DATE
from vieweratlas.params import PARAM_SPECS

# Name-only on purpose: a URI with a custom scheme makes Airflow load every provider
# at parse time (~1 s). Downstream DAGs schedule on Asset(name="vieweratlas_analysis").
ANALYSIS = Asset(name="vieweratlas_analysis")


@dag(
    schedule=CronDataIntervalTimetable("30 0 * * *", timezone="UTC"),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={name: Param(**spec) for name, spec in PARAM_SPECS.items()},
    tags=["vieweratlas", "analysis"],
    description="Nightly Twitch community map: chat overlap, communities, PNG + HTML map.",
    doc_md=__doc__,
)
def daily_analysis():
    @task
    def list_window_days(**context) -> list[str]:
        from vieweratlas.params import AnalysisParams, analysis_day, window

        params = AnalysisParams.from_mapping(context["params"])
        day = analysis_day(context.get("logical_date"), context["dag_run"].run_after)
        return window(day, params.window_days)

    @task
    def daily_presence(day: str, **context) -> dict:
        from vieweratlas.pipeline import fail_fast, presence_step, task_inputs

        lake, logical_day, params = task_inputs(context)
        with fail_fast():
            return presence_step(lake, day, logical_day, params)

    @task
    def overlap(presence: list[dict], **context) -> dict:
        from vieweratlas.airflow_glue import runtime_settings
        from vieweratlas.pipeline import fail_fast, overlap_step, task_inputs

        lake, day, params = task_inputs(context)
        with fail_fast():
            return overlap_step(lake, day, params, runtime_settings())

    @task
    def communities(overlap_stats: dict, **context) -> dict:
        from vieweratlas.pipeline import communities_step, task_inputs

        lake, day, params = task_inputs(context)
        return communities_step(lake, day, params)

    @task
    def labels(community_stats: dict, **context) -> dict:
        from vieweratlas.pipeline import labels_step, task_inputs

        lake, day, params = task_inputs(context)
        return labels_step(lake, day, params)

    @task(depends_on_past=True, trigger_rule="all_done")
    def track(label_stats: dict | None, **context) -> dict:
        from vieweratlas.history import track_step
        from vieweratlas.pipeline import task_inputs

        if label_stats is None:  # the analysis failed: let the next day track past it
            from airflow.sdk.exceptions import AirflowSkipException

            raise AirflowSkipException("no analysis for this date: nothing to track")
        lake, day, params = task_inputs(context)
        return track_step(lake, day, params)

    @task(outlets=[ANALYSIS])
    def publish(
        presence, overlap_stats, community_stats, label_stats, track_stats, **context
    ) -> dict:
        from vieweratlas.links import asset_extra
        from vieweratlas.pipeline import task_inputs
        from vieweratlas.publish import publish_step

        lake, day, params = task_inputs(context)
        steps = {
            "presence": list(presence),
            "overlap": overlap_stats,
            "communities": community_stats,
            "labels": label_stats,
            "track": track_stats,
        }
        summary = publish_step(lake, day, params, steps)
        context["outlet_events"][ANALYSIS].extra = asset_extra(summary)
        return summary

    @task
    def notify(summary: dict) -> bool:
        from vieweratlas.alerts import publish_summary

        return publish_summary(summary)

    presence = daily_presence.expand(day=list_window_days())
    found_overlap = overlap(presence)
    found = communities(found_overlap)
    labelled = labels(found)
    tracked = track(labelled)
    notify(publish(presence, found_overlap, found, labelled, tracked))


daily_analysis()
