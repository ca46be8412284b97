"""The stack's one GitHub dispatch function, shared by every service that deploys to GCP or Azure.

What it creates: the function (code in ``functions/github_dispatch``), its role,
a KMS key of its own, the Secrets Manager secret for the GitHub token, a
DynamoDB table in which each job is claimed once (duplicate deliveries never
dispatch twice; a delivery that died is redone by Lambda's retry), an encrypted
log group and a dead-letter queue for deliveries that failed every retry, and
the EventBridge rules that tell it when a pipeline execution that dispatches
ended without succeeding, so that it cancels the run that execution started
(``halting_rules``; ``functions/github_dispatch/halting.py``).

How it authenticates to GitHub is the stack's ``githubCredentials`` (``components/model/credentials.py``):

- ``app`` (recommended): no secret. An asymmetric KMS key (``RSA_2048``, ``SIGN_VERIFY``, origin
  ``EXTERNAL``) receives the App's private key once (``make import-github-app-key``); its policy lets only
  this function's role sign, and the function trades the signed App JWT for short-lived installation tokens.
  Automatic rotation does not apply to such a key (KMS rotates neither asymmetric keys nor imported
  material); GitHub's own answer is to add a new App key and delete the old one, which is a new import.
- ``token``: the secret is created empty (Pulumi never holds the token) and an operator puts
  ``{"token": "..."}`` (README, "Deploying to GCP and Azure"). GitHub has no API to rotate a personal
  access token, so the secret is tagged rotation-exempt with a maximum age the daily watch enforces.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pulumi
import pulumi_aws as aws

from .. import iam
from ..governance.lambda_function import dead_letter_queue, invoke_from_rule
from ..model import naming
from ..model.credentials import GitHubApp, exemption_tags
from ..model.platform_inputs import PlatformInputs
from ..model.tags import standard_tags
from .halting_rules import ended_execution_patterns

CODE_DIR = Path(__file__).resolve().parents[2] / "functions" / "github_dispatch"
PACKAGE = "github_dispatch"
RUNTIME = "python3.13"
TIMEOUT_SECONDS = 180
"""Above one delivery's worst case: the poll pause, four HTTP attempts with backoff and a short rate-limit wait."""
# Lambda retries a failed asynchronous delivery twice; after 15 minutes CodePipeline's 20-minute reply window
# is nearly gone, so an older event goes to the dead-letter queue instead.
MAX_EVENT_AGE_SECONDS = 900
FIRST_RETRY_DELAY_SECONDS = 60
"""Lambda retries a failed asynchronous delivery (an error or a timeout) one minute later ("How Lambda handles
errors and retries with asynchronous invocation")."""
CLAIM_LEASE_SECONDS = 45
"""A job's claim outlives no delivery's retry: a delivery that died is redone by Lambda's first retry (never
skipped as a "duplicate"), and the claim's conditional writes keep a slow delivery that lost it from dispatching."""
EXECUTION_READ_POLICY_BUDGET = 4000
"""Characters of pipeline ARNs the role policy lists one by one (IAM caps an inline role policy at 10,240);
a larger fleet gets the stack's account and region's pipelines instead (the function checks the pipeline)."""
ROTATION_EXEMPTION = (
    "holds a GitHub personal access token, which GitHub offers no API to rotate: an operator replaces it "
    "before it expires (the GitHub App mode needs no secret)"
)


def function_code() -> pulumi.AssetArchive:
    """The handler package, file by file: no caches, so the archive changes only when the code does."""
    return pulumi.AssetArchive(
        {f"{PACKAGE}/{path.name}": pulumi.FileAsset(str(path)) for path in sorted(CODE_DIR.glob("*.py"))}
    )


def dispatching_pipelines(inputs: PlatformInputs) -> list[str]:
    """The pipelines with a dispatch action: every environment of a service that also deploys to GCP or Azure."""
    return sorted(
        naming.pipeline_name(service.name, environment.name)
        for service in inputs.catalog.services
        if service.also_deploy_to
        for environment in inputs.environments_for(service)
    )


def execution_read_arns(region: str, account: str, pipelines: list[str]) -> list[str]:
    """The pipelines whose executions the function may read: each by name, or all of them past the budget."""
    arns = [naming.pipeline_arn(region, account, pipeline) for pipeline in pipelines]
    if sum(len(arn) + 3 for arn in arns) > EXECUTION_READ_POLICY_BUDGET:
        return [naming.pipeline_arn(region, account, "*")]
    return arns


@dataclass(frozen=True)
class GitHubDispatchArgs:
    inputs: PlatformInputs
    api_url: str = "https://api.github.com"
    """GitHub REST API base; GitHub Enterprise Server uses https://HOST/api/v3."""
    reserved_concurrency: int = 10
    """Every delivery is short (one poll); ten at once covers a fleet deploying together."""
    log_retention_days: int = 90
    poll_wait_seconds: int = 15
    find_run_max_polls: int = 20
    """Only for a GitHub Enterprise Server that does not name the run in its dispatch answer."""


class GitHubDispatch(pulumi.ComponentResource):
    """Function + role + key + (token secret | App signing key) + claims table + logs + dead-letter queue."""

    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    role_arn: pulumi.Output[str]
    secret_arn: pulumi.Output[str] | None
    """The personal-token mode's secret; ``None`` in the App mode."""
    app_key_arn: pulumi.Output[str] | None
    """The App mode's signing key; ``None`` in the personal-token mode."""
    key_arn: pulumi.Output[str]

    def __init__(self, name: str, args: GitHubDispatchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:github:GitHubDispatch", name, None, opts)
        stack = args.inputs.stack
        region, account = args.inputs.settings.region, args.inputs.settings.tooling_account_id
        tags = standard_tags(stack)
        child = pulumi.ResourceOptions(parent=self)
        function_name = naming.github_dispatch_function_name(stack)
        log_group_name = f"/aws/lambda/{function_name}"

        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the GitHub token, job claims, logs and dead letters of {function_name}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=iam.to_json(iam.dispatch_key_policy(region, account, log_group_name)),
            tags=tags,
            opts=child,
        )
        aws.kms.Alias(f"{name}-key-alias", name=f"alias/{function_name}", target_key_id=key.key_id, opts=child)

        credentials = args.inputs.settings.github_credentials
        app = credentials if isinstance(credentials, GitHubApp) else None
        role_arn = naming.role_arn(region, account, function_name)
        secret = (
            None
            if app is not None
            else aws.secretsmanager.Secret(
                f"{name}-token",
                name=naming.github_dispatch_secret_name(stack),
                description=(
                    'GitHub token for the dispatch function, as {"token": "..."}; put by an operator, never by Pulumi'
                ),
                kms_key_id=key.arn,
                recovery_window_in_days=7,
                tags={**tags, **exemption_tags(ROTATION_EXEMPTION, credentials.max_age_days)},
                opts=child,
            )
        )
        claims = aws.dynamodb.Table(
            f"{name}-claims",
            name=f"{function_name}-claims",
            billing_mode="PAY_PER_REQUEST",
            hash_key="jobId",
            attributes=[{"name": "jobId", "type": "S"}],
            ttl={"attribute_name": "expiresAt", "enabled": True},
            server_side_encryption={"enabled": True, "kms_key_arn": key.arn},
            # The claims record which jobs were dispatched: recoverable after an accidental delete or bad write.
            point_in_time_recovery={"enabled": True},
            tags=tags,
            opts=child,
        )
        dead_letters = dead_letter_queue(f"{name}-dead-letters", f"{function_name}-dlq", key.arn, tags, child)
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=log_group_name,
            retention_in_days=args.log_retention_days,
            kms_key_id=key.arn,
            tags=tags,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            name=function_name,
            description="Runs the GitHub dispatch function: answers pipeline jobs, reads the GitHub token",
            assume_role_policy=iam.to_json(iam.service_trust("lambda.amazonaws.com", account)),
            tags=tags,
            opts=child,
        )
        app_key = (
            aws.kms.ExternalKey(
                f"{name}-app-key",
                description=f"The GitHub App's private key (imported once); only {function_name} signs with it",
                key_spec="RSA_2048",
                key_usage="SIGN_VERIFY",
                deletion_window_in_days=30,
                policy=iam.to_json(iam.github_app_key_policy(region, account, role_arn)),
                tags=tags,
                # KMS refuses a key policy that names a role that does not exist yet.
                opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
            )
            if app is not None
            else None
        )
        if app_key is not None:
            aws.kms.Alias(
                f"{name}-app-key-alias",
                name=f"alias/cicd-github-app-{stack.lower()}",
                target_key_id=app_key.id,
                opts=pulumi.ResourceOptions(parent=app_key),
            )
        credential_arn = app_key.arn if app_key is not None else secret.arn  # one of the two always exists
        pipelines = dispatching_pipelines(args.inputs)
        pipeline_arns = execution_read_arns(region, account, pipelines)
        policy = aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=pulumi.Output.all(
                credential=credential_arn, key=key.arn, table=claims.arn, logs=log_group.arn, dlq=dead_letters.arn
            ).apply(
                lambda arns: iam.to_json(
                    iam.dispatch_function_policy(
                        region,
                        None if app is not None else arns["credential"],
                        arns["key"],
                        arns["table"],
                        arns["logs"],
                        arns["dlq"],
                        app_key_arn=arns["credential"] if app is not None else None,
                        pipeline_arns=pipeline_arns,
                    )
                )
            ),
            opts=pulumi.ResourceOptions(parent=role),
        )
        credential_settings: dict[str, pulumi.Input[str]] = (
            {
                "GITHUB_AUTH_MODE": "app",
                "GITHUB_APP_ID": str(app.app_id),
                "GITHUB_APP_KEY_ARN": credential_arn,
                **({"GITHUB_APP_INSTALLATION_ID": str(app.installation_id)} if app.installation_id else {}),
            }
            if app is not None
            else {"GITHUB_TOKEN_SECRET_ARN": credential_arn}
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            description="Dispatches a service's GitHub Actions deploy workflow and reports its run to CodePipeline",
            role=role.arn,
            runtime=RUNTIME,
            architectures=["arm64"],
            handler=f"{PACKAGE}.handler.handler",
            code=function_code(),
            timeout=TIMEOUT_SECONDS,
            memory_size=256,
            reserved_concurrent_executions=args.reserved_concurrency,
            tracing_config={"mode": "Active"},
            dead_letter_config={"target_arn": dead_letters.arn},
            logging_config={"log_format": "Text", "log_group": log_group.name},
            environment={
                "variables": {
                    **credential_settings,
                    "CLAIMS_TABLE": claims.name,
                    "GITHUB_API_URL": args.api_url,
                    "POLL_WAIT_SECONDS": str(args.poll_wait_seconds),
                    "FIND_RUN_MAX_POLLS": str(args.find_run_max_polls),
                    # How long each action waits for its run comes with the action (its environment's setting).
                    "CLAIM_LEASE_SECONDS": str(CLAIM_LEASE_SECONDS),
                    # Whose jobs and events it believes: those of the pipelines of this account and region.
                    "TOOLING_ACCOUNT_ID": account,
                    "TOOLING_REGION": region,
                }
            },
            tags=tags,
            # The first delivery must find its permissions and its log group in place.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy, log_group]),
        )
        aws.lambda_.FunctionEventInvokeConfig(
            f"{name}-async",
            function_name=function.name,
            maximum_retry_attempts=2,
            maximum_event_age_in_seconds=MAX_EVENT_AGE_SECONDS,
            opts=pulumi.ResourceOptions(parent=function),
        )
        for index, pattern in enumerate(ended_execution_patterns(pipelines, account), start=1):
            rule = aws.cloudwatch.EventRule(
                f"{name}-ended-executions-{index}",
                name=f"{function_name}-ended-executions-{index}",
                description=f"Executions of pipelines that dispatch to GitHub that ended unsuccessfully (part {index})",
                event_pattern=json.dumps(pattern, sort_keys=True),
                tags=tags,
                opts=child,
            )
            invoke_from_rule(f"{name}-ended-executions-{index}", rule, function, source_account=account)

        self.function_name = function.name
        self.function_arn = function.arn
        self.role_arn = role.arn
        self.secret_arn = secret.arn if secret is not None else None
        self.app_key_arn = app_key.arn if app_key is not None else None
        self.key_arn = key.arn
        self.register_outputs(
            {
                "functionName": function.name,
                "functionArn": function.arn,
                "roleArn": role.arn,
                "secretArn": self.secret_arn,
                "appKeyArn": self.app_key_arn,
                "keyArn": key.arn,
            }
        )
