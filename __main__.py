"""cicd-platform: the catalog becomes one governed CodePipeline per service and environment.

Thin on purpose: read and validate the inputs once, refuse to run against the
wrong AWS account, build the Platform component, export what operators look up.
"""

import os
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.model.errors import PlatformInputError
from components.model.platform_inputs import load_platform_inputs
from components.model.settings import CONFIG_KEY
from components.platform import Platform
from components.shards.core_interface import SHARD_INTERFACE_OUTPUT, shard_interface
from components.shards.shard import declare_shard

# Not resolved: a project directory that links this file in (a test fixture) keeps its own stack files.
PROJECT_DIR = Path(__file__).absolute().parent

try:
    inputs = load_platform_inputs(
        pulumi.Config().get_object(CONFIG_KEY),
        pulumi.get_stack(),
        PROJECT_DIR,
        # Lets a reviewer try a catalog change without editing the stack file.
        catalog_override=os.environ.get("CICD_PLATFORM_CATALOG") or None,
    )
except PlatformInputError as error:
    raise pulumi.RunError(str(error)) from None

caller_account = aws.get_caller_identity().account_id
if caller_account != inputs.settings.tooling_account_id:
    raise pulumi.RunError(
        f"the AWS credentials are for account {caller_account}, but stack {inputs.stack} manages tooling account "
        f"{inputs.settings.tooling_account_id}; switch credentials "
        f"(or fix toolingAccountId in Pulumi.{inputs.stack}.yaml)"
    )

if inputs.stack_role.kind == "shard":
    # A shard declares its services on the shared pieces its core exports (README: Scaling to a large fleet).
    services = declare_shard(inputs)
else:
    platform = Platform("platform", inputs)
    services = platform.services
    pulumi.export("artifactBucket", platform.artifacts.bucket_name)
    pulumi.export("artifactKeyArn", platform.artifacts.key_arn)
    pulumi.export("githubConnectionArn", platform.connection.arn)
    pulumi.export("releaseNewsTopicArn", platform.news.topic_arn)
    if platform.approvals.guardrail_scp is not None:
        # An organization admin attaches this SCP to the tooling account (offline: out/scp-<stack>.json).
        pulumi.export("approvalGuardrailScp", platform.approvals.guardrail_scp)
    pulumi.export("deployOrder", inputs.catalog.deploy_order)
    pulumi.export("deployWaves", inputs.deploy_waves())
    pulumi.export("deploymentLedgerTable", platform.coordination.table_name)
    pulumi.export("doraDashboard", platform.dora.dashboard_name)
pulumi.export(
    "pipelines",
    {name: {env: pipeline.name for env, pipeline in service.pipelines.items()} for name, service in services.items()},
)
# What each service's deploy workflows need, per environment and cloud, named as the GitHub environment
# variables that templates/github/deploy-<cloud>.yml reads (README: "Deploying to GCP or Azure").
pulumi.export(
    "cloudDeployTargets",
    {name: service.cloud_targets for name, service in services.items() if any(service.cloud_targets.values())},
)
if inputs.stack_role.kind == "core":
    pulumi.export(SHARD_INTERFACE_OUTPUT, shard_interface(platform))
