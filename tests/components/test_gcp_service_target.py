"""One service's GCP target under Pulumi mocks, with the resource options the engine would be given."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.gcp.environment import GcpEnvironment, GcpEnvironmentArgs
from components.gcp.service_target import GcpServiceTarget, GcpServiceTargetArgs
from components.model.platform_inputs import load_platform_inputs
from offline_plan.gcp_mocks import project_number
from offline_plan.mocks import AwsMocks
from offline_plan.recorder import RecordingMonitor
from tests.conftest import PROJECT_DIR, stack_settings


class OptionsRecordingMonitor(RecordingMonitor):
    """Also keeps each registration's ``ignoreChanges`` and ``deleteBeforeReplace``, which the plan does not record."""

    def __init__(self, mocks: Any) -> None:
        super().__init__(mocks)
        self.ignored: dict[str, list[str]] = {}
        self.delete_before_replace: dict[str, bool] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.ignored[request.name] = list(request.ignoreChanges)
        self.delete_before_replace[request.name] = request.deleteBeforeReplace
        return super().RegisterResource(request)


@pytest.fixture(scope="module")
def monitor() -> OptionsRecordingMonitor:
    inputs = load_platform_inputs(stack_settings("prod"), "prod", PROJECT_DIR)
    environment = inputs.settings.environment("staging")
    service = inputs.catalog.service("pricing")
    mocks = AwsMocks(tooling_account_id=inputs.settings.tooling_account_id, region=inputs.settings.region)
    recording = OptionsRecordingMonitor(mocks)
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="cicd-platform", stack="prod", preview=False, monitor=recording)

    def program() -> None:
        project = GcpEnvironment("gcp-staging", GcpEnvironmentArgs("prod", environment, (service.repository,)))
        GcpServiceTarget("pricing-staging-gcp", GcpServiceTargetArgs("prod", service, environment, project))

    _sync_await(run_pulumi_func(program))
    return recording


def test_pulumi_leaves_what_each_deploy_changes_to_the_workflow(monitor) -> None:
    """Without it every pulumi up would put Google's placeholder image back in front of live traffic."""
    assert set(monitor.ignored["pricing-staging-gcp-service"]) >= {"template", "traffics", "client", "clientVersion"}


def test_the_deploy_role_is_bound_on_the_service_and_nothing_is_bound_on_the_project(monitor) -> None:
    types = {r.name: r.type for r in monitor.recorded}
    assert types["pricing-staging-gcp-deploy-revisions"] == "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
    # No project-wide grant (the service agent's identity, gcp:projects/serviceIdentity, grants nothing).
    assert not [name for name, kind in types.items() if kind.startswith("gcp:projects/iAM")]


def test_a_non_production_provider_pins_its_github_environment(monitor) -> None:
    (provider,) = [r for r in monitor.recorded if r.name == "gcp-staging-github"]
    assert provider.inputs["attributeCondition"] == (
        "assertion.repository in ['bookwise/pricing'] && assertion.environment == 'staging'"
    )


def test_the_repository_is_encrypted_with_the_environments_key_in_its_own_location(monitor) -> None:
    """Artifact Registry, "Enabling customer-managed encryption keys": the key is in the repository's location."""
    by_name = {r.name: r for r in monitor.recorded}
    repository = by_name["pricing-staging-gcp-images"]
    key, ring = by_name["gcp-staging-artifact-key"], by_name["gcp-staging-key-ring"]
    assert repository.inputs["kmsKeyName"] == (
        "projects/bookwise-staging-5e08/locations/europe-west1/keyRings/cicd-prod-staging/cryptoKeys/artifact-registry"
    )
    assert ring.inputs["location"] == repository.inputs["location"] == "europe-west1"
    assert (
        key.inputs["keyRing"]
        == f"projects/bookwise-staging-5e08/locations/{ring.inputs['location']}/keyRings/cicd-prod-staging"
    )
    assert key.inputs["purpose"] == "ENCRYPT_DECRYPT"
    assert key.inputs["rotationPeriod"] == "7776000s"  # 90 days


def test_only_the_artifact_registry_service_agent_may_use_the_key_and_the_repository_waits_for_it(monitor) -> None:
    """The service agent exists only after a project's first repository unless it is created first
    (Artifact Registry, "Artifact Registry Service Agent"), and a repository cannot be created with a key
    its agent may not use: so agent, then grant, then repository."""
    by_name = {r.name: r for r in monitor.recorded}
    agent, grant = by_name["gcp-staging-artifact-registry-agent"], by_name["gcp-staging-artifact-key-agent"]
    assert agent.type == "gcp:projects/serviceIdentity:ServiceIdentity"
    assert agent.inputs["service"] == "artifactregistry.googleapis.com"
    assert grant.type == "gcp:kms/cryptoKeyIAMMember:CryptoKeyIAMMember"
    assert grant.inputs["role"] == "roles/cloudkms.cryptoKeyEncrypterDecrypter"
    assert grant.inputs["cryptoKeyId"] == by_name["pricing-staging-gcp-images"].inputs["kmsKeyName"]
    number = project_number("bookwise-staging-5e08")
    assert grant.inputs["member"] == f"serviceAccount:service-{number}@gcp-sa-artifactregistry.iam.gserviceaccount.com"
    assert agent.urn in grant.dependencies
    assert grant.urn in by_name["pricing-staging-gcp-images"].dependencies


def test_a_change_of_key_replaces_the_repository_old_one_first(monitor) -> None:
    """Artifact Registry cannot change a repository's encryption; the fixed id makes create-before-delete fail."""
    assert monitor.delete_before_replace["pricing-staging-gcp-images"] is True
