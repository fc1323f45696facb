"""Settings: documented defaults, and bad values fail naming the variable."""

from __future__ import annotations

import pytest

from vieweratlas.settings import Settings, SettingsError, env_name, load_settings


def test_defaults_are_local():
    settings = load_settings({})
    assert settings.data_root.startswith("file:///")
    assert settings.top_channels == 5000
    assert settings.download_mode == "local"
    assert not settings.is_s3


def test_environment_and_overrides():
    settings = load_settings(
        {"VIEWERATLAS_DATA_ROOT": "s3://my-bucket/atlas/", "VIEWERATLAS_TOP_CHANNELS": "100"},
        overrides={"top_channels": "200"},
    )
    assert settings.data_root == "s3://my-bucket/atlas"
    assert settings.is_s3
    assert settings.top_channels == 200


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("VIEWERATLAS_TOP_CHANNELS", "lots", "whole number"),
        ("VIEWERATLAS_TOP_CHANNELS", "0", "positive"),
        ("VIEWERATLAS_DATA_ROOT", "/tmp/data", "file:///"),
        ("VIEWERATLAS_DATA_ROOT", "s3://Bad_Bucket/x", "bucket"),
        ("VIEWERATLAS_SNS_TOPIC_ARN", "my-topic", "ARN"),
        ("VIEWERATLAS_DOWNLOAD_MODE", "k8s", "one of"),
        ("VIEWERATLAS_ECS_SUBNETS", "subnet-1;rm -rf", "subnet"),
        ("VIEWERATLAS_MIN_CHANNELS_RATIO", "2", "between 0 and 1"),
        ("VIEWERATLAS_AWS_CONN_ID", "a b", "connection id"),
    ],
)
def test_bad_values_name_the_variable(variable, value, message):
    with pytest.raises(SettingsError, match=message) as info:
        load_settings({variable: value})
    assert variable in str(info.value)


def test_ecs_mode_needs_subnets():
    with pytest.raises(SettingsError, match="VIEWERATLAS_ECS_SUBNETS"):
        load_settings({"VIEWERATLAS_DOWNLOAD_MODE": "ecs"})


def test_every_field_is_documented_in_the_readme():
    from dataclasses import fields
    from pathlib import Path

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    missing = [env_name(f.name) for f in fields(Settings) if env_name(f.name) not in readme]
    assert not missing, f"settings missing from the README table: {missing}"


@pytest.mark.parametrize(
    "value", ["@hourly", "@daily", "*/30 * * * *", "0 3 * * 1-5", "15,45 */2 1 jan,jul sun"]
)
def test_schedules_accept_cron_and_presets(value):
    assert load_settings({"VIEWERATLAS_VOD_DISCOVERY_SCHEDULE": value}).vod_discovery_schedule


@pytest.mark.parametrize("value", ["every hour", "61 * * * *", "* * * *", "*/0 * * * *", "@often"])
def test_bad_schedules_name_the_variable(value):
    with pytest.raises(SettingsError, match="VIEWERATLAS_CHANNEL_REFRESH_SCHEDULE"):
        load_settings({"VIEWERATLAS_CHANNEL_REFRESH_SCHEDULE": value})


def test_dag_setting_never_raises_and_warns_naming_the_variable(caplog):
    from vieweratlas.settings import dag_setting

    env = {
        "VIEWERATLAS_CHANNEL_REFRESH_SCHEDULE": "every hour",
        "VIEWERATLAS_VOD_DOWNLOAD_CONCURRENCY": "many",
        "VIEWERATLAS_VOD_DISCOVERY_SCHEDULE": "0 4 * * *",
    }
    assert dag_setting("channel_refresh_schedule", env) == "@hourly"
    assert dag_setting("vod_download_concurrency", env) == 8
    assert dag_setting("vod_discovery_schedule", env) == "0 4 * * *"
    assert "VIEWERATLAS_CHANNEL_REFRESH_SCHEDULE" in caplog.text
    assert "VIEWERATLAS_VOD_DOWNLOAD_CONCURRENCY" in caplog.text


def test_a_bad_override_names_its_source():
    with pytest.raises(SettingsError, match=r"Airflow Variable vieweratlas_settings\.top_channels"):
        load_settings(
            {}, {"top_channels": "lots"}, overrides_source="Airflow Variable vieweratlas_settings"
        )


@pytest.mark.parametrize(
    ("text", "message"),
    [("{not json", "not JSON"), ("[1]", "JSON object"), ('{"data_root": "s3://x"}', "data_root")],
)
def test_the_settings_variable_must_be_an_object_of_ui_fields(text, message):
    from vieweratlas.airflow_glue import parse_overrides

    with pytest.raises(SettingsError, match=message):
        parse_overrides(text)


def test_the_settings_variable_overrides_ui_fields():
    from vieweratlas.airflow_glue import parse_overrides

    overrides = parse_overrides('{"top_channels": 300, "sns_topic_arn": null}')
    assert overrides == {"top_channels": "300", "sns_topic_arn": ""}
    assert load_settings({}, overrides).top_channels == 300


def test_readme_table_marks_exactly_the_ui_fields_and_names_the_variable():
    import re
    from pathlib import Path

    from vieweratlas.airflow_glue import SETTINGS_VARIABLE
    from vieweratlas.settings import PREFIX, UI_OVERRIDABLE

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    rows = re.findall(r"^\| `(VIEWERATLAS_\w+)` \| [^|]* \| (.*) \|$", readme, re.M)
    marked = {name.removeprefix(PREFIX).lower() for name, meaning in rows if "*UI*" in meaning}
    assert marked == set(UI_OVERRIDABLE)
    assert f"`{SETTINGS_VARIABLE}`" in readme
    assert "vieweratlas_<field>" not in readme  # the old one-Variable-per-field scheme
