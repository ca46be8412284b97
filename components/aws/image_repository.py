"""The ECR repository a containerised service's builds push to.

Images are built in the tooling account (each environment's pipeline builds the
commit of its own branch) and pulled by the environment accounts, so the
repository policy names those accounts and no one else. Tags are immutable (a
tag always means the image that was tested); builds tag with commit,
environment and pipeline execution (``IMAGE_TAG``), so rebuilding one commit
for another environment never collides. The repository keeps the newest
``releaseImagesPerEnvironment`` images of each environment and expires untagged
images a day after their push (``model.artifact_retention``), so the registry
does not grow without bound and a rollback still finds its image.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model.artifact_retention import image_lifecycle_policy
from ..model.tags import standard_tags


class ImageRepository(pulumi.ComponentResource):
    """ECR repository with scanning, immutable tags, pruning and a cross-account pull policy."""

    arn: pulumi.Output[str]
    url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        stack: str,
        service: str,
        owner: str,
        region: str,
        pull_account_ids: Sequence[str],
        environments: Sequence[str],
        kept_per_environment: int,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cicd:build:ImageRepository", name, None, opts)
        repository = aws.ecr.Repository(
            f"{name}-repository",
            name=service,
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration={"scan_on_push": True},
            encryption_configurations=[{"encryption_type": "KMS"}],
            tags=standard_tags(stack, service=service, owner=owner),
            opts=pulumi.ResourceOptions(parent=self),
        )
        in_repository = pulumi.ResourceOptions(parent=repository)
        aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=repository.name,
            policy=json.dumps(
                image_lifecycle_policy(environments, kept_per_environment),
                sort_keys=True,
            ),
            opts=in_repository,
        )
        aws.ecr.RepositoryPolicy(
            f"{name}-pull-policy",
            repository=repository.name,
            policy=iam.to_json(iam.image_repository_policy(region, pull_account_ids)),
            opts=in_repository,
        )
        self.arn = repository.arn
        self.url = repository.repository_url
        self.register_outputs({"arn": repository.arn, "url": repository.repository_url})
