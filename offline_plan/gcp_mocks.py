"""How Google Cloud would answer, for the resources and calls the program uses.

Ids and output names follow the real formats: resource *ids* carry the project
id, while workload identity pools and providers report their ``name`` with the
project *number* (that is the form ``google-github-actions/auth`` wants). The
number is derived from the project id, and ``getProject`` returns the same one,
so principal sets and provider names agree within a plan and between runs.
"""

from __future__ import annotations

import hashlib
from typing import Any

PROVIDER_TYPE = "pulumi:providers:gcp"
GET_PROJECT = "gcp:organizations/getProject:getProject"


def project_number(project_id: str) -> str:
    """A stable 12-digit project number for a project id (real numbers are opaque integers)."""
    return str(100000000000 + int(hashlib.sha256(project_id.encode()).hexdigest(), 16) % 900000000000)


def _digits(*parts: str, length: int) -> str:
    value = int(hashlib.sha256("/".join(parts).encode()).hexdigest(), 16)
    return str(value)[:length]


def provider_location(inputs: dict[str, Any]) -> tuple[str, str]:
    return str(inputs.get("project") or ""), str(inputs.get("region") or "")


def resource_state(
    typ: str, name: str, inputs: dict[str, Any], project: str, region: str
) -> tuple[str, dict[str, Any]] | None:
    """(id, outputs) for a GCP resource, or ``None`` for a type this mock does not shape."""
    project = str(inputs.get("project") or project)
    number = project_number(project)
    state = dict(inputs)
    state.setdefault("project", project)
    if typ == "gcp:iam/workloadIdentityPool:WorkloadIdentityPool":
        pool = inputs["workloadIdentityPoolId"]
        state.update(name=f"projects/{number}/locations/global/workloadIdentityPools/{pool}", state="ACTIVE")
        return f"projects/{project}/locations/global/workloadIdentityPools/{pool}", state
    if typ == "gcp:iam/workloadIdentityPoolProvider:WorkloadIdentityPoolProvider":
        pool, provider = inputs["workloadIdentityPoolId"], inputs["workloadIdentityPoolProviderId"]
        path = f"locations/global/workloadIdentityPools/{pool}/providers/{provider}"
        state.update(name=f"projects/{number}/{path}", state="ACTIVE")
        return f"projects/{project}/{path}", state
    if typ == "gcp:serviceaccount/account:Account":
        email = f"{inputs['accountId']}@{project}.iam.gserviceaccount.com"
        resource_id = f"projects/{project}/serviceAccounts/{email}"
        state.update(
            email=email,
            name=resource_id,
            member=f"serviceAccount:{email}",
            uniqueId="1" + _digits(project, email, length=20),
        )
        return resource_id, state
    if typ == "gcp:artifactregistry/repository:Repository":
        location, repository = str(inputs.get("location") or region), inputs["repositoryId"]
        state.update(
            name=repository,
            location=location,
            registryUri=f"{location}-docker.pkg.dev/{project}/{repository}",
        )
        return f"projects/{project}/locations/{location}/repositories/{repository}", state
    if typ == "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember":
        return _iam_member(state, f"{inputs['repository']}/{inputs['role']}/{inputs['member']}")
    if typ == "gcp:serviceaccount/iAMMember:IAMMember":
        return _iam_member(state, f"{inputs['serviceAccountId']}/{inputs['role']}/{inputs['member']}")
    if typ == "gcp:projects/iAMMember:IAMMember":
        return _iam_member(state, f"{project}/{inputs['role']}/{inputs['member']}")
    if typ == "gcp:cloudrunv2/service:Service":
        location, service = str(inputs.get("location") or region), inputs["name"]
        resource_id = f"projects/{project}/locations/{location}/services/{service}"
        state.update(
            location=location,
            uid=_digits(resource_id, length=12),
            uri=f"https://{service}-{number}.{location}.run.app",
        )
        return resource_id, state
    if typ == "gcp:projects/serviceIdentity:ServiceIdentity":
        # Service agents are named after the service's short name (IAM docs, "Service agents").
        agent = str(inputs["service"]).split(".", 1)[0]
        email = f"service-{number}@gcp-sa-{agent}.iam.gserviceaccount.com"
        state.update(email=email, member=f"serviceAccount:{email}")
        return f"projects/{project}/services/{inputs['service']}", state
    if typ == "gcp:kms/keyRing:KeyRing":
        location = str(inputs.get("location") or region)
        resource_id = f"projects/{project}/locations/{location}/keyRings/{inputs['name']}"
        state.update(location=location)
        return resource_id, state
    if typ == "gcp:kms/cryptoKey:CryptoKey":
        return f"{inputs['keyRing']}/cryptoKeys/{inputs['name']}", state
    if typ == "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember":
        return _iam_member(state, f"{inputs['cryptoKeyId']}/{inputs['role']}/{inputs['member']}")
    if typ == "gcp:cloudrunv2/serviceIamMember:ServiceIamMember":
        service = f"projects/{project}/locations/{inputs['location']}/services/{inputs['name']}"
        return _iam_member(state, f"{service}/{inputs['role']}/{inputs['member']}")
    return None


def _iam_member(state: dict[str, Any], resource_id: str) -> tuple[str, dict[str, Any]]:
    state["etag"] = "BwY" + hashlib.sha256(resource_id.encode()).hexdigest()[:9]
    return resource_id, state


def get_project(args: dict[str, Any], provider_project: str) -> dict[str, Any]:
    project = str(args.get("projectId") or provider_project)
    return {"id": f"projects/{project}", "projectId": project, "number": project_number(project), "name": project}
