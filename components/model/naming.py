"""Physical names and ARNs the platform can know before anything exists.

Cross-account trust needs the ARN of a role in another account before that
role is created (the KMS key and bucket policies name the deploy roles; the
deploy roles name the pipeline role). Pulumi auto-names would only be known
after creation, so every name that crosses an account boundary is derived
here, from the model, deterministically.
"""

from __future__ import annotations

import hashlib


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def role_arn(region: str, account_id: str, role_name: str) -> str:
    return f"arn:{partition_of(region)}:iam::{account_id}:role/{role_name}"


def account_root_arn(region: str, account_id: str) -> str:
    return f"arn:{partition_of(region)}:iam::{account_id}:root"


def pipeline_name(service: str, environment: str) -> str:
    return f"{service}-{environment}"


ARTIFACT_PREFIX_LENGTH = 20
"""CodePipeline stores artifacts under the pipeline name cut to 20 characters (then the artifact name)."""


def artifact_prefix(service: str, environment: str) -> str:
    """The S3 key prefix under which CodePipeline keeps this pipeline's artifacts (without the trailing '/')."""
    return pipeline_name(service, environment)[:ARTIFACT_PREFIX_LENGTH]


def lambda_release_prefix(service: str, environment: str) -> str:
    """Where the Lambda release project uploads ``function.zip`` for ``UpdateFunctionCode --s3-key``."""
    return f"{artifact_prefix(service, environment)}/lambda-releases"


ARTIFACT_KIND_TAG = "cicd-artifact-kind"
"""Object tag the platform's own writers put on what they upload, so a lifecycle rule can find it by kind."""
LAMBDA_RELEASE_KIND = "lambda-release"
"""``ARTIFACT_KIND_TAG`` of a Lambda release package (the release buildspec tags every upload with it)."""


def connection_arns(connection_arn: str) -> list[str]:
    """A connection's ARN in both service prefixes: AWS renamed CodeStar Connections to CodeConnections,
    and new connections may carry either prefix while both IAM action prefixes stay valid."""
    for old, new in (("codestar-connections", "codeconnections"), ("codeconnections", "codestar-connections")):
        marker = f":{old}:"
        if marker in connection_arn:
            return sorted({connection_arn, connection_arn.replace(marker, f":{new}:", 1)})
    return [connection_arn]


def build_project_name(service: str) -> str:
    return f"{service}-build"


def release_project_name(service: str) -> str:
    return f"{service}-lambda-release"


def image_build_project_name(service: str) -> str:
    """The platform-owned project that builds and pushes a container service's image (runs privileged)."""
    return f"{service}-image-build"


def tooling_role_path(stack: str) -> str:
    """The IAM path of the per-service roles in the tooling account (pipeline, build, image build, release, scan).

    Policies shared by the whole fleet (the artifact key, the release-news key and topic) name these roles
    by this path, ``role/cicd/<stack>/*``, instead of listing one ARN per role: a list grows with the
    fleet and outgrows AWS's policy size limits at about 60 services. Only the platform creates roles
    under this path. A role's path is part of its ARN (``aws:PrincipalArn``) but not of its name, which
    stays unique in the account whatever the path.
    """
    return f"/cicd/{stack.lower()}/"


def tooling_role_arn(region: str, account_id: str, stack: str, role_name: str) -> str:
    """The ARN of a per-service tooling role, path included (``naming.tooling_role_path``)."""
    return f"arn:{partition_of(region)}:iam::{account_id}:role{tooling_role_path(stack)}{role_name}"


def tooling_roles_pattern(region: str, account_id: str, stack: str, name_pattern: str = "*") -> str:
    """``ArnLike`` pattern of the stack's per-service tooling roles, optionally of one kind (``cicd-pipeline-*``)."""
    return tooling_role_arn(region, account_id, stack, name_pattern)


def pipeline_role_name(service: str) -> str:
    return f"cicd-pipeline-{service}"


def build_role_name(service: str) -> str:
    return f"cicd-build-{service}"


def release_role_name(service: str) -> str:
    return f"cicd-release-{service}"


def image_build_role_name(service: str) -> str:
    return f"cicd-image-build-{service}"


DEPLOY_ROLE_PREFIX = "cicd-deploy-"


def deploy_role_name(service: str, environment: str) -> str:
    return f"{DEPLOY_ROLE_PREFIX}{service}-{environment}"


def deploy_roles_pattern(region: str, account_id: str) -> str:
    """Every deploy role of one environment account, as an ``ArnLike`` pattern (``role/cicd-deploy-*``).

    The platform's roles there are named ``cicd-*`` (the bootstrap role may create no others), and each
    deploy role's own policy scopes it to one pipeline's artifacts; a pattern keeps the shared key and
    bucket policies the same size however many services deploy to the account.
    """
    return role_arn(region, account_id, f"{DEPLOY_ROLE_PREFIX}*")


def codedeploy_service_role_name(environment: str) -> str:
    return f"cicd-codedeploy-{environment}"


def codedeploy_application_name(service: str, environment: str) -> str:
    return f"{service}-{environment}"


def deployment_group_name(service: str, environment: str) -> str:
    return f"{service}-{environment}"


def artifact_bucket_name(stack: str, account_id: str, region: str) -> str:
    return f"cicd-artifacts-{stack.lower()}-{account_id}-{region}"[:63]


def access_log_bucket_name(stack: str, account_id: str, region: str) -> str:
    """Where S3 delivers the artifact bucket's server access logs (same account and region, as S3 requires)."""
    return f"cicd-access-logs-{stack.lower()}-{account_id}-{region}"[:63]


ARTIFACT_ACCESS_LOG_PREFIX = "artifacts/"
"""Key prefix of the artifact bucket's access logs in the log bucket (room for other sources beside it)."""


def build_log_group_name(service: str) -> str:
    return f"/aws/codebuild/{build_project_name(service)}"


def release_log_group_name(service: str) -> str:
    return f"/aws/codebuild/{release_project_name(service)}"


def image_build_log_group_name(service: str) -> str:
    return f"/aws/codebuild/{image_build_project_name(service)}"


def codedeploy_arns(region: str, account_id: str, application: str, group: str, config: str) -> list[str]:
    """The application, deployment group and deployment config ARNs a deploy touches."""
    prefix = f"arn:{partition_of(region)}:codedeploy:{region}:{account_id}"
    return [
        f"{prefix}:application:{application}",
        f"{prefix}:deploymentgroup:{application}/{group}",
        f"{prefix}:deploymentconfig:{config}",
    ]


def alarm_name(service: str, environment: str, signal: str) -> str:
    """``cicd-<service>-<env>-<signal>``; environment names have no '-', so the parts stay recoverable."""
    return f"cicd-{service}-{environment}-{signal}"


HEALTH_SIGNAL = "health"
"""The composite alarm of one service in one environment: ALARM when any of its signal alarms is."""


def health_alarm_name(service: str, environment: str) -> str:
    return alarm_name(service, environment, HEALTH_SIGNAL)


def alarm_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{partition_of(region)}:cloudwatch:{region}:{account_id}:alarm:{name}"


def alarm_topic_name(environment: str) -> str:
    return f"cicd-alarms-{environment}"


def alarm_reader_role_name(environment: str) -> str:
    return f"cicd-alarm-reader-{environment}"


def permissions_boundary_arn(region: str, account_id: str, policy_name: str) -> str:
    """The bootstrap's permissions boundary in one environment account: a customer managed policy at the root path."""
    return f"arn:{partition_of(region)}:iam::{account_id}:policy/{policy_name}"


def event_forwarder_role_name(environment: str) -> str:
    return f"cicd-event-forwarder-{environment}"


def deploy_events_bus_name(stack: str) -> str:
    """The tooling account's bus that environment accounts forward alarm and deployment events to."""
    return f"cicd-{stack.lower()}-deploy-events"


APPROVAL_STAGE = "Approve"
APPROVAL_ACTION = "ReleaseApproval"


def pipeline_arn(region: str, account_id: str, pipeline: str) -> str:
    return f"arn:{partition_of(region)}:codepipeline:{region}:{account_id}:{pipeline}"


def rollback_reporter_name(stack: str) -> str:
    """The reporter's function, role and log group name (one per stack)."""
    return f"cicd-{stack.lower()}-rollback-reporter"


FAILURE_DIGEST = "failure-digest"


def failure_digest_name(stack: str) -> str:
    """The failure digest's function, role and log group name (one per stack)."""
    return function_name(FAILURE_DIGEST, stack)


def failure_digest_rule_name(stack: str) -> str:
    """The rule that sends failed actions to the digest (the release-news dead-letter queue admits it)."""
    return f"{failure_digest_name(stack)}-failed-actions"


# -- coordination (one coordinator, one gate and one ledger per stack) ---------------------------------------------
COORDINATION_FUNCTIONS = ("coordinator", "deploy-gate")
"""The functions of the coordination component; both read health alarms (the gate also runs the bake)."""


def coordination_function_name(stack: str, role: str) -> str:
    """``cicd-<stack>-coordinator`` / ``cicd-<stack>-deploy-gate``; pipelines name the gate before it exists."""
    return f"cicd-{stack.lower()}-{role}"


def lambda_function_arn(region: str, account_id: str, function_name: str) -> str:
    return f"arn:{partition_of(region)}:lambda:{region}:{account_id}:function:{function_name}"


def ledger_table_name(stack: str) -> str:
    return f"cicd-{stack.lower()}-deploy-ledger"


def graph_parameter_name(stack: str) -> str:
    """The graph's index: format, environments' accounts and regions, alarm readers and its parts' digests."""
    return f"/cicd-platform/{stack}/coordination/graph"


def graph_part_parameter_name(index_name: str, number: int) -> str:
    """Part ``number`` (from 1) of the graph whose index is ``index_name``: a share of the fleet's services.

    ``functions/deploy_ledger/graph.py`` derives the same names from the index; keep the two in step.
    """
    return f"{index_name}{GRAPH_PART_SUFFIX}{number}"


GRAPH_PART_SUFFIX = "-part-"


def graph_parts_pattern(index_name: str) -> str:
    """Every part of the graph whose index is ``index_name`` (an IAM resource pattern)."""
    return f"{index_name}{GRAPH_PART_SUFFIX}*"


def freeze_parameter_prefix(stack: str) -> str:
    return f"/cicd-platform/{stack}/freeze/"


def freeze_parameter_name(stack: str, environment: str) -> str:
    return f"{freeze_parameter_prefix(stack)}{environment}"


def deployed_topic_name(stack: str, service: str) -> str:
    return f"cicd-{stack.lower()}-{service}-deployed"


def integration_test_project_name(service: str) -> str:
    """The project a dependent with ``on_upstream_deploy: test`` runs (built by the Verify stage's owner)."""
    return f"{service}-integration-tests"


def approval_action_arn(region: str, account_id: str, pipeline: str) -> str:
    """The resource ``codepipeline:PutApprovalResult`` authorizes: ``<pipeline ARN>/<stage>/<action>``."""
    return f"{pipeline_arn(region, account_id, pipeline)}/{APPROVAL_STAGE}/{APPROVAL_ACTION}"


def role_name_of(role_arn: str) -> str:
    """``arn:aws:iam::1:role/path/name`` → ``name`` (IAM APIs take the name without its path)."""
    return role_arn.rsplit("/", 1)[-1]


def notification_topic_name(stack: str) -> str:
    return f"cicd-release-news-{stack}"


def notification_topic_arn(region: str, account_id: str, stack: str) -> str:
    return f"arn:{partition_of(region)}:sns:{region}:{account_id}:{notification_topic_name(stack)}"


def delivery_ledger_table_name(stack: str) -> str:
    return f"cicd-delivery-ledger-{stack}"


def function_name(purpose: str, stack: str) -> str:
    return f"cicd-{purpose}-{stack}"


def event_rule_name(purpose: str, stack: str) -> str:
    return f"cicd-{purpose}-{stack}"


def event_rule_arn(region: str, account_id: str, rule_name: str) -> str:
    """Rules on the default bus; known before creation so topic and queue policies can name them."""
    return f"arn:{partition_of(region)}:events:{region}:{account_id}:rule/{rule_name}"


def _bounded(name: str, limit: int) -> str:
    """``name`` if it fits, else a prefix plus a short stable hash, so long service names stay unique."""
    if len(name) <= limit:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:6]
    return f"{name[: limit - len(digest) - 1].rstrip('-')}-{digest}"


# GCP. Service account ids are 6-30 characters (a-z, 0-9, '-'); a project may hold several
# environments (a sandbox), so every per-service name carries the environment.
GCP_WORKLOAD_IDENTITY_PROVIDER_ID = "github"


def gcp_deploy_account_id(service: str, environment: str) -> str:
    return _bounded(f"deploy-{service}-{environment}", 30)


def gcp_runtime_account_id(service: str, environment: str) -> str:
    return _bounded(f"run-{service}-{environment}", 30)


def gcp_repository_id(service: str, environment: str) -> str:
    return _bounded(f"{service}-{environment}", 63)


def gcp_cloud_run_service(service: str, environment: str) -> str:
    """The Cloud Run service the workflow deploys; the platform creates it (49 characters at most)."""
    return f"{service}-{environment}"


GCP_ARTIFACT_KEY_NAME = "artifact-registry"
ARTIFACT_REGISTRY_SERVICE = "artifactregistry.googleapis.com"


def gcp_key_ring_name(stack: str, environment: str) -> str:
    """One key ring per stack and environment: a sandbox project holds several environments, and
    Cloud KMS never deletes a key ring, so the name must never be reused by another stack."""
    return f"cicd-{stack}-{environment}"


def gcp_principal_set(project_number: str, pool_id: str, repository: str) -> str:
    """Every token from one GitHub repository, as workload identity federation names it."""
    return (
        f"principalSet://iam.googleapis.com/projects/{project_number}/locations/global/"
        f"workloadIdentityPools/{pool_id}/attribute.repository/{repository}"
    )


# Azure. Resource group and identity names follow the Cloud Adoption Framework prefixes;
# registry names are global, 5-50 letters and digits only.
def azure_resource_group_name(service: str, environment: str) -> str:
    return f"rg-{service}-{environment}"


def azure_identity_name(service: str, environment: str) -> str:
    return f"id-{service}-{environment}-deploy"


def azure_runtime_identity_name(service: str, environment: str) -> str:
    return f"id-{service}-{environment}-runtime"


def azure_federated_credential_name(environment: str) -> str:
    return f"github-environment-{environment}"


def azure_registry_name(stack: str, service: str, environment: str) -> str:
    name = f"cr{service}{environment}".replace("-", "")
    digest = hashlib.sha256(f"{stack}/{service}/{environment}".encode()).hexdigest()[:6]
    return f"{name[:44]}{digest}"


def scan_project_name(service: str) -> str:
    return f"{service}-scan"


def scan_role_name(service: str) -> str:
    return f"cicd-scan-{service}"


def scan_log_group_name(service: str) -> str:
    return f"/aws/codebuild/{scan_project_name(service)}"


def security_report_group_name(service: str) -> str:
    return f"{service}-security-findings"


def report_group_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:{partition_of(region)}:codebuild:{region}:{account_id}:report-group/{name}"


SECURITY_REPORTS_ROOT = "security_reports"


def security_reports_prefix(service: str) -> str:
    """Where a service's scan reports and SBOMs live in the artifact bucket.

    The underscore keeps it apart from pipeline artifacts, which CodePipeline
    stores under the pipeline's name (``<service>-<env>``, never an underscore).
    """
    return f"{SECURITY_REPORTS_ROOT}/{service}"


def security_hub_product_arn(region: str, account_id: str) -> str:
    """The account's own 'default' product, the one custom findings are imported as."""
    return f"arn:{partition_of(region)}:securityhub:{region}:{account_id}:product/{account_id}/default"


def secret_arn_pattern(region: str, account_id: str, secret_name: str) -> str:
    """A secret by name: Secrets Manager appends '-' and six random characters to every ARN."""
    return f"arn:{partition_of(region)}:secretsmanager:{region}:{account_id}:secret:{secret_name}-??????"


def github_dispatch_function_name(stack: str) -> str:
    """The one GitHub dispatch function of a stack, shared by every service that deploys to GCP or Azure."""
    return f"cicd-github-dispatch-{stack.lower()}"


def github_dispatch_function_arn(region: str, account_id: str, stack: str) -> str:
    """Known before the function exists, so pipeline role policies can name it."""
    name = github_dispatch_function_name(stack)
    return f"arn:{partition_of(region)}:lambda:{region}:{account_id}:function:{name}"


def github_dispatch_secret_name(stack: str) -> str:
    return f"cicd/{stack.lower()}/github-dispatch-token"


def log_group_arn(region: str, account_id: str, name: str) -> str:
    """A log group's ARN; ``name`` may end in ``*`` to name a family (key policies match it with ArnLike)."""
    return f"arn:{partition_of(region)}:logs:{region}:{account_id}:log-group:{name}"


# -- shards and build queues ---------------------------------------------------------------------------------------


def environment_account_name(environment: str, account_id: str, stack_account_id: str) -> str:
    """The logical name of an environment's foothold in an account (``env-prod``, ``env-prod-<account>``).

    The stack's own account for the environment keeps the short name; service-specific accounts are
    suffixed. Core and shard stacks both name their providers this way, so a resource moved from a
    whole stack into a shard keeps its provider's URN (``pulumi state move`` matches providers by URN).
    """
    suffix = "" if account_id == stack_account_id else f"-{account_id}"
    return f"env-{environment}{suffix}"


def build_fleet_name(stack: str, queue: str) -> str:
    """A build queue's CodeBuild reserved-capacity fleet (one per queue that is a fleet)."""
    return f"cicd-{stack.lower()}-{queue}"


# -- DORA metrics (one recorder and one dashboard per stack) --------------------------------------------------------
DORA_PURPOSE = "dora-metrics"
"""The function's purpose: ``cicd-dora-metrics-<stack>`` (``function_name``)."""


def dora_table_name(stack: str) -> str:
    """The deployments the DORA function recorded, one item per Deploy stage that ended."""
    return f"cicd-dora-deployments-{stack.lower()}"


def dora_dashboard_name(stack: str) -> str:
    """CloudWatch dashboards are global in an account: the stack's name keeps two stacks' apart."""
    return f"cicd-dora-{stack.lower()}"
