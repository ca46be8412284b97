"""Review: iam-no-admin and iam-no-privesc (both mandatory) miss grants that IAM evaluates as admin or privesc.

IAM evaluates ``NotAction`` as "every action but these" and ``NotResource`` as "every resource but these"
(IAM User Guide, "IAM JSON policy elements: NotAction" / "NotResource"); a Resource
``arn:aws:iam::<account>:role/*`` or ``arn:aws:iam::<account>:*`` names every role of the account. The rules
only look for the literal ``"*"`` resource and skip NotAction statements altogether, so each policy below,
every one of which lets its holder become administrator, passes both mandatory rules.
"""

from __future__ import annotations

import json

import pytest

from policies.rules.iam import IAM_NO_ADMIN, IAM_NO_PRIVESC

ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
ACCOUNT = "123456789012"


def props(statement):
    return {
        "role": "cicd-pipeline-auth",
        "name": "p",
        "policy": json.dumps({"Version": "2012-10-17", "Statement": [statement]}),
    }


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, id="everything-but-s3-on-star"),
        pytest.param(
            {"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::nothing"},
            id="star-on-every-resource-but-one",
        ),
    ],
)
def test_admin_spelled_with_not_action_or_not_resource_is_reported(statement):
    assert IAM_NO_ADMIN.violations(ROLE_POLICY, props(statement)) != []


@pytest.mark.parametrize(
    "statement",
    [
        pytest.param(
            {"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, id="not-action-covers-iam-put-role-policy"
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "iam:PassRole", "NotResource": f"arn:aws:iam::{ACCOUNT}:role/x"},
            id="pass-role-on-every-role-but-one",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "iam:PassRole", "Resource": f"arn:aws:iam::{ACCOUNT}:*"},
            id="pass-role-on-every-iam-resource",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "iam:PutRolePolicy", "Resource": f"arn:aws:iam::{ACCOUNT}:role/*"},
            id="put-role-policy-on-every-role",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": f"arn:aws:iam::{ACCOUNT}:role/*"},
            id="attach-role-policy-on-every-role",
        ),
        pytest.param(
            {"Effect": "Allow", "Action": "iam:CreateAccessKey", "Resource": f"arn:aws:iam::{ACCOUNT}:user/*"},
            id="access-keys-for-every-user",
        ),
    ],
)
def test_privilege_escalation_on_every_principal_of_the_account_is_reported(statement):
    assert IAM_NO_PRIVESC.violations(ROLE_POLICY, props(statement)) != []
