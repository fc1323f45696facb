"""A fake Twitch (Helix + id.twitch.tv token endpoint) over real HTTP on loopback.

It keeps what the tests need to assert on: every request received (path,
query, headers, arrival time), the tokens it issued, rate-limit points. Faults
are scripted per path as a queue of status codes answered before the real one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

CLIENT_ID = "test-client-id"
CLIENT_SECRET = "s3cr3t-client-secret"


@dataclass
class Seen:
    """One request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: str
    at: float


@dataclass
class FakeTwitch:
    """State of the fake: data to serve, faults to inject, requests seen."""

    streams: list[dict[str, Any]] = field(default_factory=list)
    videos: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # user_id -> videos
    page_overlap: int = 0  # repeat this many streams of the previous page at each page start
    limit: int = 800
    remaining: int = 800
    reset_in: float = 1.0
    reset_at: int | None = None  # a fixed Ratelimit-Reset (epoch seconds) instead of reset_in
    faults: dict[str, deque] = field(default_factory=lambda: defaultdict(deque))
    requests: list[Seen] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    @property
    def helix_url(self) -> str:
        return f"{self.url}/helix"

    @property
    def auth_url(self) -> str:
        return f"{self.url}/oauth2"

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def revoke_all(self) -> None:
        """Make every issued token invalid (the next Helix call gets a 401)."""
        self.revoked.update(self.tokens)

    def connection_json(self) -> str:
        return json.dumps(
            {
                "conn_type": "generic",
                "login": CLIENT_ID,
                "password": CLIENT_SECRET,
                "extra": {"helix_url": self.helix_url, "auth_url": self.auth_url},
            }
        )


def _handler(state: FakeTwitch):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # keep test output quiet
            return

        def _reply(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _record(self, body: str) -> Seen:
            url = urlparse(self.path)
            seen = Seen(
                self.command, url.path, parse_qs(url.query), dict(self.headers), body, time.time()
            )
            with state.lock:
                state.requests.append(seen)
            return seen

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            seen = self._record(body)
            form = parse_qs(body)
            if seen.path != "/oauth2/token":
                return self._reply(404, {"message": "not found"})
            if form.get("client_id") != [CLIENT_ID] or form.get("client_secret") != [CLIENT_SECRET]:
                return self._reply(403, {"message": "invalid client"})
            with state.lock:
                token = f"tok-{len(state.tokens) + 1}-{time.time_ns()}"
                state.tokens.append(token)
            return self._reply(200, {"access_token": token, "expires_in": 5000000})

        def do_GET(self) -> None:
            seen = self._record("")
            name = seen.path.removeprefix("/helix/")
            with state.lock:
                fault = state.faults[name].popleft() if state.faults[name] else None
                state.remaining = max(0, state.remaining - 1)
                reset = time.time() + state.reset_in
                headers = {
                    "Ratelimit-Limit": str(state.limit),
                    "Ratelimit-Remaining": str(state.remaining),
                    "Ratelimit-Reset": str(state.reset_at or int(reset) + (1 if reset % 1 else 0)),
                }
            auth = seen.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ")
            if seen.headers.get("Client-Id") != CLIENT_ID:
                return self._reply(400, {"message": "Client-Id missing"}, headers)
            if token not in state.tokens or token in state.revoked or fault == 401:
                return self._reply(401, {"message": "Invalid OAuth token"}, headers)
            if fault == 429:
                headers["Ratelimit-Remaining"] = "0"
                return self._reply(429, {"message": "Too Many Requests"}, headers)
            if fault is not None:
                return self._reply(fault, {"message": "fault"}, headers)
            if name == "streams":
                return self._reply(200, self._streams(seen.query), headers)
            if name == "videos":
                return self._reply(200, self._videos(seen.query), headers)
            return self._reply(404, {"message": "not found"}, headers)

        def _streams(self, query: dict[str, list[str]]) -> dict[str, Any]:
            first = int(query.get("first", ["20"])[0])
            start = int(query.get("after", ["0"])[0])
            begin = max(0, start - state.page_overlap) if start else 0
            page = state.streams[begin : begin + first]
            end = begin + len(page)
            cursor = {"cursor": str(end)} if end < len(state.streams) else {}
            return {"data": page, "pagination": cursor}

        def _videos(self, query: dict[str, list[str]]) -> dict[str, Any]:
            user_id = query.get("user_id", [""])[0]
            assert query.get("type") == ["archive"] and query.get("period") == ["day"]
            return {"data": state.videos.get(user_id, []), "pagination": {}}

    return Handler


def start(state: FakeTwitch) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


def stream(rank: int, login: str | None = None, user_id: str | None = None) -> dict[str, Any]:
    """One Get Streams item, ranked by viewers."""
    return {
        "id": f"9{rank:05d}",
        "user_id": user_id or str(1000 + rank),
        "user_login": login or f"chan_{rank}",
        "user_name": f"Chan {rank} ✨",
        "game_id": "509658",
        "game_name": "Just Chatting",
        "type": "live",
        "title": f"stream {rank} — 日本語",
        "viewer_count": 100000 - rank,
        "started_at": "2026-11-21T20:00:00Z",
        "language": "en",
        "tags": [],
        "is_mature": False,
    }


def video(vod_id: str, user_id: str, login: str, created_at: str) -> dict[str, Any]:
    """One Get Videos item (an archive VOD)."""
    return {
        "id": vod_id,
        "stream_id": "4" + vod_id,
        "user_id": user_id,
        "user_login": login,
        "user_name": login,
        "title": "vod",
        "created_at": created_at,
        "published_at": created_at,
        "duration": "3h2m1s",
        "view_count": 10,
        "language": "en",
        "type": "archive",
    }
