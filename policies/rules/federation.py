"""keyless-federation: CI reaches every cloud through OIDC federation, never through stored keys.

An IAM access key, a GCP service account key or an Azure client secret is a
long-lived credential that leaks with the first compromised runner or log.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from .base import Config, PolicyResource, stack_rule

LONG_LIVED_CREDENTIALS = {
    "aws:iam/accessKey:AccessKey": "IAM access key",
    "aws:iam/userLoginProfile:UserLoginProfile": "IAM console password",
    "aws:iam/serviceSpecificCredential:ServiceSpecificCredential": "IAM service-specific credential",
    "gcp:serviceaccount/key:Key": "GCP service account key",
    "azuread:index/applicationPassword:ApplicationPassword": "Azure AD application client secret",
    "azuread:index/servicePrincipalPassword:ServicePrincipalPassword": "Azure AD service principal secret",
    "azuread:index/applicationCertificate:ApplicationCertificate": "Azure AD application certificate",
}


def check_keyless(resources: Sequence[PolicyResource], _: Config) -> Iterator[tuple[str | None, str]]:
    for resource in resources:
        kind = LONG_LIVED_CREDENTIALS.get(resource.type)
        if kind:
            yield resource.urn, f"{resource.name} is a long-lived {kind}: CI must authenticate through OIDC federation"


KEYLESS_FEDERATION = stack_rule(
    name="keyless-federation",
    description="No IAM access keys, GCP service account keys or Azure client secrets for CI.",
    level="mandatory",
    check=check_keyless,
    remediation="Use the GitHub OIDC roles (AWS), Workload Identity Federation (GCP) and federated identity "
    "credentials (Azure) instead.",
    anchors=("CKV_AWS_273", "CKV2_GCP_3"),
)

RULES = (KEYLESS_FEDERATION,)
