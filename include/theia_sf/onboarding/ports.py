"""The small AWS port the onboarding steps are written against.

:class:`theia_sf.adapters.aws.BotoAws` implements it with boto3 clients (the Airflow glue
hands it the Amazon provider's clients). Every ``ensure_*`` call is idempotent ("exists ->
reuse") and every ``delete_*`` call treats "already gone" as done and returns whether
something was deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class QueueRef:
    url: str
    arn: str


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    arn: str
    region: str
    state: str


@dataclass(frozen=True, slots=True)
class TaggedResource:
    kind: str  # bucket, queue, topic, role, policy
    name: str  # name or ARN, whatever the delete call takes
    stack: str


class AwsPort(Protocol):
    region: str

    # identity
    def account_id(self) -> str: ...

    # S3
    def bucket_exists(self, bucket: str) -> bool: ...

    def bucket_region(self, bucket: str) -> str: ...

    def ensure_bucket(self, bucket: str, region: str, tags: dict[str, str]) -> bool: ...

    def put_expiry_rule(self, bucket: str, rule_id: str, prefix: str, days: int) -> None: ...

    def put_queue_notification(
        self, bucket: str, config_id: str, queue_arn: str, prefix: str
    ) -> None: ...

    def clear_notifications(self, bucket: str) -> bool: ...

    def delete_bucket(self, bucket: str, *, force: bool) -> int | None: ...

    def bucket_objects(self, bucket: str) -> int: ...

    # SQS / SNS
    def ensure_queue(
        self, name: str, attributes: dict[str, str], tags: dict[str, str]
    ) -> QueueRef: ...

    def queue(self, name: str) -> QueueRef | None: ...

    def set_queue_policy(self, queue: QueueRef, policy: dict[str, Any]) -> None: ...

    def delete_queue(self, name: str) -> bool: ...

    def receive_messages(
        self, queue_arn: str, max_messages: int
    ) -> list[tuple[str, str]]: ...  # (body, receipt handle)

    def delete_message(self, queue_arn: str, receipt: str) -> None: ...

    def ensure_topic(self, name: str, tags: dict[str, str]) -> str: ...

    def ensure_subscription(self, topic_arn: str, queue_arn: str) -> str: ...

    def delete_topic(self, topic_arn: str) -> bool: ...

    # IAM
    def ensure_policy(
        self, name: str, path: str, document: dict[str, Any], tags: dict[str, str]
    ) -> str: ...

    def ensure_role(
        self,
        name: str,
        path: str,
        trust: dict[str, Any],
        tags: dict[str, str],
        policy_arn: str,
    ) -> str: ...

    def role_trust(self, name: str) -> dict[str, Any] | None: ...

    def delete_role(self, name: str) -> bool: ...

    def delete_policy(self, arn: str) -> bool: ...

    # KMS
    def describe_key(self, key_id: str, region: str) -> KeyInfo | None: ...

    def ensure_key(
        self, alias: str, description: str, region: str, tags: dict[str, str]
    ) -> KeyInfo: ...

    def schedule_key_deletion(self, key_id: str, region: str, days: int) -> str: ...

    # discovery of leftovers
    def tagged_resources(self, stack: str) -> list[TaggedResource]: ...

    def delete_tagged(self, resource: TaggedResource) -> bool: ...
