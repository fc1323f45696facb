"""UI overrides cost one Variable lookup per task instance, however often settings are read.

With the Secrets Manager backend each ``Variable.get`` can be a remote call. The
counter wraps Airflow's own ``Variable.get`` and passes every call through; the
task context is Airflow's own (``set_current_context``), as a task sees it.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace

from vieweratlas.airflow_glue import SETTINGS_VARIABLE, runtime_settings


def test_one_lookup_per_task_instance(monkeypatch):
    from airflow.sdk import Variable
    from airflow.sdk.execution_time.context import set_current_context

    keys: list[str] = []
    original = Variable.get

    def counting_get(*args, **kwargs):
        keys.append(args[0] if args else kwargs["key"])
        return original(*args, **kwargs)

    monkeypatch.setattr(Variable, "get", staticmethod(counting_get))
    monkeypatch.setenv("AIRFLOW_VAR_VIEWERATLAS_SETTINGS", '{"top_channels": 123}')

    for instance in range(3):  # e.g. three mapped downloads, each in its own context
        with set_current_context({"ti": SimpleNamespace(id=uuid.uuid4())}):
            assert [runtime_settings().top_channels for _ in range(5)] == [123] * 5
        assert keys == [SETTINGS_VARIABLE] * (instance + 1)

    # outside a task (scripts, callbacks without a task) nothing is cached
    monkeypatch.setenv("AIRFLOW_VAR_VIEWERATLAS_SETTINGS", '{"top_channels": 7}')
    assert runtime_settings().top_channels == 7
    assert runtime_settings().top_channels == 7
    assert len(keys) == 5
