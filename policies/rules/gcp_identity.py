"""GCP identities for CI: Workload Identity Federation pinned to one repository, no keys, no admin roles.

GitHub uses one OIDC issuer for every repository on github.com, so a pool
provider without an attribute condition, or one that pins only the owner,
lets other repositories impersonate the service account (Google's WIF
guidance). The service-account binding must name one repository's
principalSet, never the whole pool. A role meant for one service's resources
(``roles/run.developer``, per Cloud Run's "Access control with IAM" grantable
on a single service) held by a service account on the whole project lets one
service's deploy identity replace every other service's revisions there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from .base import Config, Props, as_list, dig, is_unknown, resource_rule, shown
from .cel_condition import Clause, UnreadableConditionError, conjunction

POOL_PROVIDER = "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider"
SA_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember"
SA_BINDING = "gcp:serviceaccount/iAMBinding:IAMBinding"
SA_KEY = "gcp:serviceaccount/key:Key"
PROJECT_MEMBER = "gcp:projects/iAMMember:IAMMember"
PROJECT_BINDING = "gcp:projects/iAMBinding:IAMBinding"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
WORKLOAD_IDENTITY_USER = "roles/iam.workloadIdentityUser"
NAMED_REPOSITORY = re.compile(r"^[^'\"*/\s]+/[^'\"*/\s]+$")
REPOSITORY_ATTRIBUTES = ("assertion.repository", "attribute.repository")
REPOSITORY_PRINCIPAL_SET = re.compile(
    r"^principalSet://iam\.googleapis\.com/projects/[^/]+/locations/global/workloadIdentityPools/[^/]+"
    r"/attribute\.repository/[^/*]+/[^/*]+$"
)
SUBJECT_PRINCIPAL = re.compile(
    r"^principal://iam\.googleapis\.com/projects/[^/]+/locations/global/workloadIdentityPools/[^/]+/subject/[^*]+$"
)
ADMIN_ROLE = re.compile(r"^roles/(owner|editor|.*[Aa]dmin(istrator)?)$")


def _members(resource_type: str, props: Props) -> list[str]:
    if resource_type in (SA_BINDING, PROJECT_BINDING):
        return [str(m) for m in as_list(props.get("members")) if not is_unknown(m)]
    member = props.get("member")
    return [member] if isinstance(member, str) and not is_unknown(member) else []


# wif-provider-condition


def _pins_repository(clause: Clause) -> bool:
    """``assertion.repository == 'ORG/REPO'`` or ``... in ['ORG/REPO', ...]``, every entry a named repository."""
    return (
        clause.attribute in REPOSITORY_ATTRIBUTES
        and clause.operator in ("==", "in")
        and all(NAMED_REPOSITORY.match(value) for value in clause.values)
    )


def check_provider_condition(_: str, props: Props, __: Config) -> Iterator[str]:
    issuer = dig(props, "oidc", "issuerUri")
    if not isinstance(issuer, str) or issuer.rstrip("/") != GITHUB_ISSUER:
        return
    condition = props.get("attributeCondition")
    if is_unknown(condition):
        return
    provider = props.get("workloadIdentityPoolProviderId")
    if not condition:
        yield (
            f"provider {provider} trusts GitHub's issuer with no attribute_condition: "
            "every GitHub repository can use it"
        )
        return
    try:
        clauses = conjunction(str(condition))
    except UnreadableConditionError as error:
        yield (
            f"provider {provider} condition {condition!r} is not a conjunction of clauses the pack can read "
            f"({error}), so nothing shows it admits only named repositories"
        )
        return
    if not any(_pins_repository(clause) for clause in clauses):
        yield (
            f"provider {provider} condition {condition!r} does not pin assertion.repository "
            "to named ORG/REPO repositories"
        )


WIF_PROVIDER_CONDITION = resource_rule(
    name="wif-provider-condition",
    description="A GitHub workload identity provider's attribute condition is a conjunction (&&) one of whose clauses "
    "pins the repository, not just the owner; a condition the pack cannot parse fails closed.",
    level="mandatory",
    resource_types={POOL_PROVIDER},
    check=check_provider_condition,
    remediation="Set attribute_condition=\"assertion.repository == 'ORG/REPO'\" (or `in [...]`), joining further "
    "requirements (environment, ref) with && only: no ||, negation or functions other than startsWith/endsWith.",
    anchors=("CKV_GCP_118", "CKV_GCP_125"),
)


# wif-binding-scoped


def check_binding_scoped(resource_type: str, props: Props, _: Config) -> Iterator[str]:
    if props.get("role") != WORKLOAD_IDENTITY_USER:
        return
    for member in _members(resource_type, props):
        if "workloadIdentityPools" not in member:
            continue
        if not (REPOSITORY_PRINCIPAL_SET.match(member) or SUBJECT_PRINCIPAL.match(member)):
            yield f"workloadIdentityUser granted to {member}: not one repository (attribute.repository/ORG/REPO)"


WIF_BINDING_SCOPED = resource_rule(
    name="wif-binding-scoped",
    description="roles/iam.workloadIdentityUser goes to one repository's principalSet, never the whole pool.",
    level="mandatory",
    resource_types={SA_MEMBER, SA_BINDING},
    check=check_binding_scoped,
    remediation="Use member='principalSet://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/"
    "POOL/attribute.repository/ORG/REPO'.",
    anchors=("Google Workload Identity Federation guidance",),
)


# gcp-no-sa-keys


def check_no_sa_keys(_: str, props: Props, __: Config) -> Iterator[str]:
    yield f"service account key for {shown(props.get('serviceAccountId'))}: a long-lived credential (use federation)"


GCP_NO_SA_KEYS = resource_rule(
    name="gcp-no-sa-keys",
    description="No user-managed service account keys: CI reaches GCP through Workload Identity Federation.",
    level="mandatory",
    resource_types={SA_KEY},
    check=check_no_sa_keys,
    remediation="Delete the key; let GitHub Actions authenticate with google-github-actions/auth and WIF.",
    anchors=("CKV2_GCP_3",),
)


# gcp-sa-no-admin


def check_sa_no_admin(resource_type: str, props: Props, config: Config) -> Iterator[str]:
    role = props.get("role")
    if not isinstance(role, str) or is_unknown(role):
        return
    admin, service_scoped = ADMIN_ROLE.match(role), role in set(config.get("serviceScopedRoles", ()))
    if not (admin or service_scoped):
        return
    for member in _members(resource_type, props):
        if not member.startswith("serviceAccount:"):
            continue
        account = member.split(":", 1)[1]
        if admin:
            yield f"service account {account} holds {role} on project {props.get('project')}"
        else:
            yield (
                f"service account {account} holds {role} on the whole project {props.get('project')}: "
                "grant it on the one resource it deploys"
            )


GCP_SA_NO_ADMIN = resource_rule(
    name="gcp-sa-no-admin",
    description="Service accounts hold no owner, editor or *Admin role on a project, and no role meant for one "
    "service's resources (roles/run.developer) project-wide.",
    level="mandatory",
    resource_types={PROJECT_MEMBER, PROJECT_BINDING},
    check=check_sa_no_admin,
    remediation="Grant the predefined role for the job on the resource it needs (roles/run.developer on the Cloud Run "
    "service, roles/artifactregistry.writer on the repository).",
    anchors=("CKV_GCP_42", "CKV_GCP_117"),
    config_schema={
        "serviceScopedRoles": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["roles/run.developer"],
            "description": "Roles a service account may hold only on a single resource, never on a whole project.",
        }
    },
)

RULES = (WIF_PROVIDER_CONDITION, WIF_BINDING_SCOPED, GCP_NO_SA_KEYS, GCP_SA_NO_ADMIN)
