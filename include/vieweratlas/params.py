"""The daily analysis's run parameters: one spec for the DAG's ``Param`` s and the library.

Cheap to import (no third-party imports): the DAG file builds its ``Param`` s
from :data:`PARAM_SPECS` at parse time, and tasks turn the run's params into a
validated :class:`AnalysisParams` with :func:`AnalysisParams.from_mapping`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime, timedelta
from typing import Any

WEIGHTINGS = ("unique", "repeat")
ALGORITHMS = ("louvain", "leiden")


class ParamsError(ValueError):
    """A run parameter has a value the analysis cannot use."""


@dataclass(frozen=True)
class AnalysisParams:
    """How one analysis run is made; see :data:`PARAM_SPECS` for the meaning of each."""

    window_days: int = 7
    weighting: str = "unique"
    top_k: int = 100  # NMI 0.894 at 10, 0.988 at 100 on hard planted data (README)
    min_shared: int = 1
    algorithm: str = "leiden"
    resolution: float = 1.5  # NMI >= 0.97 on hard planted data, stable on the real graph (README)
    seed: int = 42
    min_chatters: int = 20
    bot_filter: bool = True
    bot_channel_share: float = 0.2
    max_bad_input_share: float = 0.1
    rebuild_presence: bool = False
    track_lookback_days: int = 7
    track_match_jaccard: float = 0.3
    track_link_share: float = 0.5
    track_min_part: float = 0.15
    track_growth: float = 0.3
    timeline_days: int = 30

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.window_days <= 90, "window_days must be 1-90"),
            (self.weighting in WEIGHTINGS, f"weighting must be one of {WEIGHTINGS}"),
            (1 <= self.top_k <= 500, "top_k must be 1-500"),
            (self.min_shared >= 1, "min_shared must be at least 1"),
            (self.algorithm in ALGORITHMS, f"algorithm must be one of {ALGORITHMS}"),
            (0.0 < self.resolution <= 100.0, "resolution must be in (0, 100]"),
            (0 <= self.seed < 2**31, "seed must be in [0, 2**31)"),
            (self.min_chatters >= 1, "min_chatters must be at least 1"),
            (0.0 < self.bot_channel_share <= 1.0, "bot_channel_share must be in (0, 1]"),
            (0.0 <= self.max_bad_input_share <= 1.0, "max_bad_input_share must be in [0, 1]"),
            (1 <= self.track_lookback_days <= 90, "track_lookback_days must be 1-90"),
            (0.0 < self.track_match_jaccard <= 1.0, "track_match_jaccard must be in (0, 1]"),
            (0.5 <= self.track_link_share <= 1.0, "track_link_share must be in [0.5, 1]"),
            (0.0 < self.track_min_part < 0.5, "track_min_part must be in (0, 0.5)"),
            (0.0 < self.track_growth <= 10.0, "track_growth must be in (0, 10]"),
            (2 <= self.timeline_days <= 366, "timeline_days must be 2-366"),
        ]
        for ok, message in checks:
            if not ok:
                raise ParamsError(message)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> AnalysisParams:
        """Params from a mapping (e.g. a run's ``params``); unknown keys are ignored."""
        kwargs: dict[str, Any] = {}
        for field in fields(cls):
            if field.name not in values or values[field.name] is None:
                continue
            raw = values[field.name]
            kind: type = type(field.default)
            try:
                if kind is bool:
                    if not isinstance(raw, bool):
                        raise ValueError
                    kwargs[field.name] = raw
                else:
                    kwargs[field.name] = kind(raw)
            except (TypeError, ValueError):
                raise ParamsError(f"{field.name} must be a {kind.__name__}, got {raw!r}") from None
        return cls(**kwargs)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (for summary.json and XCom)."""
        return asdict(self)


_D = AnalysisParams()


def _spec(default: Any, kind: str, title: str, description_md: str, **schema: Any) -> dict:
    """One ``Param``'s keyword arguments: optional in the trigger form (``null`` = default).

    Airflow's form stars a field as required unless its type allows ``null``; every
    analysis setting has a default, so none is required. ``description_md`` (not
    ``description``, which the form would show instead) renders as Markdown.
    """
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    return {
        "default": default,
        "type": [kind, "null"],
        "title": title,
        "description_md": description_md,
        **schema,
    }


#: ``Param`` keyword arguments per field (default, JSON-schema type, limits, title, help).
#: Format for additions: ``"name": _spec(default, json_type, title, markdown_help, **limits)``.
PARAM_SPECS: dict[str, dict[str, Any]] = {
    "window_days": _spec(
        _D.window_days,
        "integer",
        "Window (days)",
        "Days of presence, ending on the analysed date, that the overlap covers.",
        minimum=1,
        maximum=90,
    ),
    "weighting": _spec(
        _D.weighting,
        "string",
        "Edge weighting",
        "`unique`: shared chatters. `repeat`: per shared chatter, "
        "min(days seen in A, days seen in B).",
        enum=list(WEIGHTINGS),
    ),
    "top_k": _spec(
        _D.top_k,
        "integer",
        "Backbone neighbours per channel",
        "Each channel keeps its *k* neighbours with the highest cosine overlap "
        "(shared / sqrt(|A|·|B|)).",
        minimum=1,
        maximum=500,
    ),
    "min_shared": _spec(
        _D.min_shared,
        "integer",
        "Minimum shared weight",
        "Pairs with a smaller weight are never edges.",
        minimum=1,
    ),
    "algorithm": _spec(
        _D.algorithm,
        "string",
        "Community detection",
        "`leiden` (igraph's Leiden) or `louvain` (python-louvain).",
        enum=list(ALGORITHMS),
    ),
    "resolution": _spec(
        _D.resolution,
        "number",
        "Resolution",
        "Modularity resolution: higher finds more, smaller communities "
        "(1.5: chosen on the real Twitch graph and hard planted data, see the README).",
        exclusiveMinimum=0,
        maximum=100,
    ),
    "seed": _spec(
        _D.seed,
        "integer",
        "Random seed",
        "Seed of community detection and layout: same seed, same map.",
        minimum=0,
    ),
    "min_chatters": _spec(
        _D.min_chatters,
        "integer",
        "Minimum chatters per channel",
        "Channels with fewer unique chatters in the window are left out.",
        minimum=1,
    ),
    "bot_filter": _spec(
        _D.bot_filter,
        "boolean",
        "Filter bots",
        "Remove known bot accounts (shipped blocklist) and accounts present in more "
        "than **Bot channel share** of the channels.",
    ),
    "bot_channel_share": _spec(
        _D.bot_channel_share,
        "number",
        "Bot channel share",
        "An account seen in more than this share of the channels counts as a bot.",
        exclusiveMinimum=0,
        maximum=1,
    ),
    "max_bad_input_share": _spec(
        _D.max_bad_input_share,
        "number",
        "Tolerated unreadable inputs",
        "The run fails if more than this share of a day's input files is unreadable "
        "(fewer are skipped and listed in `summary.json`).",
        minimum=0,
        maximum=1,
    ),
    "rebuild_presence": _spec(
        _D.rebuild_presence,
        "boolean",
        "Rebuild presence",
        "Rebuild every day's presence in the window, not only the analysed date and "
        "days whose inputs changed.",
    ),
    "track_lookback_days": _spec(
        _D.track_lookback_days,
        "integer",
        "Tracking look-back (days)",
        "Today's communities are matched to the nearest earlier analysed day at most "
        "this many days back; past it, ids start afresh.",
        minimum=1,
        maximum=90,
    ),
    "track_match_jaccard": _spec(
        _D.track_match_jaccard,
        "number",
        "Tracking: same community at Jaccard",
        "A community keeps an earlier community's id (and colour) when their "
        "audience-weighted Jaccard overlap is at least this.",
        exclusiveMinimum=0,
        maximum=1,
    ),
    "track_link_share": _spec(
        _D.track_link_share,
        "number",
        "Tracking: merge/split share",
        "A merge needs two communities that each sent at least this share of their "
        "audience into one; a split, two communities each made of at least this share "
        "of one earlier community.",
        minimum=0.5,
        maximum=1,
    ),
    "track_min_part": _spec(
        _D.track_min_part,
        "number",
        "Tracking: smallest split part",
        "A split part must hold at least this share of the earlier community's audience "
        "(smaller offshoots are births).",
        exclusiveMinimum=0,
        exclusiveMaximum=0.5,
    ),
    "track_growth": _spec(
        _D.track_growth,
        "number",
        "Tracking: grow/shrink threshold",
        "A `grow` (`shrink`) event when a community's audience is at least 1 + this "
        "times (at most 1 / (1 + this) times) the earlier day's.",
        exclusiveMinimum=0,
        maximum=10,
    ),
    "timeline_days": _spec(
        _D.timeline_days,
        "integer",
        "Timeline (days)",
        "Days shown in the timeline (`timeline.png` / `timeline.html`).",
        minimum=2,
        maximum=366,
    ),
}


def analysis_day(logical_date: datetime | None, run_after: datetime) -> str:
    """The UTC date (``YYYY-MM-DD``) a run analyses: the last day complete when it was made.

    A scheduled or backfilled run's logical date is a finished day and is analysed
    as is. A manual run whose logical date falls on a day not over when the run
    was created (the trigger form's default "now", or no logical date) analyses
    the day before, so nobody maps half a day by accident. Depends only on the
    run's own fields, so a re-run analyses the same day.
    """
    moment = logical_date or run_after
    day = moment.astimezone(UTC).date() if moment.tzinfo else moment.date()
    created = run_after.astimezone(UTC).date() if run_after.tzinfo else run_after.date()
    return (day - timedelta(days=1) if day >= created else day).isoformat()


def window(day: date | str, window_days: int) -> list[str]:
    """The ``window_days`` dates ending on ``day``, oldest first."""
    last = date.fromisoformat(str(day))
    return [(last - timedelta(days=i)).isoformat() for i in range(window_days - 1, -1, -1)]
