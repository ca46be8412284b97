"""What a shard stack declares: its services' pipelines, deploy targets, alarms and build capacity.

Everything is declared at the stack's root, where ``pulumi state move`` puts a resource whose
parent stays behind: moving a service's ``ServicePipeline`` out of a whole stack
(``--source prod --dest prod-<shard>``) lands it, its children and its providers on exactly
the URNs this module declares, so splitting a fleet replaces nothing
(``pkg/cmd/pulumi/state/state_move.go``: unmoved parents become the destination's root stack;
a copied provider whose URN and inputs match the destination's is reused).
"""

from __future__ import annotations

from ..aws.build_fleet import build_fleets
from ..aws.service_pipeline import ServicePipeline, ServicePipelineArgs
from ..coordination.gate_rule import DeployGateRule
from ..model import naming, release_approvals
from ..model.platform_inputs import PlatformInputs
from ..platform import declare_github_environments
from .core_interface import CoreReference
from .footholds import account_views, azure_views, gcp_views


def declare_shard(inputs: PlatformInputs) -> dict[str, ServicePipeline]:
    """The shard's services, built on the shared pieces its core exports; returns them by name."""
    settings, services = inputs.settings, inputs.declared_services
    core = CoreReference(inputs.stack)
    accounts = account_views(inputs, services, core)
    gcp_environments = gcp_views(inputs, services, core)
    azure_environments = azure_views(inputs, services)
    fleets = build_fleets(inputs, services)
    with_approvals = release_approvals.approval_pipelines(inputs)
    gate_name = naming.coordination_function_name(inputs.stack, "deploy-gate")
    gate = DeployGateRule(
        function_name=core.get("deployGateFunctionName"),
        function_arn=naming.lambda_function_arn(settings.region, settings.tooling_account_id, gate_name),
    )
    # The core creates the dispatch function whenever any service of the fleet deploys to GCP or Azure.
    dispatches = any(service.also_deploy_to for service in inputs.catalog.services)
    declared: dict[str, ServicePipeline] = {}
    for service in services:
        approves = service.name in with_approvals
        declared[service.name] = ServicePipeline(
            service.name,
            ServicePipelineArgs(
                inputs=inputs,
                service=service,
                accounts=accounts,
                connection_arn=core.get("githubConnectionArn"),
                bucket_name=core.get("artifactBucket"),
                bucket_arn=core.get("artifactBucketArn"),
                key_arn=core.get("artifactKeyArn"),
                deploy_gate=gate,
                approval_topic_arn=core.get("releaseNewsTopicArn") if approves else None,
                approval_key_arn=core.get("releaseNewsKeyArn") if approves else None,
                gcp_environments=gcp_environments,
                azure_environments=azure_environments,
                dispatch_function_name=core.get("githubDispatchFunctionName") if dispatches else None,
                build_fleet_arn=fleets.get(service.build_queue),
            ),
        )
    if settings.github_environments and dispatches:
        declare_github_environments(inputs, declared, None)
    return declared
