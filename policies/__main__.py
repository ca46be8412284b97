"""The cicd-platform CrossGuard pack: `pulumi preview --policy-pack policies`.

Only assembles the pack; the rules live in ``rules/`` as plain functions.
"""

from crossguard import policies
from pulumi_policy import PolicyPack
from rules import RESOURCE_RULES, STACK_RULES, PolicyResource

PolicyPack(
    name="cicd-platform",
    policies=policies(RESOURCE_RULES, STACK_RULES, PolicyResource),
    description="CI/CD governance: pipeline shape, roles and accounts, and the resources pipelines use.",
)
