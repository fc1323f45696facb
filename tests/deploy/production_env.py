"""Settings shared by the deploy tests."""

from __future__ import annotations

#: What a deploy from the stack writes into startup.sh (the minimum MWAA can run on).
PRODUCTION_ENV = {
    "VIEWERATLAS_DATA_ROOT": "s3://vieweratlas-data-123456789012-us-east-1/lake",
    "VIEWERATLAS_SNS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:vieweratlas-alerts",
    "VIEWERATLAS_DOWNLOAD_MODE": "ecs",
    "VIEWERATLAS_ECS_SUBNETS": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "VIEWERATLAS_ECS_SECURITY_GROUPS": "sg-0123456789abcdef0",
}
