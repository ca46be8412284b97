"""Review: a pipeline is created without waiting for the cross-account deploy role its Deploy action names.

CreatePipeline/UpdatePipeline check that the pipeline role can assume every action's ``roleArn`` and refuse
the pipeline otherwise (``InvalidStructureException: ... is not authorized to perform AssumeRole on role``;
the error users of the Terraform provider behind pulumi-aws hit, hashicorp/terraform-provider-aws#13103,
aws/aws-cdk#11353). The pipeline waits for the CodeDeploy application and group of the same target (it reads
their names) but nothing orders it after ``cicd-deploy-<service>-<env>``, which the target component creates in
parallel in the environment account (a component's ``depends_on`` does not reach its children, and the
pipeline depends on the group, not the role). On a first ``pulumi up`` the pipeline and the role race, and
IAM's eventual consistency makes the race worse.

"Waits for" is what the engine enforces: a resource's dependencies, its parent's (a child registers after
its parent), transitively.
"""

from __future__ import annotations

import json

import pytest

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
ROLE = "aws:iam/role:Role"


@pytest.fixture(params=["dev", "prod"])
def plan(request):
    return request.getfixturevalue(f"{request.param}_plan")


def waits_for(plan):
    by_urn = {r.urn: r for r in plan.resources}
    memo: dict[str, set[str]] = {}

    def closure(urn: str) -> set[str]:
        if urn in memo:
            return memo[urn]
        memo[urn] = set()
        resource = by_urn.get(urn)
        if resource is None:
            return memo[urn]
        direct = set(resource.dependencies) | ({resource.parent} if resource.parent else set())
        found = set(direct)
        for other in direct:
            found |= closure(other)
        memo[urn] = found
        return found

    return closure


def role_resources(plan):
    """(account id, role name) -> URN of the aws.iam.Role that creates it."""
    providers = {r.urn: r for r in plan.resources if r.type == "pulumi:providers:aws"}
    found = {}
    for resource in plan.resources:
        if resource.type != ROLE:
            continue
        provider = providers.get(resource.provider)
        accounts = (
            json.loads(provider.inputs["allowedAccountIds"]) if provider else [plan.inputs.settings.tooling_account_id]
        )
        found[(accounts[0], resource.inputs["name"])] = resource.urn
    return found


def test_every_pipeline_waits_for_the_action_roles_it_names(plan):
    closure = waits_for(plan)
    roles = role_resources(plan)
    missing = []
    for pipeline in (r for r in plan.resources if r.type == PIPELINE):
        for stage in pipeline.inputs["stages"]:
            for action in stage["actions"]:
                arn = action.get("roleArn")
                if not arn:
                    continue
                account, name = arn.split(":")[4], arn.rsplit("/", 1)[-1]
                role_urn = roles.get((account, name))
                assert role_urn, f"{arn} is not created by this stack"
                if role_urn not in closure(pipeline.urn):
                    missing.append(f"{pipeline.inputs['name']} -> {name}")
    assert not missing, f"{len(missing)} pipelines can be created before their deploy role, e.g. {missing[:3]}"
