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
from offline_plan.mocks import AwsMocks
from offline_plan.recorder import RecordingMonitor
from tests.conftest import PROJECT_DIR, stack_settings


class OptionsRecordingMonitor(RecordingMonitor):
    """Also keeps each registration's ``ignoreChanges``, which the plan does not record."""

    def __init__(self, mocks: Any) -> None:
        super().__init__(mocks)
        self.ignored: dict[str, list[str]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        self.ignored[request.name] = list(request.ignoreChanges)
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
    assert not [name for name, kind in types.items() if kind.startswith("gcp:projects/")]


def test_a_non_production_provider_pins_its_github_environment(monitor) -> None:
    (provider,) = [r for r in monitor.recorded if r.name == "gcp-staging-github"]
    assert provider.inputs["attributeCondition"] == (
        "assertion.repository in ['bookwise/pricing'] && assertion.environment == 'staging'"
    )
