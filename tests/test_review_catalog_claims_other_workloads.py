"""Review: one catalog entry can claim another team's workload or identity in a shared account.

Service teams change the platform only through a catalog entry (README: "they only edit one YAML entry"), and
several services share an environment account (every ECS service of the reference catalog runs in the shared
prod account). Nothing checks that what an entry names is its own: a new entry may name another service's
task role as its ``task_role`` (its deploy role is then granted ``iam:PassRole`` on it, and its own
``taskdef.json`` runs with the other service's permissions), or name another service's ECS service, Lambda
function or Auto Scaling groups as its target (its pipeline, run from its own repository, deploys into them).
The catalog loads, and the plan has no finding.
"""

from __future__ import annotations

import copy

import pytest
import yaml

from components.model.errors import PlatformInputError
from components.model.platform_inputs import load_platform_inputs
from tests.conftest import PROJECT_DIR, service_entry, stack_settings


def load(catalog_raw, tmp_path):
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(catalog_raw))
    return load_platform_inputs(stack_settings("prod"), "prod", PROJECT_DIR, str(path))


def newcomer(catalog_raw, **aws_changes):
    entry = copy.deepcopy(service_entry(catalog_raw, "user-profiles"))
    entry.update(name="newcomer", owner="team-newcomers", repository="bookwise/newcomer", depends_on=[])
    entry["aws"] = {**entry["aws"], "service": "newcomer", "target_groups": ["newcomer-blue", "newcomer-green"]}
    entry["aws"].update(aws_changes)
    return entry


def test_an_entry_naming_another_services_task_role_is_refused(catalog_raw, tmp_path):
    auth_task_role = "auth-task"  # auth's default: '<ECS service>-task'
    catalog_raw["services"].append(newcomer(catalog_raw, task_role=auth_task_role))
    with pytest.raises(PlatformInputError):
        load(catalog_raw, tmp_path)  # today it loads: newcomer's deploy role may pass auth-task


def test_an_entry_targeting_another_services_ecs_service_is_refused(catalog_raw, tmp_path):
    catalog_raw["services"].append(newcomer(catalog_raw, cluster="bookwise-core", service="auth"))
    with pytest.raises(PlatformInputError):
        load(catalog_raw, tmp_path)


def test_an_entry_targeting_another_services_lambda_function_is_refused(catalog_raw, tmp_path):
    lambda_service = next(e for e in catalog_raw["services"] if e["aws"]["platform"] == "Lambda")
    entry = copy.deepcopy(lambda_service)
    entry.update(name="newcomer", owner="team-newcomers", repository="bookwise/newcomer", depends_on=[])
    entry.pop("environments", None)
    entry.pop("accounts", None)
    catalog_raw["services"].append(entry)
    with pytest.raises(PlatformInputError):
        load(catalog_raw, tmp_path)
