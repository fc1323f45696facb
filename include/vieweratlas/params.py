"""The daily analysis's run parameters: one spec for the DAG's ``Param`` s and the library.

Cheap to import (no third-party imports): the DAG file builds its ``Param`` s
from :data:`PARAM_SPECS` at parse time, and tasks turn the run's params into a
validated :class:`AnalysisParams` with :func:`AnalysisParams.from_mapping`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
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
    top_k: int = 100  # NMI 0.880 at 10, 0.969 at 100 on hard planted data (README)
    min_shared: int = 1
    algorithm: str = "leiden"
    resolution: float = 1.0
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
            kind = type(field.default)
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

#: ``Param`` keyword arguments per field (default, JSON-schema type, limits, description).
PARAM_SPECS: dict[str, dict[str, Any]] = {
    "window_days": {
        "default": _D.window_days,
        "type": "integer",
        "minimum": 1,
        "maximum": 90,
        "description": "Days of presence, ending on the logical date, the overlap covers.",
    },
    "weighting": {
        "default": _D.weighting,
        "type": "string",
        "enum": list(WEIGHTINGS),
        "description": "Edge weight: `unique` shared chatters, or `repeat` = per shared "
        "chatter min(days seen in A, days seen in B).",
    },
    "top_k": {
        "default": _D.top_k,
        "type": "integer",
        "minimum": 1,
        "maximum": 500,
        "description": "Backbone size: each channel keeps its k neighbours with the highest "
        "cosine overlap (shared / sqrt(|A|·|B|)).",
    },
    "min_shared": {
        "default": _D.min_shared,
        "type": "integer",
        "minimum": 1,
        "description": "Optional raw filter: pairs with a smaller weight are never edges.",
    },
    "algorithm": {
        "default": _D.algorithm,
        "type": "string",
        "enum": list(ALGORITHMS),
        "description": "Community detection: `leiden` (leidenalg) or `louvain` (python-louvain).",
    },
    "resolution": {
        "default": _D.resolution,
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 100,
        "description": "Modularity resolution: higher finds more, smaller communities.",
    },
    "seed": {
        "default": _D.seed,
        "type": "integer",
        "minimum": 0,
        "description": "Random seed of community detection and layout (same seed, same map).",
    },
    "min_chatters": {
        "default": _D.min_chatters,
        "type": "integer",
        "minimum": 1,
        "description": "Channels with fewer unique chatters in the window are left out.",
    },
    "bot_filter": {
        "default": _D.bot_filter,
        "type": "boolean",
        "description": "Remove known bot accounts (shipped blocklist) and accounts present "
        "in more than `bot_channel_share` of the channels.",
    },
    "bot_channel_share": {
        "default": _D.bot_channel_share,
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 1,
        "description": "Bot heuristic: an account in more than this share of channels is a bot.",
    },
    "max_bad_input_share": {
        "default": _D.max_bad_input_share,
        "type": "number",
        "minimum": 0,
        "maximum": 1,
        "description": "The run fails if more than this share of a day's input files is "
        "unreadable (they are skipped and listed otherwise).",
    },
    "rebuild_presence": {
        "default": _D.rebuild_presence,
        "type": "boolean",
        "description": "Rebuild every day's presence in the window, not only the logical date "
        "and days whose inputs changed.",
    },
    "track_lookback_days": {
        "default": _D.track_lookback_days,
        "type": "integer",
        "minimum": 1,
        "maximum": 90,
        "description": "Tracking: today's communities are matched to the nearest earlier "
        "analysed day at most this many days back; past it, ids start afresh.",
    },
    "track_match_jaccard": {
        "default": _D.track_match_jaccard,
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 1,
        "description": "Tracking: a community keeps an earlier community's id (and colour) "
        "when their audience-weighted Jaccard overlap is at least this.",
    },
    "track_link_share": {
        "default": _D.track_link_share,
        "type": "number",
        "minimum": 0.5,
        "maximum": 1,
        "description": "Tracking: a merge needs two communities that each sent at least this "
        "share of their audience into one; a split, two communities each made of at least "
        "this share of one earlier community.",
    },
    "track_min_part": {
        "default": _D.track_min_part,
        "type": "number",
        "exclusiveMinimum": 0,
        "exclusiveMaximum": 0.5,
        "description": "Tracking: a split part must hold at least this share of the earlier "
        "community's audience (smaller offshoots are births).",
    },
    "track_growth": {
        "default": _D.track_growth,
        "type": "number",
        "exclusiveMinimum": 0,
        "maximum": 10,
        "description": "Tracking: a `grow` (`shrink`) event when a community's audience "
        "is at least 1 + this times (at most 1 / (1 + this) times) the earlier day's.",
    },
    "timeline_days": {
        "default": _D.timeline_days,
        "type": "integer",
        "minimum": 2,
        "maximum": 366,
        "description": "Days shown in the timeline (timeline.png / timeline.html).",
    },
}
