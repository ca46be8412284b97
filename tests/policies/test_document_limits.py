"""aws-document-size-limits: what AWS refuses for its size is refused at plan time, not halfway through ``pulumi up``.

The limits (none adjustable): KMS key policy 32,768 bytes (KMS Developer Guide, "Creating a key policy"); S3
bucket policy 20 KB (S3 User Guide, "Bucket policies and user policies"); a role's inline policies 10,240
characters together and a managed policy 6,144, white space not counted (IAM User Guide, "IAM and AWS STS
quotas"); an SSM parameter value 4 KB standard, 8 KB advanced (Systems Manager User Guide, "Managing parameter
tiers"). The firing shapes are the ones a 100-service fleet produced before its documents named roles by pattern.
"""

from __future__ import annotations

import json

import pytest

from policies.rules.document_limits import DOCUMENT_SIZE_LIMITS
from policies.testing import UNKNOWN, Provider, Resource

from .platform_shapes import TOOLING
from .rule_cases import document, fires, quiet, unknown

PROD = "222222222222"
PROD_ACCOUNT = Provider({"allowedAccountIds": [PROD]}, name="prod-account")


def readers(count: int, account: str = PROD) -> list[str]:
    return [f"arn:aws:iam::{account}:role/cicd-deploy-service-{number:03d}-prod" for number in range(count)]


def read_statement(count: int) -> dict:
    return {
        "Sid": "DeployAccountReads",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{PROD}:root"},
        "Action": ["kms:Decrypt", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": {"ArnEquals": {"aws:PrincipalArn": readers(count)}},
    }


def key(policy) -> Resource:
    return Resource("aws:kms/key:Key", {"enableKeyRotation": True, "policy": policy}, "artifacts-key")


def bucket_policy(policy) -> Resource:
    return Resource("aws:s3/bucketPolicy:BucketPolicy", {"bucket": "cicd-artifacts", "policy": policy}, "artifacts")


def approvals(count: int) -> str:
    """The release managers' grant as it was: one approval action ARN per prod pipeline, pretty-printed."""
    arns = [
        f"arn:aws:codepipeline:eu-west-1:{TOOLING}:service-{n:03d}-prod/Approve/ReleaseApproval" for n in range(count)
    ]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "codepipeline:PutApprovalResult", "Resource": arns}],
        },
        indent=4,
    )


def iam_size(policy: str) -> int:
    return len("".join(policy.split()))


def role_policy(name: str, policy, role="release-manager", provider=None) -> Resource:
    return Resource(
        "aws:iam/rolePolicy:RolePolicy", {"role": role, "name": name, "policy": policy}, name, None, provider
    )


def managed_policy(policy) -> Resource:
    return Resource("aws:iam/policy:Policy", {"name": "cicd-deploy-extra", "policy": policy}, "deploy-extra")


def parameter(value, tier="Standard") -> Resource:
    props = {"name": "/cicd-platform/prod/coordination/graph", "type": "String", "insecureValue": value, "tier": tier}
    return Resource("aws:ssm/parameter:Parameter", props, "coordination-graph")


BIG_KEY_POLICY = document(read_statement(600))
BIG_BUCKET_POLICY = document(read_statement(400))
GRAPH_13K = json.dumps({"services": {f"service-{n:03d}": {"dependsOn": ["auth"]} for n in range(300)}})
GRAPH_5K = GRAPH_13K[:5000]

TWO_APPROVALS_TOO_MANY = (
    f"the inline policies of role release-manager hold {2 * iam_size(approvals(60)):,} characters "
    "(white space not counted); IAM refuses more than 10,240 per role"
)

CASES = [
    fires(
        DOCUMENT_SIZE_LIMITS,
        "an artifact key policy listing every deploy role of a large fleet",
        key(BIG_KEY_POLICY),
        f"the key policy of artifacts-key is {len(BIG_KEY_POLICY.encode()):,} bytes; KMS refuses more than 32,768",
    ),
    fires(
        DOCUMENT_SIZE_LIMITS,
        "an artifact bucket policy listing every reader",
        bucket_policy(BIG_BUCKET_POLICY),
        f"the bucket policy of artifacts is {len(BIG_BUCKET_POLICY.encode()):,} bytes; S3 refuses more than 20,480",
    ),
    fires(
        DOCUMENT_SIZE_LIMITS,
        "two inline policies of one role that each fit but together pass 10,240 characters",
        [role_policy("approvals-a", approvals(60)), role_policy("approvals-b", approvals(60))],
        TWO_APPROVALS_TOO_MANY,
    ),
    fires(
        DOCUMENT_SIZE_LIMITS,
        "a managed policy over 6,144 characters",
        managed_policy(approvals(75)),
        f"managed policy cicd-deploy-extra holds {iam_size(approvals(75)):,} characters (white space not counted); "
        "IAM refuses more than 6,144",
    ),
    fires(
        DOCUMENT_SIZE_LIMITS,
        "the dependency graph of a large fleet in one advanced parameter",
        parameter(GRAPH_13K, tier="Intelligent-Tiering"),
        f"parameter /cicd-platform/prod/coordination/graph holds {len(GRAPH_13K):,} bytes; no parameter tier holds "
        "more than 8,192",
    ),
    fires(
        DOCUMENT_SIZE_LIMITS,
        "a standard parameter over 4 KB",
        parameter(GRAPH_5K),
        "parameter /cicd-platform/prod/coordination/graph holds 5,000 bytes; a standard-tier parameter holds 4,096",
    ),
    quiet(
        DOCUMENT_SIZE_LIMITS,
        "fleet documents that name roles by pattern, and white space IAM does not count",
        [
            key(document(read_statement(10))),
            bucket_policy(document(read_statement(10))),
            role_policy("approvals", approvals(110)),  # under 10,240 characters without white space, over with it
            parameter(GRAPH_5K, tier="Advanced"),
            parameter(GRAPH_5K, tier="Intelligent-Tiering"),
        ],
    ),
    quiet(
        DOCUMENT_SIZE_LIMITS,
        "roles of the same name in two accounts are two roles",
        [role_policy("approvals", approvals(60)), role_policy("approvals", approvals(60), provider=PROD_ACCOUNT)],
    ),
    unknown(
        DOCUMENT_SIZE_LIMITS,
        "policies and values that depend on ARNs not known during preview",
        [
            key(UNKNOWN),
            bucket_policy(UNKNOWN),
            role_policy("approvals-a", UNKNOWN),
            role_policy("approvals-b", approvals(50), role=UNKNOWN),
            managed_policy(UNKNOWN),
            parameter(UNKNOWN),
            parameter(GRAPH_13K, tier=UNKNOWN),
        ],
    ),
    unknown(
        DOCUMENT_SIZE_LIMITS,
        "one policy of the role is not known yet, but the known ones already pass the limit",
        [role_policy("a", approvals(60)), role_policy("b", approvals(60)), role_policy("c", UNKNOWN)],
        TWO_APPROVALS_TOO_MANY,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_document_size_limits(case):
    case.verify()
