"""Cloud onboarding against moto running as a real local server and a recorded Snowflake."""

from __future__ import annotations

import json
import shutil
from types import SimpleNamespace

import pytest

import onboarding_doubles as doubles
from theia_sf.adapters.aws import BotoAws, S3StateStore
from theia_sf.errors import ConfigurationError
from theia_sf.layouts import LAYOUTS
from theia_sf.onboarding.cloud import STEP_NAMES, CloudRequest
from theia_sf.services.onboarding import offboard_cloud_stack, onboard_cloud_stack
from theia_sf.sql import SqlLibrary

pytestmark = pytest.mark.integration

moto_endpoint = doubles.moto_endpoint  # fixtures
recorded_snowflake = doubles.recorded_snowflake
ACCOUNT = doubles.ACCOUNT
client_factory = doubles.client_factory
reset_moto = doubles.reset_moto

REGION = "us-west-2"
STATE_BUCKET = "theia-state-test"
CHANNEL_QUEUE = "sf-snowpipe-AIDAFAKECHANNEL"


@pytest.fixture
def cloud(moto_endpoint, recorded_snowflake, sql):
    reset_moto(moto_endpoint)
    factory = client_factory(moto_endpoint)
    s3 = factory("s3", REGION)
    s3.create_bucket(Bucket=STATE_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    key_id = factory("kms", REGION).create_key()["KeyMetadata"]["KeyId"]
    # Stands for the Snowflake-owned SQS queue behind the pipe's notification channel.
    sqs = factory("sqs", REGION)
    channel_url = sqs.create_queue(QueueName=CHANNEL_QUEUE)["QueueUrl"]
    channel_arn = sqs.get_queue_attributes(QueueUrl=channel_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    recorded_snowflake.notification_channel = channel_arn
    store = S3StateStore(s3, STATE_BUCKET, "antrea-flows-infra", key_id)

    snowflake = recorded_snowflake.warehouse

    def request(**kw):
        args = {
            "stack_name": "prod",
            "region": REGION,
            "state_bucket": STATE_BUCKET,
            "kms_key_id": key_id,
        }
        args.update(kw)
        return CloudRequest(**args)

    ns = SimpleNamespace(
        factory=factory,
        aws=BotoAws(factory, REGION),
        sf=recorded_snowflake,
        store=store,
        snowflake=snowflake,
        request=request,
        key_id=key_id,
        sql=sql,
        channel=channel_arn,
    )
    ns.onboard = lambda req=None, **kw: onboard_cloud_stack(
        req or request(),
        aws=ns.aws,
        snowflake=snowflake,
        sql=kw.pop("sql", sql),
        state_store=store,
        **kw,
    )
    ns.offboard = lambda stack="prod", **kw: offboard_cloud_stack(
        stack,
        confirm=kw.pop("confirm", stack),
        aws=ns.aws,
        snowflake=snowflake,
        sql=sql,
        state_store=store,
        **kw,
    )
    return ns


def inventory(ns) -> dict[str, list[str]]:
    """Every resource of every type in the emulator and the double, minus the fixtures' own."""
    f = ns.factory
    s3, sqs, sns, iam = f("s3", REGION), f("sqs", REGION), f("sns", REGION), f("iam", REGION)
    kms = f("kms", REGION)
    found = {
        "buckets": sorted(
            b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"] != STATE_BUCKET
        ),
        "state_objects": sorted(
            o["Key"] for o in s3.list_objects_v2(Bucket=STATE_BUCKET).get("Contents", [])
        ),
        "queues": sorted(
            u.rsplit("/", 1)[-1]
            for u in sqs.list_queues().get("QueueUrls", [])
            if not u.endswith(CHANNEL_QUEUE)
        ),
        "topics": sorted(t["TopicArn"] for t in sns.list_topics()["Topics"]),
        "subscriptions": sorted(
            s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]
        ),
        "roles": sorted(r["RoleName"] for r in iam.list_roles()["Roles"]),
        "policies": sorted(p["PolicyName"] for p in iam.list_policies(Scope="Local")["Policies"]),
        "keys": sorted(k["KeyId"] for k in kms.list_keys()["Keys"] if k["KeyId"] != ns.key_id),
    }
    found.update(ns.sf.objects())
    return found


EMPTY = {
    "buckets": [],
    "state_objects": [],
    "queues": [],
    "topics": [],
    "subscriptions": [],
    "roles": [],
    "policies": [],
    "keys": [],
    "integrations": [],
    "pipes": [],
    "tasks": [],
    "warehouses": [],
    "stages": [],
    "databases": [],
}


def test_full_cycle_onboard_rerun_offboard(cloud):
    result = cloud.onboard()
    state = cloud.store.load("prod")
    suffix = state.suffix
    table = result["outputs"]["table"]
    assert table["Bucket Name"] == f"antrea-flows-{suffix}"
    assert table["Snowflake Database Name"] == f"ANTREA_{suffix.upper()}"
    assert table["SQS Queue ARN"] == f"arn:aws:sqs:{REGION}:{ACCOUNT}:antrea-flows-{suffix}"
    assert table["SNS Topic ARN"] == f"arn:aws:sns:{REGION}:{ACCOUNT}:antrea-flows-{suffix}"
    assert list(table) == [
        "Region",
        "Bucket Name",
        "Bucket Flows Folder",
        "Snowflake Database Name",
        "Snowflake Schema Name",
        "Snowflake Flows Table Name",
        "SNS Topic ARN",
        "SQS Queue ARN",
    ]
    assert result["helm_values"]["recordContents"]["podLabels"] is True
    assert result["helm_values"]["s3Uploader"]["bucketName"] == table["Bucket Name"]
    assert "--set s3Uploader.bucketPrefix=flows" in result["helm_set"]

    # Trust handshake: each role trusts exactly what DESCRIBE INTEGRATION returned.
    for integration, role in (
        (
            f"ANTREA_FLOWS_STORAGE_INTEGRATION_{suffix.upper()}",
            f"antrea-sf-storage-iam-role-{suffix}",
        ),
        (
            f"ANTREA_FLOWS_NOTIFICATION_INTEGRATION_{suffix.upper()}",
            f"antrea-sf-notification-iam-role-{suffix}",
        ),
    ):
        props = cloud.sf.integrations[integration]
        user = props.get("STORAGE_AWS_IAM_USER_ARN") or props["SF_AWS_IAM_USER_ARN"]
        ext = props.get("STORAGE_AWS_EXTERNAL_ID") or props["SF_AWS_EXTERNAL_ID"]
        trust = cloud.aws.role_trust(role)
        statement = trust["Statement"][0]
        assert statement["Principal"]["AWS"] == user
        assert statement["Condition"]["StringEquals"]["sts:ExternalId"] == ext
        role_arn = props.get("STORAGE_AWS_ROLE_ARN") or props["AWS_SNS_ROLE_ARN"]
        assert role_arn == f"arn:aws:iam::{ACCOUNT}:role/theia/{role}"

    s3 = cloud.factory("s3", REGION)
    bucket = table["Bucket Name"]
    rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert rules[0]["Filter"]["Prefix"] == "flows/" and rules[0]["Expiration"]["Days"] == 7
    notif = s3.get_bucket_notification_configuration(Bucket=bucket)["QueueConfigurations"]
    assert [n["QueueArn"] for n in notif] == [cloud.channel]
    tags = {t["Key"]: t["Value"] for t in s3.get_bucket_tagging(Bucket=bucket)["TagSet"]}
    assert tags["theia:stack"] == "prod"
    head = s3.head_object(Bucket=STATE_BUCKET, Key="antrea-flows-infra/prod.json")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert cloud.key_id in head["SSEKMSKeyId"]

    pipe = cloud.sf.pipes[f"ANTREA_{suffix.upper()}.THEIA.FLOWPIPE"]
    layout = LAYOUTS["v2.7"]
    assert pipe["definition"].count("$") == len(layout.fields)
    assert "destinationServiceIP" in pipe["definition"]
    task = cloud.sf.tasks[f"ANTREA_{suffix.upper()}.THEIA.DELETE_STALE_FLOWS"]
    assert task["state"] == "started" and "> 30" in task["definition"]
    assert cloud.sf.warehouses == set()  # the temporary warehouse was dropped
    assert cloud.sf.executed(r"^CREATE WAREHOUSE IF NOT EXISTS THEIA_ONBOARD_")
    assert state.steps["run_migrations"]["applied_now"]

    before = inventory(cloud)
    assert len(before["buckets"]) == 1 and len(before["roles"]) == 2
    assert len(before["subscriptions"]) == 1 and len(before["integrations"]) == 2
    again = cloud.onboard()
    assert again["outputs"] == result["outputs"]
    assert inventory(cloud) == before  # converged, nothing duplicated
    assert cloud.store.load("prod").steps["run_migrations"]["applied_now"] == []
    iam = cloud.factory("iam", REGION)
    for policy in iam.list_policies(Scope="Local")["Policies"]:
        assert len(iam.list_policy_versions(PolicyArn=policy["Arn"])["Versions"]) == 1

    out = cloud.offboard()
    assert out["orphans"] == []
    assert inventory(cloud) == EMPTY
    second = cloud.offboard()  # offboarding twice succeeds
    assert "no state record" in second["removed"][0]


@pytest.mark.parametrize("step", STEP_NAMES)
def test_failure_after_each_step_resumes_without_duplicates(cloud, step):
    def fail(name):
        if name == step:
            raise RuntimeError(f"injected after {name}")

    with pytest.raises(RuntimeError, match="injected"):
        cloud.onboard(after_step=fail)
    state = cloud.store.load("prod")
    assert state.status == "failed" and step in state.steps
    cloud.onboard()
    found = inventory(cloud)
    assert len(found["buckets"]) == 1
    assert len(found["queues"]) == 1 and len(found["topics"]) == 1
    assert len(found["subscriptions"]) == 1
    assert len(found["roles"]) == 2 and len(found["policies"]) == 2
    assert len(found["integrations"]) == 2 and len(found["databases"]) == 1
    assert len(found["pipes"]) == 1 and len(found["tasks"]) == 1 and len(found["stages"]) == 1
    assert found["warehouses"] == []
    cloud.offboard()
    assert inventory(cloud) == EMPTY


@pytest.mark.parametrize("step", STEP_NAMES)
def test_offboarding_after_a_failure_leaves_nothing(cloud, step):
    def fail(name):
        if name == step:
            raise RuntimeError("injected")

    with pytest.raises(RuntimeError):
        cloud.onboard(after_step=fail)
    cloud.offboard()
    assert inventory(cloud) == EMPTY


def test_offboard_after_manual_deletions_succeeds(cloud):
    cloud.onboard()
    suffix = cloud.store.load("prod").suffix
    cloud.aws.delete_queue(f"antrea-flows-{suffix}")
    cloud.aws.delete_role(f"antrea-sf-storage-iam-role-{suffix}")
    cloud.sf.pipes.clear()
    cloud.offboard()
    assert inventory(cloud) == EMPTY


def test_tagged_resources_missing_from_state_are_reported_then_removed(cloud):
    cloud.onboard()
    cloud.aws.ensure_bucket(
        "antrea-flows-lostlostlost0000",
        REGION,
        {"theia:stack": "prod", "theia:managed-by": "theia-sf-airflow"},
    )
    # a database of an earlier state of this stack, and one of another stack
    with cloud.snowflake(None, None).session() as session:
        for database, stack in (("ANTREA_LOSTLOSTLOST0000", "prod"), ("ANTREA_OTHER", "dev")):
            session.execute(
                cloud.sql.render(
                    "onboarding/create_database.sql",
                    database=database,
                    schema=database + ".THEIA",
                    comment=f"theia-sf-airflow stack {stack}",
                )
            )
    first = cloud.offboard()
    assert first["orphans"] == [
        "bucket antrea-flows-lostlostlost0000",
        "database ANTREA_LOSTLOSTLOST0000",
    ]
    assert inventory(cloud)["buckets"] == ["antrea-flows-lostlostlost0000"]
    second = cloud.offboard(remove_orphans=True)
    assert second["orphans"] == []
    assert cloud.sf.objects()["databases"] == ["ANTREA_OTHER"]
    cloud.sf.databases.pop("ANTREA_OTHER")
    assert inventory(cloud) == EMPTY


def test_new_migration_applies_on_rerun(cloud, tmp_path):
    cloud.onboard()
    root = tmp_path / "sql"
    shutil.copytree(cloud.sql.root, root)
    (root / "migrations" / "999999_upgrade_probe.up.sql").write_text(
        "CREATE TABLE IF NOT EXISTS UPGRADE_PROBE (id NUMBER(10,0));\n"
    )
    cloud.onboard(sql=SqlLibrary(root))
    assert cloud.store.load("prod").steps["run_migrations"]["applied_now"] == [999999]
    assert len(inventory(cloud)["databases"]) == 1


def test_layout_change_replaces_the_pipe(cloud):
    cloud.onboard()
    cloud.onboard(cloud.request(flow_layout="v1.13"))
    suffix = cloud.store.load("prod").suffix
    pipe = cloud.sf.pipes[f"ANTREA_{suffix.upper()}.THEIA.FLOWPIPE"]
    assert pipe["definition"].count("$") == len(LAYOUTS["v1.13"].fields)
    assert cloud.sf.executed(r"^CREATE OR REPLACE PIPE")


# --- bad input: a clear error before any resource is created ---------------------------------


def test_missing_state_bucket(cloud):
    store = S3StateStore(cloud.factory("s3", REGION), "no-such-state-bucket", "p", None)
    with pytest.raises(ConfigurationError, match="state bucket 'no-such-state-bucket'"):
        onboard_cloud_stack(
            cloud.request(state_bucket="no-such-state-bucket"),
            aws=cloud.aws,
            snowflake=cloud.snowflake,
            sql=cloud.sql,
            state_store=store,
        )
    assert inventory(cloud) == EMPTY


def test_kms_key_in_another_region(cloud):
    other = cloud.factory("kms", "us-east-1").create_key()["KeyMetadata"]
    with pytest.raises(ConfigurationError, match="is in us-east-1"):
        cloud.onboard(cloud.request(kms_key_id=other["Arn"]))
    with pytest.raises(ConfigurationError, match="does not exist in region us-west-2"):
        cloud.onboard(cloud.request(kms_key_id=other["KeyId"]))
    found = inventory(cloud)
    found["keys"] = []
    assert found == EMPTY


def test_missing_aws_credentials(cloud, monkeypatch, tmp_path, moto_endpoint):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    from theia_sf.adapters.aws import boto3_factory

    aws = BotoAws(boto3_factory(endpoint_url=moto_endpoint), REGION)
    with pytest.raises(ConfigurationError, match="AWS credentials are missing or invalid"):
        onboard_cloud_stack(
            cloud.request(),
            aws=aws,
            snowflake=cloud.snowflake,
            sql=cloud.sql,
            state_store=cloud.store,
        )
    assert inventory(cloud) == EMPTY


def test_wrong_aws_credentials(cloud):
    from botocore.stub import Stubber

    sts = cloud.aws.client("sts")
    with Stubber(sts) as stub:
        stub.add_client_error(
            "get_caller_identity", service_error_code="InvalidClientTokenId", http_status_code=403
        )
        with pytest.raises(ConfigurationError, match="InvalidClientTokenId"):
            cloud.onboard()
    assert inventory(cloud) == EMPTY


def test_wrong_snowflake_credentials(cloud):
    cloud.sf.fail_connect = RuntimeError("250001: Incorrect username or password was specified")
    from theia_sf.errors import WarehouseUnavailableError

    with pytest.raises(WarehouseUnavailableError, match=r"Incorrect username.*theia_warehouse"):
        cloud.onboard()
    assert inventory(cloud) == EMPTY


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("stack_name", "Prod_1", "stack name"),
        ("region", "mars-1", "Param region"),
        ("flow_layout", "auto", "explicit flow-record layout"),
        ("warehouse_name", "wh; drop", "warehouse_name"),
        ("flow_retention_days", 0, "flow_retention_days"),
    ],
)
def test_invalid_arguments(cloud, field, value, message):
    with pytest.raises(ConfigurationError, match=message):
        cloud.request(**{field: value})


def test_offboard_needs_confirmation(cloud):
    cloud.onboard()
    with pytest.raises(ConfigurationError, match="confirm must equal"):
        cloud.offboard(confirm="prd")
    assert len(inventory(cloud)["buckets"]) == 1


def test_dry_runs_touch_nothing(cloud):
    plan = cloud.onboard(dry_run=True)
    assert [p["step"] for p in plan["plan"]] == list(STEP_NAMES)
    assert cloud.sf.statements == []
    assert plan["existing_stack"] is False
    cloud.onboard()
    before = inventory(cloud)
    suffix = cloud.store.load("prod").suffix
    replan = cloud.onboard(dry_run=True)
    assert replan["existing_stack"] is True
    [integration] = [p for p in replan["plan"] if p["step"] == "create_storage_integration"]
    assert f"antrea-sf-storage-iam-role-{suffix}" in integration["statements"][0]
    assert f"arn:aws:iam::{ACCOUNT}:role/" in integration["statements"][0]
    assert inventory(cloud) == before
    would = cloud.offboard(dry_run=True)
    assert would["would_remove"][0].startswith("connect_bucket_notification")
    assert inventory(cloud) == before
    state = json.loads(
        cloud.factory("s3", REGION)
        .get_object(Bucket=STATE_BUCKET, Key="antrea-flows-infra/prod.json")["Body"]
        .read()
    )
    assert state["status"] == "onboarded"


def test_failed_migration_still_drops_the_temporary_warehouse(cloud, tmp_path):
    root = tmp_path / "sql"
    shutil.copytree(cloud.sql.root, root)
    (root / "migrations" / "999999_broken.up.sql").write_text(
        "INSERT INTO NO_SUCH_TABLE (a) VALUES (1);\n"
    )
    with pytest.raises(Exception, match=r"(?i)no_such_table"):
        cloud.onboard(sql=SqlLibrary(root))
    assert cloud.sf.executed(r"^CREATE WAREHOUSE IF NOT EXISTS THEIA_ONBOARD_")
    assert cloud.sf.warehouses == set()
    state = cloud.store.load("prod")
    assert state.status == "failed" and "run_migrations" not in state.steps
    cloud.onboard()  # the fixed release resumes
    assert cloud.store.load("prod").status == "onboarded"
    cloud.offboard()
    assert inventory(cloud) == EMPTY


def test_rerun_converges_changed_retention(cloud):
    cloud.onboard()
    cloud.onboard(cloud.request(file_retention_days=3, flow_retention_days=90))
    state = cloud.store.load("prod")
    rules = cloud.factory("s3", REGION).get_bucket_lifecycle_configuration(
        Bucket=f"antrea-flows-{state.suffix}"
    )["Rules"]
    assert [r["Expiration"]["Days"] for r in rules] == [3]
    [task] = cloud.sf.tasks.values()
    assert "> 90" in task["definition"] and task["state"] == "started"
    assert len(inventory(cloud)["buckets"]) == 1
