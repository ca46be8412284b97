"""Which input changes make a provider replace a resource instead of updating it in place.

``pulumi preview`` learns this from the provider at run time; offline there is no provider binary,
and nothing installed says it either: pulumi-aws and pulumi-gcp are bridged from Terraform providers,
whose schemas mark such fields ``ForceNew``, but the generated Pulumi schema and the Python SDK in
site-packages carry only ``replaceOnChanges`` set by hand (pulumi-aws sets none for these types) and
docstrings that rarely say "forces new resource". So the facts live here, per resource type this
program declares, taken from the upstream schemas:

- ``aws:*``: terraform-provider-aws, ``internal/service/<service>/<resource>.go``, fields with
  ``ForceNew: true`` (the bridge plans a replacement exactly when one of them changes). Not every
  name forces one: a CodeDeploy application or deployment group is renamed in place.
- ``gcp:*``: terraform-provider-google, the same ``ForceNew`` fields (identifiers, project, location;
  IAM member resources have no update at all).
- ``azure-native:*``: the parameters in the resource's Azure ID (resource group, name, scope); a new
  ID is a new resource.

Each entry names its input properties as the plan records them (camelCase Pulumi names, e.g. the
metric alarm's ``alarm_name`` is ``name``). ``tests/offline_plan/test_replacement.py`` fails when the
program declares a type missing here, or when a listed property is not an input of that type in the
installed SDK, so the table cannot silently rot when a provider upgrade renames a field.

``cautions`` flags changes the provider does not replace but a reviewer must not take for an
ordinary update (a provider's region, an SSM parameter's tier).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

PROVIDER_CHANGE = "provider"
"""Reason given when a resource moves to another provider: Pulumi replaces it (pulumi/pulumi#8959)."""


@dataclass(frozen=True)
class ReplacementRules:
    """For one resource type: the inputs whose change replaces it, and changes that need a warning."""

    forces_replacement: frozenset[str]
    cautions: Mapping[str, str] = field(default_factory=dict)


def _rules(*names: str, cautions: Mapping[str, str] | None = None) -> ReplacementRules:
    return ReplacementRules(frozenset(names), dict(cautions or {}))


_BUCKET_CHILD = _rules("bucket", "expectedBucketOwner")
_AZURE_LOCATION = {"location": "Azure Resource Manager cannot move a resource to another location in place"}

RULES: dict[str, ReplacementRules] = {
    # terraform-provider-aws, internal/service/cloudwatch and internal/service/logs
    "aws:cloudwatch/compositeAlarm:CompositeAlarm": _rules("alarmName"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _rules("name"),
    "aws:cloudwatch/logGroup:LogGroup": _rules("name", "namePrefix", "logGroupClass"),
    # internal/service/events
    "aws:cloudwatch/eventBus:EventBus": _rules("name", "eventSourceName"),
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": _rules("eventBusName"),
    "aws:cloudwatch/eventRule:EventRule": _rules("name", "namePrefix", "eventBusName"),
    "aws:cloudwatch/eventTarget:EventTarget": _rules("rule", "targetId", "eventBusName"),
    # internal/service/codebuild, codedeploy (deploy), codepipeline, codestarconnections
    "aws:codebuild/fleet:Fleet": _rules("name"),
    "aws:codebuild/project:Project": _rules("name"),
    "aws:codebuild/reportGroup:ReportGroup": _rules("name", "type"),
    "aws:codedeploy/application:Application": _rules("computePlatform"),
    "aws:codedeploy/deploymentGroup:DeploymentGroup": _rules(),
    "aws:codepipeline/pipeline:Pipeline": _rules("name"),
    "aws:codestarconnections/connection:Connection": _rules("name", "providerType", "hostArn"),
    # internal/service/dynamodb, ecr
    "aws:dynamodb/table:Table": _rules("name", "hashKey", "rangeKey"),
    "aws:ecr/repository:Repository": _rules("name", "encryptionConfigurations"),
    "aws:ecr/repositoryPolicy:RepositoryPolicy": _rules("repository"),
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": _rules("repository", "policy"),
    # internal/service/iam, kms
    "aws:iam/role:Role": _rules("name", "namePrefix", "path"),
    "aws:iam/rolePolicy:RolePolicy": _rules("name", "namePrefix", "role"),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _rules("role", "policyArn"),
    "aws:kms/alias:Alias": _rules("name", "namePrefix"),
    "aws:kms/externalKey:ExternalKey": _rules("keyMaterialBase64", "keySpec", "keyUsage", "multiRegion", "validTo"),
    "aws:kms/key:Key": _rules("customerMasterKeySpec", "keyUsage", "multiRegion", "customKeyStoreId", "xksKeyId"),
    # internal/service/lambda: a permission has no update, every argument replaces it
    "aws:lambda/function:Function": _rules("name", "packageType"),
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": _rules("functionName", "qualifier"),
    "aws:lambda/permission:Permission": _rules(
        "action",
        "function",
        "principal",
        "sourceAccount",
        "sourceArn",
        "statementId",
        "statementIdPrefix",
        "qualifier",
        "eventSourceToken",
        "principalOrgId",
        "functionUrlAuthType",
    ),
    # internal/service/s3: every bucket configuration resource belongs to one bucket for life
    "aws:s3/bucket:Bucket": _rules("bucket", "bucketPrefix", "objectLockEnabled"),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _BUCKET_CHILD,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _rules("bucket"),
    "aws:s3/bucketPolicy:BucketPolicy": _rules("bucket"),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _rules("bucket"),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _BUCKET_CHILD,
    "aws:s3/bucketVersioning:BucketVersioning": _BUCKET_CHILD,
    # internal/service/secretsmanager, sns, sqs, ssm
    "aws:secretsmanager/secret:Secret": _rules("name", "namePrefix"),
    "aws:secretsmanager/secretRotation:SecretRotation": _rules("secretId"),
    "aws:sns/topic:Topic": _rules("name", "namePrefix", "fifoTopic"),
    "aws:sns/topicPolicy:TopicPolicy": _rules("arn"),
    "aws:sns/topicSubscription:TopicSubscription": _rules("topic", "protocol", "endpoint"),
    "aws:sqs/queue:Queue": _rules("name", "namePrefix", "fifoQueue"),
    "aws:sqs/queuePolicy:QueuePolicy": _rules("queueUrl"),
    "aws:ssm/parameter:Parameter": _rules(
        "name",
        "dataType",
        cautions={"tier": "an Advanced parameter moved back to Standard is deleted and re-created"},
    ),
    # optional parts of the platform (stack settings turn them on)
    "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration": _rules(),  # every field updates in place
    "aws:cfg/rule:Rule": _rules("name"),
    # terraform-provider-google
    "gcp:artifactregistry/repository:Repository": _rules(
        "repositoryId", "location", "format", "project", "mode", "kmsKeyName"
    ),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": _rules(
        "project", "location", "repository", "role", "member", "condition"
    ),
    "gcp:cloudrunv2/service:Service": _rules("name", "location", "project"),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": _rules(
        "project", "location", "name", "role", "member", "condition"
    ),
    "gcp:kms/keyRing:KeyRing": _rules("name", "location", "project"),
    "gcp:kms/cryptoKey:CryptoKey": _rules(
        "name", "keyRing", "purpose", "importOnly", "skipInitialVersionCreation", "cryptoKeyBackend"
    ),
    "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember": _rules("cryptoKeyId", "role", "member", "condition"),
    "gcp:projects/serviceIdentity:ServiceIdentity": _rules("project", "service"),
    "gcp:iam/workloadIdentityPool:WorkloadIdentityPool": _rules("workloadIdentityPoolId", "project"),
    "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider": _rules(
        "workloadIdentityPoolId", "workloadIdentityPoolProviderId", "project"
    ),
    "gcp:serviceaccount/account:Account": _rules("accountId", "project"),
    "gcp:serviceaccount/iAMMember:IAMMember": _rules("serviceAccountId", "role", "member", "condition"),
    # azure-native: the parameters of the resource's Azure ID
    "azure-native:resources:ResourceGroup": _rules("resourceGroupName", cautions=_AZURE_LOCATION),
    "azure-native:containerregistry:Registry": _rules("resourceGroupName", "registryName", cautions=_AZURE_LOCATION),
    "azure-native:managedidentity:UserAssignedIdentity": _rules(
        "resourceGroupName", "resourceName", cautions=_AZURE_LOCATION
    ),
    "azure-native:managedidentity:FederatedIdentityCredential": _rules(
        "resourceGroupName", "resourceName", "federatedIdentityCredentialResourceName"
    ),
    "azure-native:authorization:RoleAssignment": _rules("scope", "roleAssignmentName"),
    # GitHub (optional deploy environments): pulumi-github is bridged from integrations/github
    "github:index/repositoryEnvironment:RepositoryEnvironment": _rules("repository", "environment"),
    "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy": _rules(
        "repository", "environment"
    ),
    "github:index/actionsEnvironmentVariable:ActionsEnvironmentVariable": _rules(
        "repository", "environment", "variableName"
    ),
    # Providers are not replaced by a config change (pulumi-aws 7 removed the cascading replace on a new
    # region, pulumi/pulumi-aws#5656), but their resources do not move with them either.
    "pulumi:providers:aws": _rules(
        cautions={
            "region": "resources already created stay in the old region: pulumi-aws does not move them "
            "(pulumi/pulumi-aws#5656); destroy them first",
            "allowedAccountIds": "resources already created stay in the old account",
        }
    ),
    "pulumi:providers:gcp": _rules(cautions={"project": "resources already created stay in the old project"}),
    "pulumi:providers:azure-native": _rules(
        cautions={"subscriptionId": "resources already created stay in the old subscription"}
    ),
    "pulumi:providers:github": _rules(cautions={"owner": "resources already created stay with the old owner"}),
}


def rules_for(resource_type: str) -> ReplacementRules | None:
    """The rules of ``resource_type``, or ``None`` when this table does not know the type."""
    return RULES.get(resource_type)


def replacing_inputs(resource_type: str, changed_inputs: Iterable[str]) -> list[str]:
    """The changed top-level inputs that make the provider replace the resource, in input order."""
    rules = RULES.get(resource_type)
    if rules is None:
        return []
    return [name for name in changed_inputs if name in rules.forces_replacement]


def cautions_for(resource_type: str, changed_inputs: Iterable[str]) -> list[str]:
    """``"<input>: <what to know>"`` for every changed input this type has a caution about."""
    rules = RULES.get(resource_type)
    if rules is None:
        return []
    return [f"{name}: {rules.cautions[name]}" for name in changed_inputs if name in rules.cautions]
