"""Review: s3-no-public and sns-hardening (mandatory) miss ``Allow`` with ``NotPrincipal``, which is public.

IAM User Guide, "AWS JSON policy elements: NotPrincipal": an ``Allow`` with ``NotPrincipal`` grants the
action to every principal except those named, anonymous users included, and AWS recommends never to use it
with ``Allow``. The rules read only ``Principal`` (``rules.base.aws_principals``), so these statements, which
make the bucket's objects and the topic public, pass.
"""

from __future__ import annotations

import json

from policies.rules.s3 import S3_NO_PUBLIC
from policies.rules.sns import RULES as SNS_RULES

TOPIC = "arn:aws:sns:eu-west-1:123456789012:cicd-release-news-prod"
EVERYONE_BUT_THE_ACCOUNT = {"AWS": "arn:aws:iam::123456789012:root"}


def document(statement):
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def test_a_bucket_policy_allowing_everyone_but_one_account_is_reported():
    statement = {
        "Sid": "EveryoneElseReads",
        "Effect": "Allow",
        "NotPrincipal": EVERYONE_BUT_THE_ACCOUNT,
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::cicd-artifacts-prod-123456789012-eu-west-1/*",
    }
    props = {"bucket": "cicd-artifacts-prod-123456789012-eu-west-1", "policy": document(statement)}
    assert S3_NO_PUBLIC.violations("aws:s3/bucketPolicy:BucketPolicy", props) != []


def test_a_topic_policy_allowing_everyone_but_one_account_is_reported():
    (sns_hardening,) = [rule for rule in SNS_RULES if rule.name == "sns-hardening"]
    statement = {
        "Sid": "EveryoneElsePublishes",
        "Effect": "Allow",
        "NotPrincipal": EVERYONE_BUT_THE_ACCOUNT,
        "Action": "sns:Publish",
        "Resource": TOPIC,
    }
    props = {"arn": TOPIC, "policy": document(statement)}
    assert sns_hardening.violations("aws:sns/topicPolicy:TopicPolicy", props) != []
