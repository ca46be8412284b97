"""Review: iam-github-oidc and wif-provider-condition (mandatory) read a repository name anywhere in the condition,
whatever the operator around it, so conditions that admit every GitHub repository pass.

- AWS: ``StringNotEquals``/``StringNotLike`` on ``token.actions.githubusercontent.com:sub`` match every token
  *but* the named one (IAM User Guide, "IAM JSON policy elements: Condition operators", negated matching); GitHub
  uses one issuer for every repository on github.com (GitHub Docs, "About security hardening with OpenID Connect"),
  so the role can be assumed from any repository in the world. The rule takes the value, sees
  ``repo:ORG/REPO:...`` and is quiet.
- GCP: the pool's CEL condition is searched for ``assertion.repository == 'ORG/REPO'``; an ``||`` next to it
  (``... || assertion.repository_owner == 'bookwise'``, or ``|| true``) admits other repositories and the
  search still finds the pinned part (Google Cloud, "Workload identity federation: attribute conditions").
"""

from __future__ import annotations

import json

import pytest

from policies.rules.gcp_identity import WIF_PROVIDER_CONDITION
from policies.rules.iam import IAM_GITHUB_OIDC

SUB = "token.actions.githubusercontent.com:sub"


def github_trust(condition):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {
                        "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
                    },
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": condition,
                }
            ],
        }
    )


def test_control_no_sub_condition_is_reported():
    assert IAM_GITHUB_OIDC.violations("aws:iam/role:Role", {"assumeRolePolicy": github_trust({})})


@pytest.mark.parametrize(
    "condition",
    [
        pytest.param({"StringNotEquals": {SUB: "repo:bookwise/auth:ref:refs/heads/main"}}, id="not-equals"),
        pytest.param({"StringNotLike": {SUB: "repo:bookwise/auth:*"}}, id="not-like"),
    ],
)
def test_a_negated_sub_condition_that_admits_every_repository_is_reported(condition):
    assert IAM_GITHUB_OIDC.violations("aws:iam/role:Role", {"assumeRolePolicy": github_trust(condition)}) != []


@pytest.mark.parametrize(
    "condition",
    [
        "assertion.repository == 'bookwise/auth' || assertion.repository_owner == 'bookwise'",
        "assertion.repository == 'bookwise/auth' || true",
    ],
)
def test_a_pool_condition_with_an_alternative_to_the_repository_is_reported(condition):
    props = {
        "workloadIdentityPoolProviderId": "github",
        "oidc": {"issuerUri": "https://token.actions.githubusercontent.com"},
        "attributeCondition": condition,
    }
    assert WIF_PROVIDER_CONDITION.violations("gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider", props)
