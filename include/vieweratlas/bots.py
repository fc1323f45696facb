"""Bot filtering: a shipped blocklist of known bot accounts, plus a breadth heuristic.

Known bots are matched by login when a day's presence is built (the login is
not kept in the daily presence, only the matching user ids, in the day's
manifest). The heuristic runs over the whole window: an account present in more
than a given share of all channels is not a viewer but a bot or a lurker
script (the seeds' roadmap suggested 50%; the default here is stricter).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

BLOCKLIST_PATH = Path(__file__).with_name("data") / "known_bots.txt"


@cache
def blocklist() -> frozenset[str]:
    """Lower-case logins of known bot accounts (comments and blank lines skipped)."""
    lines = BLOCKLIST_PATH.read_text(encoding="utf-8").splitlines()
    return frozenset(
        line.strip().lower() for line in lines if line.strip() and not line.startswith("#")
    )


def known_bot_ids(user_ids: pa.Array, user_logins: pa.Array) -> dict[int, str]:
    """``{user_id: login}`` of the rows whose login is on the blocklist."""
    lowered = pc.utf8_lower(user_logins)
    mask = pc.is_in(lowered, value_set=pa.array(sorted(blocklist()), pa.string()))
    mask = pc.fill_null(mask, False)
    ids = pc.filter(user_ids, mask).to_numpy(zero_copy_only=False)
    names = pc.filter(lowered, mask).to_pylist()
    return {int(i): n for i, n in sorted(zip(ids.tolist(), names, strict=True))}


@dataclass(frozen=True)
class BotReport:
    """What bot filtering removed."""

    enabled: bool
    known_accounts: int  # blocklisted accounts seen in the window
    heuristic_accounts: int  # further accounts over the channel-share threshold
    rows_removed: int  # (channel, user) pairs dropped
    channel_share: float


def bot_user_mask(
    user_ids: np.ndarray,
    channels_per_user: np.ndarray,
    n_channels: int,
    known_ids: np.ndarray,
    channel_share: float,
) -> tuple[np.ndarray, int, int]:
    """Boolean mask over users that are bots, and the known / heuristic counts.

    ``user_ids[i]`` is the Twitch id of dense user ``i``, ``channels_per_user[i]``
    the number of distinct channels it was seen in over the window.
    """
    known = _members(user_ids, known_ids)
    broad = channels_per_user > channel_share * n_channels
    heuristic = broad & ~known
    return known | heuristic, int(known.sum()), int(heuristic.sum())


def _members(values: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """``np.isin(values, ids)``; by binary search when ``values`` strictly increase.

    The window's user ids do (sorted, distinct): ``np.isin`` would sort a copy
    of millions of them for a blocklist of a few hundred.
    """
    if len(values) < 2 or not bool(np.all(values[1:] > values[:-1])):
        return np.isin(values, ids)
    at = np.searchsorted(values, ids)
    found = at < len(values)
    at = at[found]
    out = np.zeros(len(values), dtype=bool)
    out[at[values[at] == np.asarray(ids)[found]]] = True
    return out
