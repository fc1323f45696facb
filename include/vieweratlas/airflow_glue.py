"""The few places the library meets Airflow: settings overrides and S3 credentials.

Imported only inside tasks (never at DAG parse time), so Variable look-ups and
filesystem set-up cost nothing while the DAG processor parses files.
"""

from __future__ import annotations

import json
from typing import Any

from vieweratlas.settings import UI_OVERRIDABLE, Settings, SettingsError, load_settings
from vieweratlas.storage import Lake

#: The one Airflow Variable holding every UI override, as a JSON object {field: value}.
SETTINGS_VARIABLE = "vieweratlas_settings"

_cache: dict[str, tuple[Any, dict[str, str]]] = {}  # "current" -> (task instance id, overrides)


def parse_overrides(text: str | None) -> dict[str, str]:
    """The UI overrides in the Variable's JSON text; unknown fields fail, naming them."""
    if text is None or not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingsError(f"Airflow Variable {SETTINGS_VARIABLE} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise SettingsError(f"Airflow Variable {SETTINGS_VARIABLE} must be a JSON object")
    unknown = sorted(set(data) - UI_OVERRIDABLE)
    if unknown:
        raise SettingsError(
            f"Airflow Variable {SETTINGS_VARIABLE} has fields that cannot be set from the UI: "
            f"{', '.join(unknown)} (allowed: {', '.join(sorted(UI_OVERRIDABLE))})"
        )
    return {key: "" if value is None else str(value) for key, value in data.items()}


def _task_instance_id() -> Any:
    """The running task instance's id, or None outside a task."""
    try:
        from airflow.sdk import get_current_context

        return getattr(get_current_context().get("ti"), "id", None)
    except Exception:  # noqa: BLE001 - no task context (callbacks, scripts)
        return None


def ui_overrides() -> dict[str, str]:
    """The UI overrides: one Variable lookup per task instance (cached for its process).

    With the Secrets Manager backend every Variable lookup can be a remote call, so
    all overrides live in one JSON Variable, read once per task instance.
    """
    from airflow.sdk import Variable

    ti_id = _task_instance_id()
    cached = _cache.get("current")
    if ti_id is not None and cached is not None and cached[0] == ti_id:
        return dict(cached[1])
    overrides = parse_overrides(Variable.get(SETTINGS_VARIABLE, default=None))
    if ti_id is not None:
        _cache["current"] = (ti_id, overrides)
    return dict(overrides)


def runtime_settings() -> Settings:
    """Settings from the environment, overridden by the ``vieweratlas_settings`` Variable.

    A bad value fails the task at once (no retries: only a fix can help), and the
    failure alert names the variable.
    """
    from airflow.sdk.exceptions import AirflowFailException

    try:
        return load_settings(
            overrides=ui_overrides(), overrides_source=f"Airflow Variable {SETTINGS_VARIABLE}"
        )
    except SettingsError as exc:
        raise AirflowFailException(f"bad setting: {exc}") from exc


def open_lake(settings: Settings) -> Lake:
    """The data lake; S3 credentials and endpoint come from the Airflow AWS connection."""
    if settings.is_s3:
        from airflow.providers.amazon.aws.fs.s3 import get_fs

        return Lake(settings.data_root, get_fs(settings.aws_conn_id))
    return Lake(settings.data_root)
