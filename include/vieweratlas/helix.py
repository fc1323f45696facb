"""A small Twitch Helix client: app token, pagination, rate limits and retries.

* Client-credentials token, fetched lazily, cached, and renewed once on a 401.
* Rate limit: after every response it reads ``Ratelimit-Remaining`` and
  ``Ratelimit-Reset``; when fewer than ``reserve`` points remain it sleeps until
  the reset, so it slows down before Twitch answers 429. A 429 waits until
  ``Ratelimit-Reset`` and tries again.
* 5xx answers and connection errors are retried with exponential backoff
  (``urllib3.Retry`` mounted on the session).
* The token and the client secret never appear in logs, exceptions or reprs:
  the token lives in a :class:`Secret`, the secret is sent in the POST body
  (never in a URL), and errors name only the path and the status.

Airflow is imported only inside :func:`helix_from_connection`, which builds a
client from the ``twitch_default`` connection (login = client id, password =
client secret, optional extra ``helix_url`` / ``auth_url``) inside tasks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger(__name__)

HELIX_URL = "https://api.twitch.tv/helix"
AUTH_URL = "https://id.twitch.tv/oauth2"
PAGE_SIZE = 100  # Helix's maximum ``first``


class HelixError(RuntimeError):
    """Helix answered with an error we do not retry (or retried too often)."""


class Secret:
    """A string that hides itself from ``repr``/``str`` (and so from logs and tracebacks)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


@dataclass
class HelixConfig:
    """Where Helix lives and how politely to talk to it."""

    client_id: str
    client_secret: Secret
    helix_url: str = HELIX_URL
    auth_url: str = AUTH_URL
    timeout: float = 30.0
    reserve: int = 10  # points kept in hand; below this, wait for the reset
    max_429: int = 5  # consecutive 429s before giving up
    retries: int = 5  # 5xx / connection errors, with backoff
    backoff: float = 1.0  # urllib3 backoff_factor (seconds)


@dataclass
class HelixClient:
    """Calls Helix with an app access token; ``clock``/``sleep`` are injectable for tests."""

    config: HelixConfig
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    session: requests.Session = field(default_factory=requests.Session)
    on_token: Callable[[str], None] | None = None  # e.g. Airflow's mask_secret
    _token: Secret | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        retry = Retry(
            total=self.config.retries,
            connect=self.config.retries,
            read=self.config.retries,
            status=self.config.retries,
            backoff_factor=self.config.backoff,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET", "POST"}),
            raise_on_status=False,
            respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def __repr__(self) -> str:
        return (
            f"HelixClient(client_id={self.config.client_id!r}, helix_url={self.config.helix_url!r})"
        )

    # -- token ---------------------------------------------------------------------------

    def _fetch_token(self) -> Secret:
        response = self._send(
            "POST",
            f"{self.config.auth_url}/token",
            data={
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret.reveal(),
                "grant_type": "client_credentials",
            },
        )
        if response.status_code != 200:
            raise HelixError(f"token request failed with HTTP {response.status_code}")
        try:
            token = Secret(str(response.json()["access_token"]))
        except (ValueError, KeyError, TypeError):
            raise HelixError("token response has no access_token") from None
        if self.on_token is not None:
            self.on_token(token.reveal())
        log.info("Fetched a new Twitch app access token")
        return token

    def token(self) -> Secret:
        """The cached app token (fetched on first use)."""
        if self._token is None:
            self._token = self._fetch_token()
        return self._token

    # -- requests ------------------------------------------------------------------------

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.session.request(method, url, timeout=self.config.timeout, **kwargs)
        except requests.RequestException as exc:
            # the exception text carries only the URL (no token, no secret: they are not in it)
            raise HelixError(f"{method} {url.split('?')[0]} failed: {type(exc).__name__}") from None

    def _pace(self, response: requests.Response) -> None:
        """Sleep until the window resets when few points remain."""
        remaining = response.headers.get("Ratelimit-Remaining")
        if remaining is None or not remaining.isdigit():
            return
        if int(remaining) < self.config.reserve:
            wait = self._until_reset(response)
            log.info("Helix rate limit low (%s points left): waiting %.1fs", remaining, wait)
            self.sleep(wait)

    def _until_reset(self, response: requests.Response) -> float:
        reset = response.headers.get("Ratelimit-Reset", "")
        try:
            return max(0.0, min(float(reset) - self.clock(), 60.0)) + 0.1
        except ValueError:
            return 1.0

    def get(self, path: str, params: dict[str, Any] | list[tuple[str, Any]]) -> dict[str, Any]:
        """GET ``path`` under the Helix base URL and return the decoded JSON body."""
        url = f"{self.config.helix_url}/{path.lstrip('/')}"
        renewed = False
        throttled = 0
        while True:
            headers = {
                "Client-Id": self.config.client_id,
                "Authorization": f"Bearer {self.token().reveal()}",
            }
            response = self._send("GET", url, params=params, headers=headers)
            if response.status_code == 401 and not renewed:
                log.info("Helix answered 401: renewing the app token")
                self._token, renewed = None, True
                continue
            if response.status_code == 429:
                throttled += 1
                if throttled > self.config.max_429:
                    raise HelixError(f"GET /{path} still rate limited after {throttled - 1} waits")
                wait = self._until_reset(response)
                log.warning("Helix answered 429: waiting %.1fs for the rate limit reset", wait)
                self.sleep(wait)
                continue
            if response.status_code != 200:
                raise HelixError(f"GET /{path} failed with HTTP {response.status_code}")
            self._pace(response)
            try:
                return response.json()
            except ValueError:
                raise HelixError(f"GET /{path} returned invalid JSON") from None

    def paginate(
        self, path: str, params: dict[str, Any], max_pages: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every item of every page, following the ``pagination.cursor``."""
        cursor = None
        for _ in range(max_pages):
            page_params = dict(params, after=cursor) if cursor else dict(params)
            body = self.get(path, page_params)
            yield from body.get("data") or []
            cursor = (body.get("pagination") or {}).get("cursor")
            if not cursor or not body.get("data"):
                return

    # -- endpoints -----------------------------------------------------------------------

    def top_streams(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` most-watched live streams, de-duplicated by ``user_id``.

        The list moves while it is paged, so a stream can appear on two pages;
        the first (higher-ranked) sighting wins.
        """
        seen: set[str] = set()
        streams: list[dict[str, Any]] = []
        max_pages = limit // PAGE_SIZE + 10  # slack for pages that repeat streams
        for stream in self.paginate("streams", {"first": PAGE_SIZE}, max_pages=max_pages):
            user_id = str(stream.get("user_id", ""))
            if not user_id or user_id in seen:
                continue
            seen.add(user_id)
            streams.append(stream)
            if len(streams) >= limit:
                break
        return streams

    def archive_videos(self, user_id: str) -> list[dict[str, Any]]:
        """One channel's past-broadcast VODs of the last day, newest first."""
        params = {"user_id": user_id, "type": "archive", "period": "day", "sort": "time"}
        return list(self.paginate("videos", dict(params, first=PAGE_SIZE), max_pages=5))


def helix_from_connection(conn_id: str) -> HelixClient:
    """A client configured from an Airflow connection (call inside a task)."""
    from airflow.sdk import BaseHook
    from airflow.sdk.log import mask_secret

    conn = BaseHook.get_connection(conn_id)
    if not conn.login or not conn.password:
        raise HelixError(
            f"connection {conn_id!r} needs the client id (login) and secret (password)"
        )
    extra = conn.extra_dejson or {}
    config = HelixConfig(
        client_id=conn.login,
        client_secret=Secret(conn.password),
        helix_url=str(extra.get("helix_url", HELIX_URL)).rstrip("/"),
        auth_url=str(extra.get("auth_url", AUTH_URL)).rstrip("/"),
    )
    client = HelixClient(config)
    client.on_token = mask_secret
    return client
