"""Every name the platform stack gives, derived from the namespace like every other global name.

Explicit names (rather than CloudFormation's generated ones) are what let each IAM statement name
its resources by the namespace's prefix, and let the adapters find what the stack made without
reading its outputs: the functions call each other and Batch, EventBridge Scheduler and Step
Functions by these names.
"""

from __future__ import annotations

from attrs import frozen

from overlord.domain.names import Namespace

# The DynamoDB document store's table prefix (`DynamoDocumentStore`'s default).
TABLE_PREFIX = "overlord."
# Where AWS Batch writes a job's output when its job definition names no log configuration,
# which the adapter's job definitions do not.
BATCH_LOG_GROUP = "/aws/batch/job"
# Recipe credentials and other secret settings: Secrets Manager names under this prefix
# (`SecretsManagerSecrets`' default).
SECRET_PREFIX = "overlord/"


@frozen
class PlatformNames:
    """The names of one platform's stack resources.

    >>> names = PlatformNames(Namespace("acme"))
    >>> names.function("api"), names.bucket, names.platform_table
    ('acme-api', 'acme-platform', 'overlord.acme_platform')
    """

    namespace: Namespace

    @property
    def prefix(self) -> str:
        """What every global name of the platform starts with (tenants' resources included)."""
        return f"{self.namespace}-"

    def function(self, key: str) -> str:
        return f"{self.namespace}-{key}"

    def log_group(self, key: str) -> str:
        return f"/aws/lambda/{self.function(key)}"

    def role(self, key: str) -> str:
        return f"{self.namespace}-{key}"

    @property
    def bucket(self) -> str:
        """The platform's own bucket (deployment packages). Tenant buckets have three parts
        (``{namespace}-{tenant}-{connector}``), so no tenant's bucket can take this name."""
        return f"{self.namespace}-platform"

    @property
    def platform_table(self) -> str:
        """The DynamoDB table of the platform database (`catalog.platform_database`)."""
        return f"{TABLE_PREFIX}{self.namespace}_platform"

    @property
    def tenant_tables(self) -> str:
        """The pattern of the tenants' tables, which provisioning creates."""
        return f"{TABLE_PREFIX}{self.namespace}-*"

    @property
    def dead_letters(self) -> str:
        return f"{self.namespace}-dead-letters"

    @property
    def api(self) -> str:
        return f"{self.namespace}-api"

    def rule(self, key: str) -> str:
        return f"{self.namespace}-{key}"
