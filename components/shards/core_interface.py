"""The contract between a core stack and its shards: one stack output, read through ``StackReference``.

The core exports, as ``shardInterface``, the values of its shared pieces that a shard's
services need and cannot derive from the model (ARNs with generated parts, such as the
artifact key's or the GitHub connection's, and outputs of resources the core creates).
Everything a name alone determines (role ARNs, the deploy gate's ARN) a shard derives
from the model, as a whole stack does.

A shard reads the interface from its core's last ``pulumi up``; CI deploys the core before
the shards, so they read what this commit declared. Offline, the plan answers the read
from the core plan written just before (``offline_plan.shards``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pulumi

if TYPE_CHECKING:
    from ..platform import Platform

SHARD_INTERFACE_OUTPUT = "shardInterface"
CORE_REFERENCE_NAME = "core"


def account_key(environment: str, account_id: str) -> str:
    return f"{environment}/{account_id}"


def shard_interface(platform: Platform) -> dict[str, Any]:
    """What a core exports for its shards (every value an Output or plain data)."""
    interface: dict[str, Any] = {
        "artifactBucket": platform.artifacts.bucket_name,
        "artifactBucketArn": platform.artifacts.bucket_arn,
        "artifactKeyArn": platform.artifacts.key_arn,
        "githubConnectionArn": platform.connection.arn,
        "releaseNewsTopicArn": platform.news.topic_arn,
        "releaseNewsKeyArn": platform.news.key_arn,
        "deployGateFunctionName": platform.coordination.gate.function_name,
        "environmentAccounts": {
            account_key(environment, account_id): {
                "codedeployRoleArn": account.codedeploy_role_arn,
                "alarmTopicArn": account.alarm_topic_arn,
            }
            for (environment, account_id), account in platform.accounts.items()
        },
        "gcpEnvironments": {
            name: {
                "projectNumber": foothold.project_number,
                "workloadIdentityProvider": foothold.workload_identity_provider_name,
                "artifactKeyName": foothold.artifact_key_name,
            }
            for name, foothold in platform.gcp_environments.items()
        },
    }
    if platform.dispatch is not None:
        interface["githubDispatchFunctionName"] = platform.dispatch.function_name
    return interface


class CoreReference:
    """The core's ``shardInterface``, read by a shard stack through a ``pulumi.StackReference``."""

    def __init__(self, core_stack: str, opts: pulumi.ResourceOptions | None = None) -> None:
        # Fully qualified, which both Pulumi Cloud and the DIY backends accept ("organization" on DIY).
        organization = pulumi.get_organization() or "organization"
        reference = pulumi.StackReference(
            CORE_REFERENCE_NAME, f"{organization}/{pulumi.get_project()}/{core_stack}", opts=opts
        )
        self.core_stack = core_stack
        self._interface: pulumi.Output[Mapping[str, Any]] = reference.require_output(SHARD_INTERFACE_OUTPUT)

    def get(self, *path: str) -> pulumi.Output[Any]:
        """One value of the interface; a missing key fails the update with the path, not a KeyError deep inside."""

        def pick(interface: Mapping[str, Any]) -> Any:
            value: Any = interface
            for key in path:
                if not isinstance(value, Mapping) or key not in value:
                    raise pulumi.RunError(
                        f"core stack {self.core_stack} exports no {SHARD_INTERFACE_OUTPUT}.{'.'.join(path)}; "
                        "run `pulumi up` on the core before its shards (README: Scaling to a large fleet)"
                    )
                value = value[key]
            return value

        return self._interface.apply(pick)
