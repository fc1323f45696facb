"""A headless Chromium driven over the DevTools protocol (pipe mode, no extra package).

    with Chromium() as browser:
        browser.open(url, width=400, height=800, dark=True)
        browser.eval("document.title")

Used by the map browser tests and ``scripts/bench_map_page.py``. Chromium runs
with every background network feature off and a throwaway profile.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

#: Headless, and no traffic beyond this machine: no updates, sync, QUIC or first-run calls.
OFFLINE_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
FLAGS = [*OFFLINE_FLAGS, "--remote-debugging-pipe"]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str, profile: str, timeout: float = 90) -> str:
    """The DOM of ``url`` after its scripts ran (5 s of virtual time), as Chromium serialises it."""
    path = chromium_path()
    if not path:
        raise RuntimeError("chromium not installed")
    command = [path, *OFFLINE_FLAGS, "--virtual-time-budget=5000", f"--user-data-dir={profile}"]
    done = subprocess.run(
        [*command, "--dump-dom", url], capture_output=True, text=True, timeout=timeout, check=True
    )
    return done.stdout


class Chromium:
    """One browser with one page; ``call`` sends a DevTools command and waits for its reply."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or chromium_path()
        if not self.path:
            raise RuntimeError("chromium not installed")
        self._id = 0
        self._buffer = b""

    def __enter__(self) -> Chromium:
        # Chromium's helper processes can still be writing the profile as it is removed.
        self._profile = tempfile.TemporaryDirectory(ignore_cleanup_errors=True)
        to_chrome_r, self._to_chrome = os.pipe()
        self._from_chrome, from_chrome_w = os.pipe()

        def pipes_on_3_and_4() -> None:  # Chromium reads commands on fd 3, replies on fd 4
            read, write = os.dup(to_chrome_r), os.dup(from_chrome_w)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self._proc = subprocess.Popen(
            [self.path, *FLAGS, f"--user-data-dir={self._profile.name}", "about:blank"],
            pass_fds=(3, 4),
            preexec_fn=pipes_on_3_and_4,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self._session = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)[
            "sessionId"
        ]
        self.call("Page.enable", session=True)
        self.call("Runtime.enable", session=True)
        return self

    def __exit__(self, *exc) -> None:
        self._proc.kill()
        self._proc.wait(timeout=30)
        os.close(self._to_chrome)
        os.close(self._from_chrome)
        self._profile.cleanup()

    def call(self, method: str, session: bool = False, **params) -> dict:
        self._id += 1
        message = {"id": self._id, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._to_chrome, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in self._buffer:
                chunk = os.read(self._from_chrome, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed the pipe")
                self._buffer += chunk
            raw, self._buffer = self._buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})

    def page(self, method: str, **params) -> dict:
        return self.call(method, session=True, **params)

    def eval(self, expression: str, await_promise: bool = False):
        """The JSON value of ``expression`` in the page (DevTools ignores the page's CSP)."""
        result = self.page(
            "Runtime.evaluate",
            expression=expression,
            returnByValue=True,
            awaitPromise=await_promise,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(str(result["exceptionDetails"]))
        return result["result"].get("value")

    def open(self, url: str, width: int, height: int, dark: bool = False, timeout=60.0) -> None:
        """Load ``url`` at a viewport size (phone-like under 500 px) and colour scheme,
        and wait until the map says it is ready."""
        self.page(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width <= 500,
        )
        self.page("Emulation.setTouchEmulationEnabled", enabled=width <= 500)
        scheme = "dark" if dark else "light"
        self.page(
            "Emulation.setEmulatedMedia",
            features=[{"name": "prefers-color-scheme", "value": scheme}],
        )
        self.page(
            "Page.navigate", url="about:blank"
        )  # a fresh document even if only the hash differs
        self.page("Page.navigate", url=url)
        deadline = time.monotonic() + timeout
        while not self.eval("document.body && document.body.dataset.ready || ''"):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} not ready")
            time.sleep(0.05)

    def screenshot(self) -> bytes:
        return base64.b64decode(self.page("Page.captureScreenshot", format="png")["data"])
