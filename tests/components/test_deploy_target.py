"""``CICD_DEPLOY_TARGET``: one environment's clouds merged into one byte-stable JSON object.

The value is what a no-op ``pulumi up`` compares, so the same targets must give the same bytes whatever order the
clouds or their keys come in; and a team on the manual path sets it with ``jq -cS '."SERVICE".ENV | add'`` from the
``cloudDeployTargets`` output, which must print exactly those bytes.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from components.github.deploy_environments import DEPLOY_TARGET_VARIABLE, merged_deploy_target

GCP = {
    "GCP_PROJECT_ID": "bookwise-prod-91bd",
    "GCP_REGION": "europe-west1",
    "GCP_WORKLOAD_IDENTITY_PROVIDER": "projects/1/locations/global/workloadIdentityPools/github-prod/providers/github",
    "GCP_SERVICE_ACCOUNT": "deploy-pricing-prod@bookwise-prod-91bd.iam.gserviceaccount.com",
    "GCP_RUNTIME_SERVICE_ACCOUNT": "run-pricing-prod@bookwise-prod-91bd.iam.gserviceaccount.com",
    "GCP_ARTIFACT_REPOSITORY": "pricing-prod",
    "CLOUD_RUN_SERVICE": "pricing-prod",
    "SERVICE_NAME": "pricing",
}
AZURE = {
    "AZURE_CLIENT_ID": "0b7e2f0c-1d2e-4f3a-9b8c-7d6e5f4a3b2c",
    "AZURE_TENANT_ID": "6f1c2d3e-4a5b-4c7d-8e9f-0a1b2c3d4e5f",
    "AZURE_SUBSCRIPTION_ID": "9c3b1e07-5d2a-4f6e-8a1b-2c3d4e5f6a70",
    "AZURE_RESOURCE_GROUP": "rg-pricing-prod",
    "AZURE_CONTAINER_REGISTRY": "crpricingprod",
    "AZURE_RUNTIME_IDENTITY_ID": "/subscriptions/9c3b/resourceGroups/rg-pricing-prod/id-pricing-prod-runtime",
    "AZURE_CONTAINER_APP": "pricing-prod",
    "SERVICE_NAME": "pricing",
}


def test_the_variable_is_the_platforms_own_name() -> None:
    assert DEPLOY_TARGET_VARIABLE == "CICD_DEPLOY_TARGET"


def test_two_clouds_give_one_object_with_the_shared_service_name_once() -> None:
    text = merged_deploy_target({"gcp": GCP, "azure": AZURE})
    merged = json.loads(text)
    assert merged == GCP | AZURE
    assert text.count('"SERVICE_NAME"') == 1


def test_the_bytes_do_not_depend_on_the_order_of_clouds_or_keys() -> None:
    reversed_gcp = dict(reversed(list(GCP.items())))
    reversed_azure = dict(reversed(list(AZURE.items())))
    first = merged_deploy_target({"gcp": GCP, "azure": AZURE})
    assert merged_deploy_target({"azure": reversed_azure, "gcp": reversed_gcp}) == first
    assert " " not in first and first.startswith('{"AZURE_CLIENT_ID":')
    assert list(json.loads(first)) == sorted(GCP | AZURE)


def test_clouds_that_disagree_on_a_shared_key_are_an_error_not_a_silent_pick() -> None:
    with pytest.raises(ValueError, match="SERVICE_NAME differs between clouds"):
        merged_deploy_target({"gcp": GCP, "azure": AZURE | {"SERVICE_NAME": "pricing-v2"}})


@pytest.mark.skipif(shutil.which("jq") is None, reason="jq is what the manual path (README) uses")
@pytest.mark.parametrize("clouds", [("gcp",), ("azure",), ("gcp", "azure")])
def test_the_manual_jq_command_prints_the_same_bytes(clouds: tuple[str, ...]) -> None:
    values = {"gcp": GCP, "azure": AZURE}
    output = {"pricing": {"prod": {cloud: values[cloud] for cloud in clouds}}}
    printed = subprocess.run(
        ["jq", "-cS", '."pricing".prod | add'], input=json.dumps(output), capture_output=True, text=True, check=True
    ).stdout.strip()
    assert printed == merged_deploy_target({cloud: values[cloud] for cloud in clouds})
