"""Helpers for the operations tests: an SQS queue subscribed to the alert topic, DAG loading."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

import pytest

from tests import testkit


@pytest.fixture
def load_dag(airflow_db):
    """``load_dag(dag_id)``: a real DAG from ``dags/``, with a migrated metadata DB."""
    return testkit.load_dag


class AlertInbox:
    """An SQS queue subscribed to the SNS topic: what an email subscriber would get."""

    def __init__(self, moto, queue_url: str, subscription_arn: str) -> None:
        self.moto = moto
        self.queue_url = queue_url
        self.subscription_arn = subscription_arn
        self.sqs = moto.client("sqs")

    def receive(self, expected: int = 1, timeout: float = 30.0) -> list[dict]:
        """At least ``expected`` SNS notifications (``Subject``, ``Message``), or what came."""
        got: list[dict] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            reply = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            )
            for message in reply.get("Messages", []):
                got.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"]
                )
        return got


def subscribe_inbox(moto) -> AlertInbox:
    """Create a queue and subscribe it to the moto topic."""
    sqs, sns = moto.client("sqs"), moto.client("sns")
    url = sqs.create_queue(QueueName=f"alerts-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sub = sns.subscribe(TopicArn=moto.topic_arn, Protocol="sqs", Endpoint=arn)
    return AlertInbox(moto, url, sub["SubscriptionArn"])


@pytest.fixture
def inbox(moto_server, monkeypatch) -> Iterator[AlertInbox]:
    """Alerts go to the moto topic; this inbox receives them."""
    monkeypatch.setenv("VIEWERATLAS_SNS_TOPIC_ARN", moto_server.topic_arn)
    box = subscribe_inbox(moto_server)
    yield box
    moto_server.client("sns").unsubscribe(SubscriptionArn=box.subscription_arn)
    moto_server.client("sqs").delete_queue(QueueUrl=box.queue_url)
