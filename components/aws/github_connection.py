"""The stack's one CodeStar connection to GitHub.

A connection is created PENDING: an administrator of the GitHub organization
completes the handshake once in the AWS console (README, "First deploy").
Until then pipelines fail at the Source stage with a clear AWS message.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from ..model.tags import standard_tags


class GitHubConnection(pulumi.ComponentResource):
    """A CodeStar connection that every pipeline's Source action uses."""

    arn: pulumi.Output[str]

    def __init__(self, name: str, stack: str, github_owner: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("cicd:source:GitHubConnection", name, None, opts)
        connection = aws.codestarconnections.Connection(
            f"{name}-connection",
            name=f"github-{github_owner}-{stack}"[:32],
            provider_type="GitHub",
            tags=standard_tags(stack),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = connection.arn
        self.register_outputs({"arn": connection.arn})
