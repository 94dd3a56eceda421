"""boto3-based AWS clients for onboarding (S3, KMS, SNS, SQS, IAM, STS) and the S3 state store.

Clients come from a factory ``factory(service, region) -> boto3 client`` so the Airflow glue
can pass the Amazon provider's hook clients (the ``theia_aws`` connection is the credential
source) and tests can point plain boto3 at a local moto server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from theia_sf.errors import ConfigurationError
from theia_sf.onboarding.names import IAM_PATH, TAG_STACK, check_stack_name
from theia_sf.onboarding.ports import KeyInfo, QueueRef, TaggedResource
from theia_sf.onboarding.state import StackState

log = logging.getLogger(__name__)

ClientFactory = Callable[[str, "str | None"], Any]

_GONE = {
    "NoSuchBucket",
    "NoSuchEntity",
    "NotFound",
    "NotFoundException",
    "404",
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "NoSuchKey",
}


_UNSUPPORTED = {"NotImplemented", "XNotImplemented", "MethodNotAllowed", "NotSupported"}


def error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response.get("Error", {}).get("Code", ""))
    return ""


def is_gone(error: Exception) -> bool:
    return error_code(error) in _GONE


def boto3_factory(endpoint_url: str | None = None, **kwargs: Any) -> ClientFactory:
    """A factory of plain boto3 clients (default credential chain, optional endpoint)."""
    import boto3

    def make(service: str, region: str | None) -> Any:
        return boto3.client(service, region_name=region, endpoint_url=endpoint_url, **kwargs)

    return make


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


class BotoAws:
    """The onboarding AWS port (:class:`theia_sf.onboarding.ports.AwsPort`) over boto3."""

    def __init__(self, factory: ClientFactory, region: str) -> None:
        self._factory = factory
        self.region = region
        self._clients: dict[tuple[str, str | None], Any] = {}

    def client(self, service: str, region: str | None = None) -> Any:
        key = (service, region or self.region)
        if key not in self._clients:
            self._clients[key] = self._factory(service, key[1])
        return self._clients[key]

    # --- identity -----------------------------------------------------------------------

    def account_id(self) -> str:
        try:
            return str(self.client("sts").get_caller_identity()["Account"])
        except (NoCredentialsError, ClientError, BotoCoreError) as error:
            raise ConfigurationError(
                f"AWS credentials are missing or invalid ({error}); fix the theia_aws "
                "connection (or the AWS environment of the workers)"
            ) from error

    # --- S3 -----------------------------------------------------------------------------

    def bucket_exists(self, bucket: str) -> bool:
        try:
            self.client("s3").head_bucket(Bucket=bucket)
            return True
        except ClientError as error:
            if is_gone(error):
                return False
            raise

    def bucket_region(self, bucket: str) -> str:
        response = self.client("s3").get_bucket_location(Bucket=bucket)
        # S3 reports us-east-1 as an empty constraint (and EU as a legacy alias).
        return response.get("LocationConstraint") or "us-east-1"

    def ensure_bucket(self, bucket: str, region: str, tags: dict[str, str]) -> bool:
        s3 = self.client("s3", region)
        if self.bucket_exists(bucket):
            log.info("bucket %s exists, reusing it", bucket)
            return False
        args: dict[str, Any] = {"Bucket": bucket}
        # us-east-1 rejects an explicit LocationConstraint (theia-sf's create-bucket bug).
        if region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": region}
        try:
            s3.create_bucket(**args)
        except ClientError as error:
            if error_code(error) != "BucketAlreadyOwnedByYou":
                raise
            return False
        self._best_effort(
            bucket,
            "public access block",
            lambda: s3.put_public_access_block(
                Bucket=bucket,
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": True,
                    "IgnorePublicAcls": True,
                    "BlockPublicPolicy": True,
                    "RestrictPublicBuckets": True,
                },
            ),
        )
        self._best_effort(
            bucket,
            "tags",
            lambda: s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tag_list(tags)}),
        )
        log.info("created bucket %s in %s", bucket, region)
        return True

    @staticmethod
    def _best_effort(bucket: str, what: str, call: Callable[[], Any]) -> None:
        """S3-compatible stores (MinIO, ...) lack some bucket features; AWS has them all."""
        try:
            call()
        except ClientError as error:
            if error_code(error) not in _UNSUPPORTED:
                raise
            log.warning(
                "bucket %s: the store does not support %s (%s); skipped",
                bucket,
                what,
                error_code(error),
            )

    def put_expiry_rule(self, bucket: str, rule_id: str, prefix: str, days: int) -> None:
        self.client("s3").put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": rule_id,
                        "Status": "Enabled",
                        "Filter": {"Prefix": prefix},
                        "Expiration": {"Days": days},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": days},
                    }
                ]
            },
        )

    def put_queue_notification(
        self, bucket: str, config_id: str, queue_arn: str, prefix: str
    ) -> None:
        self.client("s3").put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "Id": config_id,
                        "QueueArn": queue_arn,
                        "Events": ["s3:ObjectCreated:*"],
                        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": prefix}]}},
                    }
                ]
            },
        )

    def clear_notifications(self, bucket: str) -> bool:
        try:
            self.client("s3").put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={}
            )
            return True
        except ClientError as error:
            if is_gone(error):
                return False
            raise

    def _versions(self, bucket: str) -> list[dict[str, str]]:
        paginator = self.client("s3").get_paginator("list_object_versions")
        found: list[dict[str, str]] = []
        for page in paginator.paginate(Bucket=bucket):
            for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
                found.append({"Key": item["Key"], "VersionId": item.get("VersionId") or "null"})
        return found

    def bucket_objects(self, bucket: str) -> int:
        try:
            return len(self._versions(bucket))
        except ClientError as error:
            if is_gone(error):
                return 0
            raise

    def delete_bucket(self, bucket: str, *, force: bool) -> int | None:
        """Delete ``bucket``; with ``force`` first every object version and delete marker,
        on every page (theia-sf's delete-bucket stopped after the first page).

        Returns the number of versions deleted, or None when the bucket was already gone.
        """
        s3 = self.client("s3")
        deleted = 0
        try:
            if force:
                while True:
                    batch = self._versions(bucket)
                    if not batch:
                        break
                    for start in range(0, len(batch), 1000):
                        chunk = batch[start : start + 1000]
                        s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
                        deleted += len(chunk)
            s3.delete_bucket(Bucket=bucket)
        except ClientError as error:
            if is_gone(error):
                return None
            raise
        log.info("deleted bucket %s (%d object versions)", bucket, deleted)
        return deleted

    # --- SQS / SNS ----------------------------------------------------------------------

    def queue(self, name: str) -> QueueRef | None:
        sqs = self.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except ClientError as error:
            if is_gone(error):
                return None
            raise
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return QueueRef(url, arn["Attributes"]["QueueArn"])

    def ensure_queue(self, name: str, attributes: dict[str, str], tags: dict[str, str]) -> QueueRef:
        existing = self.queue(name)
        sqs = self.client("sqs")
        if existing is not None:
            sqs.set_queue_attributes(QueueUrl=existing.url, Attributes=attributes)
            return existing
        sqs.create_queue(QueueName=name, Attributes=attributes, tags=tags)
        ref = self.queue(name)
        assert ref is not None
        return ref

    def set_queue_policy(self, queue: QueueRef, policy: dict[str, Any]) -> None:
        self.client("sqs").set_queue_attributes(
            QueueUrl=queue.url, Attributes={"Policy": json.dumps(policy)}
        )

    def delete_queue(self, name: str) -> bool:
        ref = self.queue(name)
        if ref is None:
            return False
        try:
            self.client("sqs").delete_queue(QueueUrl=ref.url)
        except ClientError as error:
            if is_gone(error):
                return False
            raise
        return True

    def _queue_url_from_arn(self, queue_arn: str) -> tuple[Any, str]:
        parts = queue_arn.split(":")
        region, account, name = parts[3], parts[4], parts[5]
        sqs = self.client("sqs", region)
        url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        return sqs, url

    def receive_messages(self, queue_arn: str, max_messages: int) -> list[tuple[str, str]]:
        sqs, url = self._queue_url_from_arn(queue_arn)
        messages: list[tuple[str, str]] = []
        while len(messages) < max_messages:
            batch = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=min(10, max_messages - len(messages)),
                WaitTimeSeconds=0,
            ).get("Messages", [])
            if not batch:
                break
            messages += [(m["Body"], m["ReceiptHandle"]) for m in batch]
        return messages

    def delete_message(self, queue_arn: str, receipt: str) -> None:
        sqs, url = self._queue_url_from_arn(queue_arn)
        sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)

    def ensure_topic(self, name: str, tags: dict[str, str]) -> str:
        # CreateTopic is idempotent for an existing topic with the same attributes.
        return str(self.client("sns").create_topic(Name=name, Tags=_tag_list(tags))["TopicArn"])

    def ensure_subscription(self, topic_arn: str, queue_arn: str) -> str:
        sns = self.client("sns")
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for sub in page.get("Subscriptions", []):
                if sub["Protocol"] == "sqs" and sub["Endpoint"] == queue_arn:
                    return str(sub["SubscriptionArn"])
        response = sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True
        )
        return str(response["SubscriptionArn"])

    def delete_topic(self, topic_arn: str) -> bool:
        sns = self.client("sns")
        try:
            sns.get_topic_attributes(TopicArn=topic_arn)
        except ClientError as error:
            if is_gone(error):
                return False
            raise
        for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
            for sub in page.get("Subscriptions", []):
                if sub["SubscriptionArn"].startswith("arn:"):
                    sns.unsubscribe(SubscriptionArn=sub["SubscriptionArn"])
        sns.delete_topic(TopicArn=topic_arn)
        return True

    # --- IAM ----------------------------------------------------------------------------

    def ensure_policy(
        self, name: str, path: str, document: dict[str, Any], tags: dict[str, str]
    ) -> str:
        iam = self.client("iam")
        arn = f"arn:aws:iam::{self.account_id()}:policy{path}{name}"
        try:
            policy = iam.get_policy(PolicyArn=arn)["Policy"]
        except ClientError as error:
            if not is_gone(error):
                raise
            iam.create_policy(
                PolicyName=name,
                Path=path,
                PolicyDocument=json.dumps(document),
                Tags=_tag_list(tags),
            )
            return arn
        current = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
        raw = current["PolicyVersion"]["Document"]
        doc = json.loads(raw) if isinstance(raw, str) else raw
        if doc != document:
            # Converge: a new default version; IAM keeps at most five, so prune the oldest.
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            old = sorted(
                (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
            )
            if len(versions) >= 5 and old:
                iam.delete_policy_version(PolicyArn=arn, VersionId=old[0]["VersionId"])
            iam.create_policy_version(
                PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
            )
        return arn

    def ensure_role(
        self,
        name: str,
        path: str,
        trust: dict[str, Any],
        tags: dict[str, str],
        policy_arn: str,
    ) -> str:
        iam = self.client("iam")
        try:
            role = iam.get_role(RoleName=name)["Role"]
            iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
        except ClientError as error:
            if not is_gone(error):
                raise
            role = iam.create_role(
                RoleName=name,
                Path=path,
                AssumeRolePolicyDocument=json.dumps(trust),
                Tags=_tag_list(tags),
            )["Role"]
        iam.attach_role_policy(RoleName=name, PolicyArn=policy_arn)
        return str(role["Arn"])

    def role_trust(self, name: str) -> dict[str, Any] | None:
        try:
            raw = self.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
        except ClientError as error:
            if is_gone(error):
                return None
            raise
        if isinstance(raw, str):
            from urllib.parse import unquote

            return dict(json.loads(unquote(raw)))
        return dict(raw)

    def delete_role(self, name: str) -> bool:
        iam = self.client("iam")
        try:
            for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
                for policy in page.get("AttachedPolicies", []):
                    iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
            for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
                for policy_name in page.get("PolicyNames", []):
                    iam.delete_role_policy(RoleName=name, PolicyName=policy_name)
            iam.delete_role(RoleName=name)
        except ClientError as error:
            if is_gone(error):
                return False
            raise
        return True

    def delete_policy(self, arn: str) -> bool:
        iam = self.client("iam")
        try:
            for page in iam.get_paginator("list_entities_for_policy").paginate(PolicyArn=arn):
                for role in page.get("PolicyRoles", []):
                    iam.detach_role_policy(RoleName=role["RoleName"], PolicyArn=arn)
            for version in iam.list_policy_versions(PolicyArn=arn)["Versions"]:
                if not version["IsDefaultVersion"]:
                    iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
            iam.delete_policy(PolicyArn=arn)
        except ClientError as error:
            if is_gone(error):
                return False
            raise
        return True

    # --- KMS ----------------------------------------------------------------------------

    def describe_key(self, key_id: str, region: str) -> KeyInfo | None:
        try:
            meta = self.client("kms", region).describe_key(KeyId=key_id)["KeyMetadata"]
        except ClientError as error:
            if is_gone(error):
                return None
            raise
        arn = str(meta["Arn"])
        return KeyInfo(str(meta["KeyId"]), arn, arn.split(":")[3], str(meta["KeyState"]))

    def ensure_key(
        self, alias: str, description: str, region: str, tags: dict[str, str]
    ) -> KeyInfo:
        kms = self.client("kms", region)
        existing = self.describe_key(alias, region)
        if existing is not None and existing.state != "PendingDeletion":
            return existing
        meta = kms.create_key(
            Description=description,
            Tags=[{"TagKey": k, "TagValue": v} for k, v in tags.items()],
        )["KeyMetadata"]
        if existing is not None:  # the alias points at a key being deleted: move it
            kms.update_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        else:
            kms.create_alias(AliasName=alias, TargetKeyId=meta["KeyId"])
        arn = str(meta["Arn"])
        return KeyInfo(str(meta["KeyId"]), arn, arn.split(":")[3], str(meta["KeyState"]))

    def schedule_key_deletion(self, key_id: str, region: str, days: int) -> str:
        kms = self.client("kms", region)
        info = self.describe_key(key_id, region)
        if info is None:
            raise ConfigurationError(f"KMS key {key_id!r} not found in {region} (Param key_id)")
        if info.state == "PendingDeletion":
            meta = kms.describe_key(KeyId=info.key_id)["KeyMetadata"]
            return str(meta.get("DeletionDate", "already scheduled"))
        response = kms.schedule_key_deletion(KeyId=info.key_id, PendingWindowInDays=days)
        # Aliases would keep pointing at a doomed key; remove them now.
        for alias in kms.list_aliases(KeyId=info.key_id).get("Aliases", []):
            kms.delete_alias(AliasName=alias["AliasName"])
        return str(response["DeletionDate"])

    # --- leftovers ------------------------------------------------------------------------

    def tagged_resources(self, stack: str) -> list[TaggedResource]:
        """Every bucket, queue, topic, role and policy tagged with ``stack``."""
        check_stack_name(stack)
        found: list[TaggedResource] = []
        s3 = self.client("s3")
        for bucket in s3.list_buckets().get("Buckets", []):
            try:
                tags = s3.get_bucket_tagging(Bucket=bucket["Name"])["TagSet"]
            except ClientError:
                continue
            if {"Key": TAG_STACK, "Value": stack} in tags:
                found.append(TaggedResource("bucket", bucket["Name"], stack))
        sqs = self.client("sqs")
        for url in sqs.list_queues().get("QueueUrls", []):
            if sqs.list_queue_tags(QueueUrl=url).get("Tags", {}).get(TAG_STACK) == stack:
                found.append(TaggedResource("queue", url.rsplit("/", 1)[-1], stack))
        sns = self.client("sns")
        for page in sns.get_paginator("list_topics").paginate():
            for topic in page.get("Topics", []):
                tags = sns.list_tags_for_resource(ResourceArn=topic["TopicArn"]).get("Tags", [])
                if {"Key": TAG_STACK, "Value": stack} in tags:
                    found.append(TaggedResource("topic", topic["TopicArn"], stack))
        iam = self.client("iam")
        for page in iam.get_paginator("list_roles").paginate(PathPrefix=IAM_PATH):
            for role in page.get("Roles", []):
                tags = iam.list_role_tags(RoleName=role["RoleName"]).get("Tags", [])
                if {"Key": TAG_STACK, "Value": stack} in tags:
                    found.append(TaggedResource("role", role["RoleName"], stack))
        for page in iam.get_paginator("list_policies").paginate(Scope="Local", PathPrefix=IAM_PATH):
            for policy in page.get("Policies", []):
                tags = iam.list_policy_tags(PolicyArn=policy["Arn"]).get("Tags", [])
                if {"Key": TAG_STACK, "Value": stack} in tags:
                    found.append(TaggedResource("policy", policy["Arn"], stack))
        return found

    def delete_tagged(self, resource: TaggedResource) -> bool:
        if resource.kind == "bucket":
            return self.delete_bucket(resource.name, force=True) is not None
        if resource.kind == "queue":
            return self.delete_queue(resource.name)
        if resource.kind == "topic":
            return self.delete_topic(resource.name)
        if resource.kind == "role":
            return self.delete_role(resource.name)
        if resource.kind == "policy":
            return self.delete_policy(resource.name)
        raise ValueError(f"unknown resource kind {resource.kind!r}")


class S3StateStore:
    """State records as ``s3://<bucket>/<prefix>/<stack>.json``, SSE-KMS when a key is given."""

    def __init__(self, client: Any, bucket: str, prefix: str, kms_key_id: str | None) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.kms_key_id = kms_key_id
        self.location = f"s3://{bucket}/{self.prefix}"

    def key(self, stack: str) -> str:
        name = f"{check_stack_name(stack)}.json"
        return f"{self.prefix}/{name}" if self.prefix else name

    def check(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as error:
            raise ConfigurationError(
                f"state bucket {self.bucket!r} does not exist or is not accessible "
                f"({error_code(error) or error}); create it with theia_create_bucket or fix "
                "Param state_bucket"
            ) from error
        except (NoCredentialsError, BotoCoreError) as error:
            raise ConfigurationError(
                f"cannot reach state bucket {self.bucket!r}: {error}; check the theia_aws "
                "connection"
            ) from error

    def load(self, stack: str) -> StackState | None:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self.key(stack))["Body"].read()
        except ClientError as error:
            if is_gone(error):
                return None
            raise
        return StackState.from_json(body)

    def save(self, state: StackState) -> None:
        extra: dict[str, Any] = {}
        if self.kms_key_id:
            extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        self.client.put_object(
            Bucket=self.bucket,
            Key=self.key(state.stack),
            Body=state.to_json(),
            ContentType="application/json",
            **extra,
        )

    def delete(self, stack: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.key(stack))
