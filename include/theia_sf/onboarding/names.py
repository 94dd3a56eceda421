"""Stack names, the random suffix, and every resource name derived from them.

Names follow theia-sf, except the notification IAM policy, which gets the
missing ``-`` before the suffix (theia-sf bug), and the onboarding warehouse, whose name is
derived from the suffix so a leaked one can be found and dropped by offboarding.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

from theia_sf.errors import ConfigurationError

# Lower-case letters, digits and inner hyphens: valid in S3 keys, tags and Airflow run ids,
# and short enough to leave room in every derived name.
STACK_NAME_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$"
_STACK = re.compile(STACK_NAME_PATTERN)
# JSON-schema patterns for Params (kept here: this module is cheap to import at DAG parse).
REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
PREFIX_PATTERN = r"^[A-Za-z0-9!_.*'()/-]{0,256}$"
KMS_KEY_PATTERN = (
    r"^(arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key|alias)/[A-Za-z0-9/_-]+"
    r"|alias/[A-Za-z0-9/_-]+|[A-Za-z0-9-]{1,128})$"
)
KMS_ALIAS_PATTERN = r"^alias/[A-Za-z0-9/_-]{1,250}$"
WAREHOUSE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_$]{0,254}$"
_SUFFIX = re.compile(r"[a-z0-9]{16}")
SUFFIX_ALPHABET = string.ascii_lowercase + string.digits

SCHEMA = "THEIA"
FLOWS_TABLE = "FLOWS"
FLOWS_FOLDER = "flows"
STAGE = "FLOWSTAGE"
PIPE = "FLOWPIPE"
RETENTION_TASK = "DELETE_STALE_FLOWS"
IAM_PATH = "/theia/"
TAG_STACK = "theia:stack"
TAG_MANAGED_BY = "theia:managed-by"
MANAGED_BY = "theia-sf-airflow"


def check_stack_name(name: object) -> str:
    if not isinstance(name, str) or not _STACK.fullmatch(name):
        raise ConfigurationError(
            f"stack name {name!r} is not valid: use 1-32 lower-case letters, digits and "
            "inner hyphens (Param stack_name)"
        )
    return name


def new_suffix() -> str:
    """16 random lower-case letters and digits, generated once per stack (as theia-sf)."""
    return "".join(secrets.choice(SUFFIX_ALPHABET) for _ in range(16))


@dataclass(frozen=True, slots=True)
class StackNames:
    stack: str
    suffix: str

    def __post_init__(self) -> None:
        check_stack_name(self.stack)
        if not _SUFFIX.fullmatch(self.suffix):
            raise ConfigurationError(f"stack suffix {self.suffix!r} is not [a-z0-9]{{16}}")

    @property
    def bucket(self) -> str:
        return f"antrea-flows-{self.suffix}"

    @property
    def queue(self) -> str:
        return f"antrea-flows-{self.suffix}"

    @property
    def topic(self) -> str:
        return f"antrea-flows-{self.suffix}"

    @property
    def storage_role(self) -> str:
        return f"antrea-sf-storage-iam-role-{self.suffix}"

    @property
    def storage_policy(self) -> str:
        return f"antrea-sf-storage-iam-policy-{self.suffix}"

    @property
    def notification_role(self) -> str:
        return f"antrea-sf-notification-iam-role-{self.suffix}"

    @property
    def notification_policy(self) -> str:
        return f"antrea-sf-notification-iam-policy-{self.suffix}"

    @property
    def storage_integration(self) -> str:
        return f"ANTREA_FLOWS_STORAGE_INTEGRATION_{self.suffix.upper()}"

    @property
    def notification_integration(self) -> str:
        return f"ANTREA_FLOWS_NOTIFICATION_INTEGRATION_{self.suffix.upper()}"

    @property
    def database(self) -> str:
        return f"ANTREA_{self.suffix.upper()}"

    @property
    def onboarding_warehouse(self) -> str:
        return f"THEIA_ONBOARD_{self.suffix.upper()}"

    @property
    def schema(self) -> str:
        return f"{self.database}.{SCHEMA}"

    @property
    def flows_table(self) -> str:
        return f"{self.schema}.{FLOWS_TABLE}"

    @property
    def stage(self) -> str:
        return f"{self.schema}.{STAGE}"

    @property
    def pipe(self) -> str:
        return f"{self.schema}.{PIPE}"

    @property
    def retention_task(self) -> str:
        return f"{self.schema}.{RETENTION_TASK}"

    @property
    def flows_url(self) -> str:
        return f"s3://{self.bucket}/{FLOWS_FOLDER}/"

    def role_arn(self, account_id: str, role: str) -> str:
        return f"arn:aws:iam::{account_id}:role{IAM_PATH}{role}"

    def policy_arn(self, account_id: str, policy: str) -> str:
        return f"arn:aws:iam::{account_id}:policy{IAM_PATH}{policy}"


def stack_tags(stack: str) -> dict[str, str]:
    return {TAG_STACK: stack, TAG_MANAGED_BY: MANAGED_BY}


def stack_comment(stack: str) -> str:
    """The COMMENT put on Snowflake objects (stack names are validated, so no quoting issue)."""
    return f"theia-sf-airflow stack {check_stack_name(stack)}"
