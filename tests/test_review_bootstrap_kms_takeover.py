"""Review: the bootstrap role can adopt any KMS key of an environment account, the PCI account's included.

``CreateTaggedPlatformKeys`` allows ``kms:TagResource`` on ``Resource: "*"`` whenever the *request* carries
``managed-by=cicd-platform`` (``aws:RequestTag``). ``aws:RequestTag`` is what the caller sends, not what the key
has (IAM User Guide, "Controlling access during AWS requests" / KMS Developer Guide, "ABAC for AWS KMS"), so the
statement lets the role tag a key it did not create, after which ``ManagePlatformKeys`` (``aws:ResourceTag``)
gives it ``PutKeyPolicy`` and ``ScheduleKeyDeletion`` on that key. Whoever can assume the deployer can then
rewrite the key policy of, or schedule for deletion, the key that encrypts another team's data (for example
cardholder data in the PCI account) - what the permissions boundary work of issue 12 set out to prevent.

Decided with the bootstrap's own IAM evaluator (``bootstrap/coverage.py``), on the policy as rendered for the PCI
account of the prod stack.
"""

from __future__ import annotations

import pytest

from bootstrap.api_calls import ApiCall
from bootstrap.coverage import is_allowed
from bootstrap.permissions import bootstrap_policy, render

PCI_ACCOUNT = "455555555555"
FOREIGN_KEY = f"arn:aws:kms:eu-west-1:{PCI_ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
POLICY = render(bootstrap_policy(), partition="aws", account_id=PCI_ACCOUNT, region="eu-west-1")


def test_control_the_platforms_own_key_is_manageable():
    """The evaluator and the policy work as intended for a key created with the platform's tag (passes)."""
    own = ApiCall("kms:ScheduleKeyDeletion", FOREIGN_KEY, {"aws:ResourceTag/managed-by": "cicd-platform"})
    assert is_allowed(POLICY, own)


def test_a_key_the_platform_did_not_create_cannot_be_tagged_as_the_platforms():
    adopt = ApiCall("kms:TagResource", FOREIGN_KEY, {"aws:RequestTag/managed-by": "cicd-platform"})
    assert not is_allowed(POLICY, adopt), "the bootstrap role may tag any key of the account as its own"


@pytest.mark.parametrize("action", ["kms:PutKeyPolicy", "kms:ScheduleKeyDeletion"])
def test_an_adopted_key_would_be_the_bootstraps_to_rewrite_or_delete(action):
    """What the tag opens (passes today; shows why the tagging above is the hole)."""
    after = ApiCall(action, FOREIGN_KEY, {"aws:ResourceTag/managed-by": "cicd-platform"})
    assert is_allowed(POLICY, after)
