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
