"""Where the platform's alarms in one environment account notify: an SNS topic under its own key.

CloudWatch encrypts as itself when an alarm publishes, so the topic's key must
let ``cloudwatch.amazonaws.com`` generate data keys; the AWS-managed ``aws/sns``
key cannot be given that grant, and alarms publishing to a topic under it fail
silently. The topic policy lets only this account's CloudWatch alarms named
``cicd-*-<env>-*`` publish.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from .. import iam
from ..model import naming
from ..model.settings import Environment
from ..model.tags import standard_tags


class AlarmTopic(pulumi.ComponentResource):
    """KMS key + encrypted SNS topic + publish policy, in one environment account."""

    topic_arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        stack: str,
        environment: Environment,
        provider: aws.Provider,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("cicd:governance:AlarmTopic", name, None, opts)
        in_account = pulumi.ResourceOptions(parent=self, provider=provider)
        tags = standard_tags(stack, environment=environment.name)
        region, account_id = environment.region, environment.account_id
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the platform's alarm notifications in {environment.name}",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=iam.to_json(iam.alarm_topic_key_policy(region, account_id)),
            tags=tags,
            opts=in_account,
        )
        topic_name = naming.alarm_topic_name(environment.name)
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=topic_name,
            kms_master_key_id=key.arn,
            tags=tags,
            opts=in_account,
        )
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=topic.arn.apply(
                lambda arn: iam.to_json(iam.alarm_topic_policy(region, account_id, arn, environment.name))
            ),
            opts=pulumi.ResourceOptions(parent=topic, provider=provider),
        )
        self.topic_arn = topic.arn
        self.register_outputs({"topicArn": topic.arn, "keyArn": key.arn})
