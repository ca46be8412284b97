"""identity-pinned-environment: a cloud trusts a GitHub token only from the GitHub environment it serves.

Anchor: GitHub's "OpenID Connect reference": a job that runs in an environment
gets a token whose ``environment`` claim (and ``sub``,
``repo:ORG/REPO:environment:NAME``) names it, and only jobs the environment's
protection rules admit run there. A GCP workload identity
provider that checks only the repository, or an Azure federated credential
whose subject is a branch, lets any branch or workflow of the repository sign
in, a pull request's workflow included, so the environment's reviewers and
branch policy guard nothing. That holds outside production too: the dev and
staging accounts deploy the same code paths prod will.

It is a stack rule because "the environment it serves" is known only from the
resource's surroundings: a GCP provider's environment is the ``environment``
label of the explicit provider it is created through (its project), an Azure
credential's is the ``environment`` tag of the managed identity it belongs to.
Where those are not in the stack or not known yet, the rule still requires that
*some* environment is pinned.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from .base import Config, PolicyResource, as_mapping, dig, is_unknown, json_value, stack_rule

POOL_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
GCP_PROVIDER = "pulumi:providers:gcp"
FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
USER_ASSIGNED_IDENTITY = "azure-native:managedidentity:UserAssignedIdentity"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
PINNED_ENVIRONMENT = re.compile(r"""(?:assertion|attribute)\.environment\s*==\s*['"](?P<name>[^'"*\s]+)['"]""")
ENVIRONMENT_SUBJECT = re.compile(r"^repo:[^/*:]+/[^/*:]+:environment:(?P<name>[^*:]+)$")

Findings = Iterator[tuple[str | None, str]]


def _from_github(issuer: object) -> bool:
    return isinstance(issuer, str) and issuer.rstrip("/") == GITHUB_ISSUER


def _known_environment(value: object) -> str | None:
    return value if isinstance(value, str) and value and not is_unknown(value) else None


def _provider_environments(resources: Sequence[PolicyResource]) -> dict[str, str]:
    """GCP provider URN → the ``environment`` of its default labels (the project's environment)."""
    environments: dict[str, str] = {}
    for resource in resources:
        if resource.type == GCP_PROVIDER:
            labels = as_mapping(json_value(resource.props.get("defaultLabels")))
            environment = _known_environment(labels.get("environment"))
            if environment:
                environments[resource.urn] = environment
    return environments


def _gcp_findings(resources: Sequence[PolicyResource]) -> Findings:
    served_by = _provider_environments(resources)
    for resource in resources:
        if resource.type != POOL_PROVIDER or not _from_github(dig(resource.props, "oidc", "issuerUri")):
            continue
        condition = resource.props.get("attributeCondition")
        if is_unknown(condition):
            continue
        provider = resource.props.get("workloadIdentityPoolProviderId")
        pinned = PINNED_ENVIRONMENT.findall(condition) if isinstance(condition, str) else []
        if not pinned:
            yield (
                resource.urn,
                f"workload identity provider {provider} ({resource.name}) accepts a GitHub token from any branch or "
                "workflow of its repositories: its attribute condition does not pin assertion.environment",
            )
        elif "||" in condition:
            yield (
                resource.urn,
                f"workload identity provider {provider} ({resource.name}) pins the GitHub environment only on one "
                f"side of '||' in {condition!r}: the other side admits any environment",
            )
        else:
            serves = served_by.get(resource.provider or "")
            if serves and set(pinned) != {serves}:
                yield (
                    resource.urn,
                    f"workload identity provider {provider} ({resource.name}) in the {serves} project pins GitHub "
                    f"environment {', '.join(sorted(set(pinned)))}, not {serves}",
                )


def _identity_environments(resources: Sequence[PolicyResource]) -> dict[tuple[str, str], str]:
    """(resource group, identity name) → the identity's ``environment`` tag."""
    environments: dict[tuple[str, str], str] = {}
    for resource in resources:
        if resource.type == USER_ASSIGNED_IDENTITY:
            group, name = resource.props.get("resourceGroupName"), resource.props.get("resourceName")
            environment = _known_environment(dig(resource.props, "tags", "environment"))
            if _known_environment(group) and _known_environment(name) and environment:
                environments[(str(group), str(name))] = environment
    return environments


def _azure_findings(resources: Sequence[PolicyResource]) -> Findings:
    belongs_to = _identity_environments(resources)
    for resource in resources:
        if resource.type != FEDERATED_CREDENTIAL:
            continue
        issuer, subject = resource.props.get("issuer"), resource.props.get("subject")
        if not (_from_github(issuer) or is_unknown(issuer)) or not isinstance(subject, str) or is_unknown(subject):
            continue
        credential = resource.props.get("federatedIdentityCredentialResourceName") or resource.name
        match = ENVIRONMENT_SUBJECT.match(subject)
        if not match:
            yield (
                resource.urn,
                f"federated credential {credential} trusts subject {subject!r}, not a GitHub environment "
                "(repo:ORG/REPO:environment:NAME)",
            )
            continue
        identity = (resource.props.get("resourceGroupName"), resource.props.get("resourceName"))
        serves = belongs_to.get(identity) if all(_known_environment(part) for part in identity) else None
        if serves and match["name"] != serves:
            yield (
                resource.urn,
                f"federated credential {credential} of a {serves} identity trusts GitHub environment "
                f"{match['name']}, not {serves}",
            )


def check_pinned_environment(resources: Sequence[PolicyResource], _: Config) -> Findings:
    yield from _gcp_findings(resources)
    yield from _azure_findings(resources)


IDENTITY_PINNED_ENVIRONMENT = stack_rule(
    name="identity-pinned-environment",
    description="Every GCP workload identity provider and Azure federated credential for GitHub pins the GitHub "
    "environment it serves, in every environment.",
    level="mandatory",
    check=check_pinned_environment,
    remediation="Add \"&& assertion.environment == 'ENV'\" to the provider's attribute_condition, and use the subject "
    "'repo:ORG/REPO:environment:ENV' for federated credentials; run the deploy job in that GitHub environment.",
    anchors=("GitHub OpenID Connect reference (environment claim)",),
)

RULES = (IDENTITY_PINNED_ENVIRONMENT,)
