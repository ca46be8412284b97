"""Shards and build queues in the stack settings: how a stack knows its role, and every mistake located."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from components.model.errors import PlatformInputError
from components.model.platform_inputs import load_platform_inputs
from components.model.sharding import StackRole
from offline_plan.stack_config import read_stack_config
from tests.conftest import PROJECT_DIR, service_entry, stack_settings
from tests.sharded_fleet import THREE_SHARDS, fleet_project

COMMERCE = ["booking", "payments", "ledger", "invoicing", "pricing", "currency-rates"]


def load(project: Path, stack: str = "prod", catalog: str | None = None):
    config = read_stack_config(project, stack, "cicd-platform")
    raw = config.values.get("cicd-platform:settings")
    return load_platform_inputs(json.loads(raw) if raw is not None else None, stack, project, catalog)


def refused(project: Path, stack: str = "prod", catalog: str | None = None) -> str:
    with pytest.raises(PlatformInputError) as caught:
        load(project, stack, catalog)
    message = str(caught.value)
    assert "\n" not in message
    return message


def shards(**changes) -> list[dict]:
    """THREE_SHARDS with one shard's entry replaced (by name), or new ones added."""
    listed = {shard["name"]: dict(shard) for shard in THREE_SHARDS}
    for name, entry in changes.items():
        if entry is None:
            listed.pop(name)
        else:
            listed[name] = {"name": name, **entry}
    return list(listed.values())


def test_the_real_stacks_stay_whole(project_dir):
    for stack in ("dev", "prod"):
        inputs = load_platform_inputs(stack_settings(stack), stack, project_dir)
        assert inputs.stack_role == StackRole.whole(stack)
        assert [s.name for s in inputs.declared_services] == inputs.catalog.deploy_order
        assert set(inputs.build_queue_summary()) == {"standard"}


def test_a_stack_with_shards_is_the_core_and_declares_no_service(tmp_path):
    inputs = load(fleet_project(tmp_path, shards=THREE_SHARDS))
    assert inputs.stack_role == StackRole("core", "prod")
    assert inputs.declared_services == ()


def test_a_shard_stack_needs_no_file_and_runs_with_its_cores_settings(tmp_path):
    project = fleet_project(tmp_path, shards=THREE_SHARDS)
    assert not (project / "Pulumi.prod-insight.yaml").exists()
    inputs = load(project, "prod-insight")
    assert inputs.stack_role == StackRole("shard", "prod", "insight")
    # Names and tags stay the fleet's: the shard's resources are named as in a whole prod.
    assert inputs.stack == "prod"
    assert [s.name for s in inputs.declared_services] == ["search", "recommendations", "reporting"]


def test_team_shards_hold_every_service_their_teams_own(tmp_path):
    inputs = load(fleet_project(tmp_path, shards=THREE_SHARDS), "prod-customer")
    owners = {s.owner for s in inputs.declared_services}
    assert owners == set(THREE_SHARDS[1]["teams"])


def test_a_shard_stack_file_may_set_its_provider_but_not_its_own_settings(tmp_path):
    project = fleet_project(tmp_path, shards=THREE_SHARDS)
    (project / "Pulumi.prod-commerce.yaml").write_text(yaml.safe_dump({"config": {"aws:region": "eu-west-1"}}))
    assert load(project, "prod-commerce").stack_role.shard == "commerce"
    (project / "Pulumi.prod-commerce.yaml").write_text(
        yaml.safe_dump({"config": {"cicd-platform:settings": stack_settings("prod")}})
    )
    assert refused(project).startswith(
        "Pulumi.prod-commerce.yaml: field 'cicd-platform:settings': is shard 'commerce' of stack prod, which takes "
        "its settings from Pulumi.prod.yaml"
    )


def test_a_stack_named_like_a_shard_of_no_core_is_missing_its_settings(tmp_path):
    project = fleet_project(tmp_path, shards=THREE_SHARDS)
    # Offline, the stack file is read first; on the real path the engine hands the program no settings.
    assert refused(project, "prod-nosuch") == "Pulumi.prod-nosuch.yaml: file not found"
    with pytest.raises(PlatformInputError) as caught:
        load_platform_inputs(None, "prod-nosuch", project)
    assert str(caught.value).startswith(
        "Pulumi.prod-nosuch.yaml: field 'cicd-platform:settings': required but missing (see README: Stack settings); "
        "a shard stack <core>-<shard> needs a core stack file Pulumi.<core>.yaml whose settings list the shard"
    )


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        (
            shards(insight={"services": ["search", "recommendations", "reporting", "payments"]}),
            "Pulumi.prod.yaml: shard 'insight': field 'cicd-platform:settings.shards[2]': service 'payments' "
            "(owner team-payments) is also in shard 'commerce'; a service belongs to exactly one shard",
        ),
        (
            shards(insight={"services": ["search", "recommendations"]}),
            "Pulumi.prod.yaml: field 'cicd-platform:settings.shards': service 'reporting' (owner team-data) is in no "
            "shard; add it, or its team, to one",
        ),
        (
            shards(insight={"services": ["search", "recommendations", "reporting"], "teams": ["team-dat"]}),
            "Pulumi.prod.yaml: shard 'insight': field 'cicd-platform:settings.shards[2].teams[0]': no service in "
            "catalog/services.yaml is owned by 'team-dat'",
        ),
        (
            shards(insight={"services": ["search", "recommendation", "reporting"]}),
            "Pulumi.prod.yaml: shard 'insight': field 'cicd-platform:settings.shards[2].services[1]': "
            "catalog/services.yaml has no service 'recommendation'",
        ),
        (
            shards(core={"services": ["search"]}),
            "Pulumi.prod.yaml: shard 'core': field 'cicd-platform:settings': 'core' is reserved",
        ),
        (
            shards(insight={}),
            "Pulumi.prod.yaml: shard 'insight': field 'cicd-platform:settings': name the shard's teams, services or "
            "both",
        ),
        (
            [*THREE_SHARDS, THREE_SHARDS[2]],
            "Pulumi.prod.yaml: field 'cicd-platform:settings': shard 'insight' is defined more than once",
        ),
        (
            shards(insight={**THREE_SHARDS[2], "toolingAccountId": "999999999999"}),
            "Pulumi.prod.yaml: field 'cicd-platform:settings': shard 'insight' sets toolingAccountId 999999999999, "
            "but a shard can only live where the core does (123456789012) for now",
        ),
        (
            shards(insight={**THREE_SHARDS[2], "region": "us-east-1"}),
            "shard 'insight' sets region us-east-1, but a shard can only live where the core does (eu-west-1)",
        ),
        (
            shards(insight={**THREE_SHARDS[2], "name": "Insight"}),
            "Pulumi.prod.yaml: shard 'Insight': field 'cicd-platform:settings.name': String should match pattern",
        ),
    ],
    ids=[
        "in two shards",
        "in no shard",
        "unknown team",
        "unknown service",
        "reserved name",
        "empty shard",
        "repeated shard",
        "own tooling account",
        "own region",
        "bad name",
    ],
)
def test_shard_mistakes_are_refused_with_their_place(tmp_path, entries, expected):
    message = refused(fleet_project(tmp_path, shards=entries))
    assert expected in message, message


def test_the_same_tooling_account_may_be_named_explicitly(tmp_path):
    entries = shards(insight={**THREE_SHARDS[2], "toolingAccountId": "123456789012", "region": "eu-west-1"})
    assert load(fleet_project(tmp_path, shards=entries), "prod-insight").declared_services


# -- build queues ----------------------------------------------------------------------------------------------


def catalog_with(tmp_path: Path, queues: dict[str, str]) -> str:
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    for service, queue in queues.items():
        service_entry(raw, service)["build_queue"] = queue
    path = tmp_path / "services.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_a_service_names_a_queue_the_stack_defines(tmp_path):
    project = fleet_project(tmp_path / "p", settings={"buildQueues": {"finance": {"concurrentBuildLimit": 3}}})
    catalog = catalog_with(tmp_path, {"payments": "finanse"})
    assert refused(project, catalog=catalog) == (
        f"{catalog}: service 'payments': field 'build_queue': build queue 'finanse' is not defined by the stack "
        "(it defines finance, standard; add it to buildQueues in Pulumi.prod.yaml)"
    )


def test_queues_are_listed_with_their_capacity_and_services(tmp_path):
    queues = {
        "finance": {"fleet": {"baseCapacity": 3, "overflowBehavior": "ON_DEMAND"}},
        "discovery": {"concurrentBuildLimit": 2},
    }
    project = fleet_project(tmp_path / "p", settings={"buildQueues": queues})
    catalog = catalog_with(tmp_path, {"payments": "finance", "ledger": "finance", "search": "discovery"})
    summary = load(project, catalog=catalog).build_queue_summary()
    assert summary["finance"] == {
        "kind": "fleet",
        "fleet": {"baseCapacity": 3, "computeType": "BUILD_GENERAL1_SMALL", "overflowBehavior": "ON_DEMAND"},
        "services": ["ledger", "payments"],
    }
    assert summary["discovery"] == {"kind": "on-demand-limited", "concurrentBuildLimit": 2, "services": ["search"]}
    assert summary["standard"]["kind"] == "on-demand"
    assert "payments" not in summary["standard"]["services"]


@pytest.mark.parametrize(
    ("queue", "expected"),
    [
        (
            {"fleet": {"baseCapacity": 2}, "concurrentBuildLimit": 2},
            "build queue 'finance': field 'cicd-platform:settings': a queue is either a fleet or on demand with "
            "concurrentBuildLimit, not both",
        ),
        ({"fleet": {"baseCapacity": 0}}, "field 'cicd-platform:settings.fleet.baseCapacity': Input should be"),
        (
            {"fleet": {"baseCapacity": 1, "computeType": "BUILD_GENERAL1_HUGE"}},
            "field 'cicd-platform:settings.fleet.computeType': Input should be",
        ),
        (
            {"fleet": {"baseCapacity": 1, "overflowBehavior": "SPILL"}},
            "field 'cicd-platform:settings.fleet.overflowBehavior'",
        ),
        ({"concurrentBuildLimit": 0}, "field 'cicd-platform:settings.concurrentBuildLimit': Input should be"),
    ],
    ids=["fleet and limit", "empty fleet", "unknown compute type", "unknown overflow", "zero limit"],
)
def test_queue_mistakes_are_refused_with_their_place(tmp_path, queue, expected):
    message = refused(fleet_project(tmp_path, settings={"buildQueues": {"finance": queue}}))
    assert message.startswith("Pulumi.prod.yaml: build queue 'finance': "), message
    assert expected in message, message


def test_a_fleet_belongs_to_the_one_shard_whose_services_build_on_it(tmp_path):
    queues = {"finance": {"fleet": {"baseCapacity": 2}}}
    project = fleet_project(tmp_path / "p", shards=THREE_SHARDS, settings={"buildQueues": queues})
    catalog = catalog_with(tmp_path, {"payments": "finance", "search": "finance"})
    assert refused(project, catalog=catalog) == (
        "Pulumi.prod.yaml: build queue 'finance': field 'cicd-platform:settings.buildQueues.finance.fleet': the fleet "
        "serves services of shards commerce, insight; a fleet is created by the one shard stack whose services build "
        "on it, so give each shard a queue of its own"
    )
    # An on-demand limit is per project: services of any shards may share it.
    shared = fleet_project(tmp_path / "q", shards=THREE_SHARDS, settings={"buildQueues": {"finance": {}}})
    assert load(shared, catalog=catalog).stack_role.kind == "core"


def test_a_mistake_found_in_a_shards_worker_process_reaches_the_command_whole():
    """Shards are planned in worker processes; their errors cross back pickled."""
    import pickle

    error = PlatformInputError("Pulumi.prod.yaml", "is in no shard", subject="shard 'x'", field="shards")
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again), again.field, again.subject) == (
        PlatformInputError,
        str(error),
        "shards",
        "shard 'x'",
    )


def test_planning_a_shard_alone_points_to_its_core(tmp_path):
    """A shard's plan needs its core's outputs; the core's plan writes every shard's."""
    from offline_plan.shards import plan_fleet

    project = fleet_project(tmp_path / "p", shards=THREE_SHARDS)
    with pytest.raises(PlatformInputError) as caught:
        plan_fleet(
            project,
            "prod-commerce",
            None,
            policy_config=PROJECT_DIR / "policies" / "policy-config.json",
            out_dir=tmp_path,
        )
    assert str(caught.value) == (
        "Pulumi.prod-commerce.yaml: is shard 'commerce' of stack prod: `make plan STACK=prod` plans the core and "
        "every shard, and writes this one's plan to plan-prod-commerce.json"
    )
    assert (
        plan_fleet(
            fleet_project(tmp_path / "w"),
            "prod",
            None,
            policy_config=PROJECT_DIR / "policies" / "policy-config.json",
            out_dir=tmp_path,
        )
        is None
    )
