"""Deploy waves per environment for the reference catalog, and the graph the coordination functions read."""

from __future__ import annotations

import json

from components.model.coordination_graph import coordination_graph, coordination_graph_json
from components.model.platform_inputs import load_platform_inputs
from tests.conftest import PROJECT_DIR, stack_settings


def inputs(stack="prod"):
    return load_platform_inputs(stack_settings(stack), stack, PROJECT_DIR)


def test_prod_rolls_out_core_services_first_and_the_frontends_last():
    waves = inputs().deploy_waves()["prod"]
    assert {"auth", "ledger", "inventory"} <= set(waves[0])
    assert waves[-1] == ["web-frontend"]
    position = {name: index for index, wave in enumerate(waves) for name in wave}
    assert position["auth"] < position["payments"] < position["booking"] < position["reviews"]


def test_every_environment_has_waves_for_the_services_deployed_there():
    model = inputs()
    for environment, waves in model.deploy_waves().items():
        deployed = {
            service.name
            for service in model.catalog.services
            if environment in [placed.name for placed in model.environments_for(service)]
        }
        assert {name for wave in waves for name in wave} == deployed


def test_the_graph_parameter_carries_dependencies_environments_and_actions_within_a_standard_parameter():
    model = inputs()
    graph = coordination_graph(model)
    assert graph["services"]["booking"]["dependsOn"] == ["auth", "payments", "inventory", "pricing"]
    assert graph["services"]["mobile-bff"]["onUpstreamDeploy"] == "redeploy"
    assert graph["services"]["auth"]["environments"] == ["dev", "qa", "staging", "prod"]
    assert json.loads(coordination_graph_json(model)) == graph
    assert len(coordination_graph_json(model).encode()) < 4096  # SSM standard tier


def test_event_patterns_name_every_pipeline_exactly_and_split_before_the_eventbridge_quota():
    from components.model.coordination_graph import EVENT_PATTERN_LIMIT, pipeline_event_patterns

    names = [f"service-{index:03d}-{env}" for index in range(200) for env in ("dev", "qa", "staging", "prod")]
    patterns = pipeline_event_patterns(names)
    assert len(patterns) > 1
    assert all(len(json.dumps(pattern)) <= EVENT_PATTERN_LIMIT for pattern in patterns)
    assert sorted(name for pattern in patterns for name in pattern["detail"]["pipeline"]) == sorted(names)
