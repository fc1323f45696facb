"""Heartbeat figures as CloudWatch metrics, in the embedded metric format (EMF).

One JSON log line per heartbeat carries an ``_aws`` block; CloudWatch Logs
turns its fields into metrics on ingestion (the ECS ``awslogs`` driver sends
every line with PutLogEvents), so metrics cost no API call and no agent.
Dimension: ``CollectorId``. The alarms in ``infra/vieweratlas.yaml`` use them.
"""

from __future__ import annotations

from typing import Any

#: metric name -> (heartbeat field, unit)
METRICS: dict[str, tuple[str, str]] = {
    "ConnectionsUp": ("connections_up", "Count"),
    "ChannelsWanted": ("channels_wanted", "Count"),
    "ChannelsJoined": ("channels_joined", "Count"),
    "ChannelsUnjoinable": ("channels_unjoinable", "Count"),
    "LinesPerSecond": ("lines_per_second", "Count/Second"),
    "MalformedLines": ("malformed_since_last", "Count"),
    "SpoolBacklog": ("spool_backlog", "Count"),
    "UploadFailures": ("upload_failures_since_last", "Count"),
    "CheckpointAgeSeconds": ("last_checkpoint_age_seconds", "Seconds"),
}


def emf(beat: dict[str, Any], namespace: str, timestamp_ms: int) -> dict[str, Any]:
    """The fields to add to a log line so CloudWatch extracts the heartbeat's metrics."""
    values = {name: beat[field] for name, (field, _unit) in METRICS.items()}
    return {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [["CollectorId"]],
                    "Metrics": [{"Name": n, "Unit": u} for n, (_f, u) in METRICS.items()],
                }
            ],
        },
        "CollectorId": beat["collector_id"],
        **values,
    }
