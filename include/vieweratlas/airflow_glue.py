"""The few places the library meets Airflow: settings overrides and S3 credentials.

Imported only inside tasks (never at DAG parse time), so Variable look-ups and
filesystem set-up cost nothing while the DAG processor parses files.
"""

from __future__ import annotations

from vieweratlas.settings import UI_OVERRIDABLE, Settings, load_settings
from vieweratlas.storage import Lake


def variable_name(field_name: str) -> str:
    """The Airflow Variable that overrides a setting from the UI."""
    return f"vieweratlas_{field_name}"


def runtime_settings() -> Settings:
    """Settings from the environment, overridden by Airflow Variables where set."""
    from airflow.sdk import Variable

    overrides: dict[str, str] = {}
    for field_name in sorted(UI_OVERRIDABLE):
        value = Variable.get(variable_name(field_name), default=None)
        if value is not None:
            overrides[field_name] = str(value)
    return load_settings(overrides=overrides)


def open_lake(settings: Settings) -> Lake:
    """The data lake; S3 credentials and endpoint come from the Airflow AWS connection."""
    if settings.is_s3:
        from airflow.providers.amazon.aws.fs.s3 import get_fs

        return Lake(settings.data_root, get_fs(settings.aws_conn_id))
    return Lake(settings.data_root)
