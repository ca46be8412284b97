"""Required tags: every taggable resource says which service, owner and environment it serves, and who manages it.

Tags drive cost reports, the Slack owner mention and the rules that need to
know production (``environment``). Checked on the resource's own ``tags``
input; tags that a provider adds through ``default_tags`` are not visible to
a resource policy, so declare them on the resource.
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import Config, Props, as_mapping, is_unknown, resource_rule

TAGGABLE_TYPES = frozenset(
    {
        "aws:iam/role:Role",
        "aws:iam/policy:Policy",
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketV2:BucketV2",
        "aws:kms/key:Key",
        "aws:codepipeline/pipeline:Pipeline",
        "aws:codebuild/project:Project",
        "aws:codedeploy/application:Application",
        "aws:codedeploy/deploymentGroup:DeploymentGroup",
        "aws:codestarconnections/connection:Connection",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:cloudwatch/eventRule:EventRule",
        "aws:ecr/repository:Repository",
        "aws:sns/topic:Topic",
        "aws:sqs/queue:Queue",
        "aws:lambda/function:Function",
        "aws:secretsmanager/secret:Secret",
        "aws:dynamodb/table:Table",
        "aws:sfn/stateMachine:StateMachine",
    }
)


def check_required_tags(_: str, props: Props, config: Config) -> Iterator[str]:
    tags = props.get("tags")
    if is_unknown(tags):
        return
    tags = as_mapping(tags)
    missing = [
        tag for tag in config["requiredTags"] if tag not in tags or (not tags[tag] and not is_unknown(tags[tag]))
    ]
    if missing:
        yield f"missing tag(s): {', '.join(missing)}"


REQUIRED_TAGS = resource_rule(
    name="required-tags",
    description="Taggable resources carry the service, owner, environment and managed-by tags.",
    level="advisory",
    resource_types=TAGGABLE_TYPES,
    check=check_required_tags,
    remediation="Add the missing tags (components.model.tags.standard_tags gives all four).",
    anchors=("common practice",),
    config_schema={
        "requiredTags": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["service", "owner", "environment", "managed-by"],
            "description": "Tag keys every taggable resource must carry.",
        }
    },
)

RULES = (REQUIRED_TAGS,)
