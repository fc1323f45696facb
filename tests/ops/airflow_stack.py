"""A real Airflow 3 deployment on loopback for end-to-end tests.

Starts Airflow's own components (api-server, scheduler with the LocalExecutor,
dag-processor) from the venv's ``airflow`` CLI in a temporary AIRFLOW_HOME with
SQLite, the simple auth manager and a known user, then talks to it like a user:
a JWT from ``/auth/token`` and the public REST API v2. Every component runs in
its own process group; :meth:`AirflowStack.stop` terminates the groups and any
descendant left over, so nothing outlives the test, even on failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

AIRFLOW = str(Path(sys.executable).with_name("airflow"))
USER = "e2e"


class StackError(RuntimeError):
    """The Airflow stack did not do what the test needed."""


class AirflowStack:
    """api-server + scheduler + dag-processor under ``home``, API on ``port``."""

    COMPONENTS = (
        ("api-server", ["api-server", "--host", "127.0.0.1", "--workers", "1"]),
        ("scheduler", ["scheduler"]),
        ("dag-processor", ["dag-processor"]),
    )

    def __init__(self, home: Path, dags: Path, port: int, extra_env: dict[str, str]) -> None:
        self.home, self.dags, self.port = home, dags, port
        self.base_url = f"http://127.0.0.1:{port}"
        self.password = secrets.token_urlsafe(16)
        self.procs: dict[str, subprocess.Popen] = {}
        self.helpers: list[subprocess.Popen] = []  # CLI commands
        self._token = ""
        self._started = time.monotonic()
        (home / "passwords.json").write_text(json.dumps({USER: self.password}))
        self.env = {
            **os.environ,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": self.base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
            # Only the runs a test asks for: unpausing creates no scheduled run.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__STANDALONE_DAG_PROCESSOR": "True",
            **extra_env,
        }
        for name in ("PYTEST_CURRENT_TEST", "AIRFLOW__CORE__PLUGINS_FOLDER"):
            self.env.pop(name, None)

    def mark(self, label: str) -> None:
        """Print seconds since the stack was created (shown with -s or on failure)."""
        print(f"[e2e {time.monotonic() - self._started:6.1f}s] {label}", flush=True)

    # -- processes --------------------------------------------------------------------

    def cli(self, *args: str, timeout: float = 120, attempts: int = 4) -> str:
        """Run one ``airflow`` CLI command against this deployment; return its stdout.

        SQLite allows one writer: a command that meets the scheduler's write lock
        fails with "database is locked" before changing anything, and is retried.
        """
        for attempt in range(1, attempts + 1):
            proc = subprocess.Popen(
                [AIRFLOW, *args],
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            self.helpers.append(proc)
            try:
                out, err = proc.communicate(timeout=timeout)
            finally:
                if proc.poll() is None:
                    self._signal_group(proc.pid, signal.SIGKILL)
                    proc.wait()
            if not proc.returncode:
                return out
            if "database is locked" not in err or attempt == attempts:
                break
            time.sleep(2)
        raise StackError(f"airflow {' '.join(args)} failed:\n{out}\n{err[-3000:]}")

    def start(self, without: tuple[str, ...] = ()) -> None:
        """Migrate the metadata DB, then start every component (but ``without``)."""
        self.cli("db", "migrate", timeout=180)
        for name, _ in self.COMPONENTS:
            if name not in without:
                self.start_component(name)

    def start_component(self, name: str) -> None:
        """Start one component in its own process group."""
        args = dict(self.COMPONENTS)[name]
        log = (self.home / f"{name}.log").open("wb")
        self.procs[name] = subprocess.Popen(
            [AIRFLOW, *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def stop(self) -> None:
        """Terminate every process this stack started (groups, then stray descendants)."""
        family: list[psutil.Process] = []
        everything = [*self.procs.values(), *self.helpers]
        for proc in everything:
            with contextlib.suppress(psutil.NoSuchProcess):
                family += [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(True)]
            self._signal_group(proc.pid, signal.SIGTERM)
        _, alive = psutil.wait_procs(family, timeout=10)
        for proc in everything:
            self._signal_group(proc.pid, signal.SIGKILL)
        for stray in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                stray.kill()
        psutil.wait_procs(alive, timeout=5)
        for proc in everything:
            proc.wait(timeout=5)

    @staticmethod
    def _signal_group(pid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, sig)  # start_new_session made pid the group id

    def logs(self, tail: int = 40) -> str:
        """The last lines of every component's log (for failure messages)."""
        out = []
        for name in self.procs:
            lines = (self.home / f"{name}.log").read_text(errors="replace").splitlines()
            out.append(f"--- {name} ---\n" + "\n".join(lines[-tail:]))
        return "\n".join(out)

    def _check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                raise StackError(f"{name} exited with {proc.returncode}\n{self.logs()}")

    # -- REST API v2 ---------------------------------------------------------------------

    def wait_ready(self, timeout: float = 120) -> None:
        """Wait until the API answers and issues a token for our user."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                reply = httpx.post(
                    f"{self.base_url}/auth/token",
                    json={"username": USER, "password": self.password},
                    timeout=5,
                )
                if reply.status_code == 201:
                    self._token = reply.json()["access_token"]
                    return
            except httpx.TransportError:
                pass
            time.sleep(1)
        raise StackError(f"API server not ready after {timeout}s\n{self.logs()}")

    def api(self, method: str, path: str, body: Any = None, ok: tuple = (200, 201)) -> Any:
        """Call the public REST API v2 with our JWT; return the JSON reply."""
        reply = httpx.request(
            method,
            f"{self.base_url}/api/v2/{path.lstrip('/')}",
            json=body,
            headers={"Authorization": f"Bearer {self._token}"},
            timeout=120,  # a loaded CI machine can take long to answer
        )
        if reply.status_code not in ok:
            raise StackError(f"{method} {path} -> {reply.status_code}: {reply.text[:500]}")
        return reply.json() if reply.content else None

    def wait_dags(self, dag_ids: list[str], timeout: float = 120) -> None:
        """Wait until the dag-processor has parsed and stored every DAG."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            found = {d["dag_id"] for d in self.api("GET", "dags?limit=100")["dags"]}
            if set(dag_ids) <= found:
                return
            time.sleep(2)
        errors = self.api("GET", "importErrors")
        raise StackError(f"DAGs {dag_ids} not parsed in {timeout}s: {errors}\n{self.logs()}")

    def create_backfill(self, body: dict, attempts: int = 15) -> dict:
        """What the UI's Backfill form does; retried while SQLite is locked (503).

        On SQLite Airflow refuses a backfill while another component writes
        ("Database is locked ... not supported on SQLite under concurrent access")
        and creates nothing, so trying again is safe.
        """
        for attempt in range(1, attempts + 1):
            try:
                return self.api("POST", "backfills", body)
            except StackError as exc:
                if "-> 503" not in str(exc) or attempt == attempts:
                    raise
                time.sleep(3)
        raise StackError("unreachable")

    def unpause(self, dag_id: str) -> None:
        """What the UI's toggle does."""
        self.api("PATCH", f"dags/{dag_id}", {"is_paused": False})

    def trigger(self, dag_id: str, logical_date: str | None, conf: dict | None = None) -> str:
        """Trigger a run like the UI's Trigger button; return its run id."""
        run = self.api(
            "POST", f"dags/{dag_id}/dagRuns", {"logical_date": logical_date, "conf": conf or {}}
        )
        return run["dag_run_id"]

    def runs(self, dag_id: str) -> list[dict]:
        """All runs of a DAG."""
        return self.api("GET", f"dags/{dag_id}/dagRuns?limit=100")["dag_runs"]

    def wait_runs(
        self,
        dag_id: str,
        run_ids: list[str] | None,
        count: int,
        timeout: float,
        fail_fast: bool = True,
    ) -> list[dict]:
        """Wait until ``count`` runs (or those in ``run_ids``) have finished; return them.

        With ``fail_fast``, a task that fails or waits for a retry ends the wait at
        once (retries are minutes apart) with every task's state in the error.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._check_alive()
            runs = [r for r in self.runs(dag_id) if run_ids is None or r["dag_run_id"] in run_ids]
            done = [r for r in runs if r["state"] in ("success", "failed")]
            if len(done) >= count:
                return done
            for run in runs:
                states = self.task_states(dag_id, run["dag_run_id"]) if fail_fast else {}
                if {"failed", "up_for_retry"} & set(states.values()):
                    raise StackError(f"{dag_id} {run['dag_run_id']} has a failed task: {states}")
            if time.monotonic() > deadline:
                states = {r["dag_run_id"]: r["state"] for r in runs}
                raise StackError(f"{dag_id} runs not finished in {timeout}s: {states}")
            time.sleep(2)

    def task_instance(self, dag_id: str, run_id: str, task_id: str) -> dict:
        """One (unmapped) task instance of a run, as the API returns it."""
        return self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}")

    def clear(self, dag_id: str, run_id: str, task_ids: list[str]) -> None:
        """What the UI's Clear does for these tasks of one run (they run again)."""
        body = {"dry_run": False, "only_failed": False, "dag_run_id": run_id, "task_ids": task_ids}
        self.api("POST", f"dags/{dag_id}/clearTaskInstances", body)

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        """Task id -> state of one run."""
        reply = self.api("GET", f"dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=100")
        return {
            ti["task_id"] + ("" if ti["map_index"] < 0 else f"[{ti['map_index']}]"): ti["state"]
            for ti in reply["task_instances"]
        }
