"""Headless Chromium driven over the DevTools protocol: navigate, type, click, read pixels.

Just enough of the protocol for the plugin test: one page, ``Runtime.evaluate``
for DOM queries (also inside same-origin iframes), ``Input.*`` for real
keyboard and mouse events, ``Page.captureScreenshot`` for the record.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from scripts.headless import OFFLINE_FLAGS
from websockets.sync.client import connect

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [*OFFLINE_FLAGS, "--window-size=1400,1000", "--remote-debugging-port=0"]


class BrowserError(RuntimeError):
    """The page did not reach the state the test waited for."""


class Browser:
    """One Chromium process with one page; use as a context manager."""

    def __init__(self, profile: Path) -> None:
        assert CHROMIUM, "chromium not installed"
        self.failure_shot = profile.with_name("failure.png")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        port = self._devtools_port()
        pages = httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        url = next(p["webSocketDebuggerUrl"] for p in pages if p["type"] == "page")
        self.ws = connect(url, max_size=64 * 2**20, open_timeout=20)
        self._ids = itertools.count(1)

    def _devtools_port(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                return int(found.group(1))
            if not line and self.proc.poll() is not None:
                break
        raise BrowserError("chromium did not start its DevTools endpoint")

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            self.ws.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def send(self, method: str, **params: Any) -> dict:
        """One protocol command; its result (events in between are dropped)."""
        call_id = next(self._ids)
        self.ws.send(json.dumps({"id": call_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv(timeout=60))
            if message.get("id") == call_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})

    def js(self, expression: str) -> Any:
        """Evaluate ``expression`` in the page (promises awaited); its JSON value."""
        result = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def goto(self, url: str) -> None:
        self.send("Page.navigate", url=url)

    def wait(self, expression: str, timeout: float = 60, what: str = "") -> Any:
        """Poll ``expression`` until it is truthy; its value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(BrowserError):
                value = self.js(expression)
                if value:
                    return value
            time.sleep(0.3)
        raise BrowserError(
            f"timed out waiting for {what or expression}; at {self.js('location.href')}"
        )

    def type_into(self, selector: str, text: str) -> None:
        """Focus ``selector`` and type ``text`` as keyboard input."""
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def click(self, expression: str, what: str = "") -> None:
        """A real mouse click in the middle of the element ``expression`` finds."""
        box = self.wait(
            f"(() => {{ const e = {expression}; if (!e) return null; e.scrollIntoView();"
            " const r = e.getBoundingClientRect();"
            " return r.width && r.height ? [r.x + r.width / 2, r.y + r.height / 2] : null; })()",
            what=what,
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left",
                clickCount=1,
            )  # fmt: skip

    def click_until(self, expression: str, arrived: str, what: str = "", tries: int = 4) -> None:
        """Click until the JS condition ``arrived`` holds (the UI may re-render under the mouse)."""
        for _ in range(tries):
            self.click(expression, what)
            with contextlib.suppress(BrowserError):
                self.wait(arrived, timeout=15, what=what)
                return
        self.wait(arrived, timeout=1, what=what)

    def screenshot(self, path: Path) -> None:
        data = self.send("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))
