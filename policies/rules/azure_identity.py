"""Azure identities for CI: exact GitHub federated subjects; no Owner-like roles, no broad scopes.

Federated subjects are compared exactly and case-sensitively by Entra ID; a
``pull_request`` subject lets PR workflows (including forks' PRs on public
repositories) mint tokens, and a production credential should name a GitHub
*environment*, whose protection rules then gate the deploy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import PROD_ENVIRONMENTS_SCHEMA, Config, Props, is_unknown, known_list, resource_rule

FEDERATED_CREDENTIAL = "azure-native:managedidentity:FederatedIdentityCredential"
ROLE_ASSIGNMENT = "azure-native:authorization:RoleAssignment"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"  # noqa: S105 - an audience, not a secret
SUBJECT = re.compile(r"^repo:[^/*:]+/[^/*:]+:(environment:[^*:]+|ref:refs/(heads|tags)/[^*]+)$")
ENVIRONMENT_SUBJECT = re.compile(r"^repo:[^/*:]+/[^/*:]+:environment:(?P<environment>[^*:]+)$")
PRIVILEGED_ROLES = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": "Owner",
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": "User Access Administrator",
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": "Role Based Access Control Administrator",
}
BROAD_SCOPE = re.compile(r"^(/subscriptions/[^/]+|/providers/Microsoft\.Management/managementGroups/[^/]+|/)$", re.I)


def _names_prod(props: Props, config: Config) -> bool:
    prod = set(config.get("prodEnvironments", ()))
    names = [props.get("federatedIdentityCredentialResourceName"), props.get("resourceName")]
    return any(isinstance(n, str) and prod & set(re.split(r"[-_.]", n)) for n in names)


def check_fic_subject(_: str, props: Props, config: Config) -> Iterator[str]:
    issuer, subject, audiences = props.get("issuer"), props.get("subject"), props.get("audiences")
    if not is_unknown(issuer) and issuer != GITHUB_ISSUER:
        yield f"issuer {issuer!r} is not GitHub's ({GITHUB_ISSUER})"
    known_audiences = known_list(audiences)
    if known_audiences is not None and known_audiences != [TOKEN_EXCHANGE_AUDIENCE]:
        yield f"audiences {known_audiences} are not exactly [{TOKEN_EXCHANGE_AUDIENCE!r}]"
    if not isinstance(subject, str) or is_unknown(subject):
        return
    if "pull_request" in subject:
        yield f"subject {subject!r} lets pull-request workflows mint tokens"
    elif not SUBJECT.match(subject):
        yield f"subject {subject!r} is not an exact repo:ORG/REPO:environment:NAME (or ref) subject"
    elif _names_prod(props, config) and not ENVIRONMENT_SUBJECT.match(subject):
        yield f"production credential subject {subject!r} names a branch, not a GitHub environment"


AZURE_FIC_SUBJECT = resource_rule(
    name="azure-fic-subject",
    description="Federated credentials trust GitHub with the token-exchange audience and an exact subject "
    "(a GitHub environment for production); never pull_request or wildcards.",
    level="mandatory",
    resource_types={FEDERATED_CREDENTIAL},
    check=check_fic_subject,
    remediation="Set issuer=https://token.actions.githubusercontent.com, audiences=['api://AzureADTokenExchange'] "
    "and subject='repo:ORG/REPO:environment:NAME'.",
    anchors=("CKV_AZURE_249",),
    config_schema={"prodEnvironments": PROD_ENVIRONMENTS_SCHEMA},
)


def check_role_least_privilege(_: str, props: Props, __: Config) -> Iterator[str]:
    principal_type = props.get("principalType")
    if principal_type not in (None, "ServicePrincipal"):
        return
    role = props.get("roleDefinitionId")
    if isinstance(role, str) and not is_unknown(role):
        name = PRIVILEGED_ROLES.get(role.rstrip("/").rsplit("/", 1)[-1].lower())
        if name:
            yield f"CI identity {props.get('principalId')} is assigned {name}"
    scope = props.get("scope")
    if isinstance(scope, str) and not is_unknown(scope) and BROAD_SCOPE.match(scope):
        yield f"role assignment scope {scope} is a whole subscription or management group (use a resource group)"


AZURE_ROLE_LEAST_PRIVILEGE = resource_rule(
    name="azure-role-least-privilege",
    description="CI identities get no Owner/User Access Administrator role and no subscription-wide scope.",
    level="mandatory",
    resource_types={ROLE_ASSIGNMENT},
    check=check_role_least_privilege,
    remediation="Assign a narrow built-in role (e.g. Website Contributor) on the target resource group.",
    anchors=("PSRule Azure.RBAC.LimitOwner", "CKV_AZURE_39"),
)

RULES = (AZURE_FIC_SUBJECT, AZURE_ROLE_LEAST_PRIVILEGE)
