"""State bucket and KMS key jobs on a moto server: us-east-1 creation, forced deletion of
every object version on every page, key reuse and scheduled deletion; embedded stacks whose
locations are S3-compatible buckets."""

from __future__ import annotations

import pytest

import onboarding_doubles as doubles
from theia_sf.adapters.aws import BotoAws
from theia_sf.adapters.duckdb import DuckDBWarehouse
from theia_sf.errors import ConfigurationError
from theia_sf.onboarding.embedded import EmbeddedRequest
from theia_sf.onboarding.state import FileStateStore
from theia_sf.services.onboarding import (
    create_kms_key,
    create_state_bucket,
    delete_bucket,
    delete_kms_key,
    offboard_embedded_stack,
    onboard_embedded_stack,
)

pytestmark = pytest.mark.integration

moto_endpoint = doubles.moto_endpoint  # fixture


@pytest.fixture
def aws(moto_endpoint):
    doubles.reset_moto(moto_endpoint)
    factory = doubles.client_factory(moto_endpoint)
    return BotoAws(factory, "us-east-1")


def test_create_bucket_in_us_east_1_and_reuse(aws):
    first = create_state_bucket(aws, region="us-east-1", name="theia-state-east")
    assert first["created"] is True
    assert aws.bucket_region("theia-state-east") == "us-east-1"
    again = create_state_bucket(aws, region="us-east-1", name="theia-state-east")
    assert again["created"] is False
    generated = create_state_bucket(aws, region="eu-west-1", name=None, prefix="antrea")
    assert generated["bucket"].startswith("antrea-")
    assert aws.bucket_region(generated["bucket"]) == "eu-west-1"
    access = aws.client("s3").get_public_access_block(Bucket="theia-state-east")
    assert access["PublicAccessBlockConfiguration"]["BlockPublicAcls"] is True


def test_create_bucket_dry_run_and_bad_name(aws):
    assert create_state_bucket(aws, region="us-east-1", name="x-y-z", dry_run=True)["dry_run"]
    assert not aws.bucket_exists("x-y-z")
    with pytest.raises(ConfigurationError, match="not valid"):
        create_state_bucket(aws, region="us-east-1", name="Bad_Name")


def test_forced_delete_removes_every_version_on_every_page(aws):
    s3 = aws.client("s3")
    create_state_bucket(aws, region="us-east-1", name="theia-big")
    s3.put_bucket_versioning(Bucket="theia-big", VersioningConfiguration={"Status": "Enabled"})
    for i in range(1100):  # more than one listing page (1000)
        s3.put_object(Bucket="theia-big", Key=f"flows/records-{i:05d}.csv", Body=b"x")
    for i in range(0, 30):
        s3.put_object(Bucket="theia-big", Key=f"flows/records-{i:05d}.csv", Body=b"y")
        s3.delete_object(Bucket="theia-big", Key=f"flows/records-{i:05d}.csv")
    assert aws.bucket_objects("theia-big") == 1100 + 30 + 30
    with pytest.raises(ConfigurationError, match="confirm"):
        delete_bucket(aws, name="theia-big", force=True, confirm="theia")
    with pytest.raises(ConfigurationError, match="not empty; set Param force"):
        delete_bucket(aws, name="theia-big", force=False, confirm="theia-big")
    result = delete_bucket(aws, name="theia-big", force=True, confirm="theia-big")
    assert result["object_versions_deleted"] == 1160
    assert not aws.bucket_exists("theia-big")
    again = delete_bucket(aws, name="theia-big", force=True, confirm="theia-big")
    assert again["existed"] is False


def test_kms_key_is_reused_by_alias_and_deletion_is_scheduled(aws):
    first = create_kms_key(aws, region="us-east-1", alias="alias/theia-sf-state")
    second = create_kms_key(aws, region="us-east-1", alias="alias/theia-sf-state")
    assert first["key_id"] == second["key_id"]
    with pytest.raises(ConfigurationError, match="between 7 and 30"):
        delete_kms_key(
            aws,
            key_id=first["key_id"],
            region="us-east-1",
            pending_window_days=5,
            confirm=first["key_id"],
        )
    with pytest.raises(ConfigurationError, match="confirm"):
        delete_kms_key(
            aws, key_id=first["key_id"], region="us-east-1", pending_window_days=7, confirm="nope"
        )
    result = delete_kms_key(
        aws,
        key_id=first["key_id"],
        region="us-east-1",
        pending_window_days=7,
        confirm=first["key_id"],
    )
    assert result["deletion_date"]
    assert aws.describe_key(first["key_id"], "us-east-1").state == "PendingDeletion"
    # a new request for the alias gets a new key instead of the doomed one
    third = create_kms_key(aws, region="us-east-1", alias="alias/theia-sf-state")
    assert third["key_id"] != first["key_id"]
    with pytest.raises(ConfigurationError, match="not found in eu-west-1"):
        delete_kms_key(
            aws,
            key_id=third["key_id"],
            region="eu-west-1",
            pending_window_days=7,
            confirm=third["key_id"],
        )


def test_embedded_stack_with_s3_compatible_locations(aws, tmp_path, sql):
    request = EmbeddedRequest(
        stack_name="local",
        duckdb_path=tmp_path / "theia.duckdb",
        flows_location="s3://theia-flows/flows",
        results_location="s3://theia-results",
        region="us-east-1",
    )
    store = FileStateStore(tmp_path / "onboarding")
    result = onboard_embedded_stack(
        request,
        warehouse=lambda: DuckDBWarehouse(request.duckdb_path),
        sql=sql,
        state_store=store,
        aws=lambda: aws,
    )
    assert aws.bucket_exists("theia-flows") and aws.bucket_exists("theia-results")
    assert result["helm_values"]["s3Uploader"]["bucketName"] == "theia-flows"
    assert result["helm_values"]["s3Uploader"]["bucketPrefix"] == "flows"
    aws.client("s3").put_object(Bucket="theia-flows", Key="flows/records-1.csv", Body=b"1")
    offboard_embedded_stack("local", confirm="local", state_store=store, aws=lambda: aws)
    assert not aws.bucket_exists("theia-flows") and not aws.bucket_exists("theia-results")
    assert not request.duckdb_path.exists()


def test_s3_compatible_store_without_public_access_block(aws):
    from botocore.exceptions import ClientError

    s3 = aws.client("s3")

    def unsupported(**_):
        raise ClientError({"Error": {"Code": "NotImplemented"}}, "PutPublicAccessBlock")

    s3.put_public_access_block = unsupported  # as MinIO answers
    assert aws.ensure_bucket("theia-minio", "us-east-1", {"theia:stack": "s"}) is True
    assert s3.get_bucket_tagging(Bucket="theia-minio")["TagSet"] == [
        {"Key": "theia:stack", "Value": "s"}
    ]

    def denied(**_):
        raise ClientError({"Error": {"Code": "AccessDenied"}}, "PutPublicAccessBlock")

    s3.put_public_access_block = denied  # a real failure still fails
    with pytest.raises(ClientError, match="AccessDenied"):
        aws.ensure_bucket("theia-minio-2", "us-east-1", {})
