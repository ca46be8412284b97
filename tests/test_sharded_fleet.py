"""A sharded prod: three shard stacks and a core, planned in parallel, merged, and judged by the pack.

The fixture is the real prod stack with a ``shards`` section (two shards by team, one by a list
of services) and build queues (a fleet for finance, an on-demand limit for discovery). The
same settings without ``shards`` give the whole stack it must be equivalent to.
"""

from __future__ import annotations

import io
import json
import re
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
import yaml

from offline_plan import __main__ as offline_plan_command
from offline_plan.policy_check import evaluate
from offline_plan.recorder import RecordedResource
from offline_plan.report import plan_document
from offline_plan.shards import ProgressLine
from policies import pack_config
from policies.rules.pipeline_shape import QUOTAS
from tests.conftest import PROJECT_DIR, service_entry
from tests.sharded_fleet import THREE_SHARDS, fleet_project
from tests.shared_plans import shared_plan

# make test distributes whole files (--dist loadfile): the command planning a core and three shards runs once.

SHARD_STACKS = [f"prod-{shard['name']}" for shard in THREE_SHARDS]
QUEUES = {
    "finance": {"fleet": {"baseCapacity": 2, "computeType": "BUILD_GENERAL1_MEDIUM"}},
    "discovery": {"concurrentBuildLimit": 4},
}
QUEUE_OF = {"payments": "finance", "ledger": "finance", "invoicing": "finance", "search": "discovery"}
STACK_REFERENCE = "pulumi:pulumi:StackReference"


def fleet_catalog(directory: Path) -> Path:
    raw = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    for service, queue in QUEUE_OF.items():
        service_entry(raw, service)["build_queue"] = queue
    path = directory / "fleet-services.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture(scope="session")
def fleet_run(tmp_path_factory) -> dict[str, Any]:
    """``python -m offline_plan --stack prod`` on the sharded project, as ``make plan STACK=prod`` runs it."""
    root = tmp_path_factory.mktemp("fleet")
    project = fleet_project(root / "project", shards=THREE_SHARDS, settings={"buildQueues": QUEUES})
    catalog = fleet_catalog(root)
    out = root / "out"
    stdout = io.StringIO()
    argv = ["--stack", "prod", "--project-dir", str(project), "--out", str(out), "--catalog", str(catalog)]
    with redirect_stdout(stdout):
        code = offline_plan_command.main([*argv, "--jobs", "2"])
    return {"code": code, "stdout": stdout.getvalue(), "out": out, "catalog": catalog, "project": project}


@pytest.fixture(scope="session")
def whole_document(tmp_path_factory, fleet_run) -> dict[str, Any]:
    """The same fleet (settings, queues, catalog) as one whole stack, as today's users run it.

    Shared by every session with the same inputs (``tests/shared_plans.py``): the project and the catalog are
    written with the same bytes each time, and the fingerprint reads content, not paths.
    """
    project = fleet_project(tmp_path_factory.mktemp("whole") / "project", settings={"buildQueues": QUEUES})
    return plan_document(shared_plan(project, "prod", str(fleet_run["catalog"])))


def plan_file(fleet_run: dict[str, Any], name: str) -> dict[str, Any]:
    return json.loads((fleet_run["out"] / name).read_text())


def cloud_resources(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(type, physical name) → inputs, for what exists in a cloud: no components, providers, stacks or reads."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for entry in document["resources"]:
        if entry["type"].startswith(("pulumi:", "cicd:")):
            continue
        key = (entry["type"], physical_name(entry))
        assert key not in found, f"two resources declare {key}"
        found[key] = entry["inputs"]
    return found


def physical_name(entry: dict[str, Any]) -> str:
    """The name the resource has in its cloud, where its inputs fix one; else its logical name."""
    inputs = entry["inputs"]
    for key in ("name", "bucket", "alarmName", "roleName", "functionName", "workloadIdentityPoolId", "accountId"):
        if isinstance(inputs.get(key), str):
            return f"{inputs[key]} ({entry['name']})"
    return entry["name"]


def recorded(document: dict[str, Any]) -> list[RecordedResource]:
    return [
        RecordedResource(
            urn=entry["urn"],
            type=entry["type"],
            name=entry["name"],
            parent=entry["parent"],
            provider=entry["provider"],
            custom=not entry["type"].startswith("cicd:") and entry["type"] != "pulumi:pulumi:Stack",
            inputs=entry["inputs"],
            dependencies=tuple(entry["dependencies"]),
        )
        for entry in document["resources"]
    ]


def test_make_plan_of_a_sharded_prod_writes_the_merged_plan_and_one_per_stack(fleet_run):
    assert fleet_run["code"] == 0, fleet_run["stdout"]
    written = sorted(path.name for path in fleet_run["out"].glob("plan-*.json"))
    assert written == sorted(["plan-prod.json", "plan-prod.core.json", *(f"plan-{s}.json" for s in SHARD_STACKS)])
    merged = plan_file(fleet_run, "plan-prod.json")
    assert merged["stack"] == "prod"
    assert merged["summary"]["violations"]["mandatory"] == 0
    for stack in SHARD_STACKS:
        assert plan_file(fleet_run, f"plan-{stack}.json")["stack"] == stack
    # stdout is not a terminal here: no progress line, only the summary and where each stack's plan went.
    assert "\r" not in fleet_run["stdout"]
    assert "stacks of the fleet (3 shards, planned in parallel):" in fleet_run["stdout"]


def test_the_merged_plan_says_where_a_sharded_plans_time_went(fleet_run):
    summary = plan_file(fleet_run, "plan-prod.json")["summary"]
    phases = summary["phaseSeconds"]
    assert set(phases) == {"core", "shards", "merge"}, "make bench reads these to show a fleet's wall time"
    assert all(seconds > 0 for seconds in phases.values())
    assert sum(phases.values()) <= summary["durationSeconds"] + 0.01
    core = plan_file(fleet_run, "plan-prod.core.json")["summary"]["phaseSeconds"]
    assert set(core) == {"inputs", "program", "policy"}, "each stack's own plan keeps its own phases"


def test_merged_plan_keeps_the_unsharded_shape(fleet_run, whole_document):
    merged = plan_file(fleet_run, "plan-prod.json")
    assert list(merged) == list(whole_document)
    assert list(merged["summary"]) == list(whole_document["summary"])
    for key in ("pipelines", "deployOrder", "deployWaves", "buildQueues", "resourcesByService"):
        if key == "resourcesByService":
            # Each shard brings its own providers (not cloud resources); services count the same.
            services = {k: v for k, v in merged["summary"][key].items() if k != "(shared)"}
            assert services == {k: v for k, v in whole_document["summary"][key].items() if k != "(shared)"}
        else:
            assert merged["summary"][key] == whole_document["summary"][key], key
    whole_outputs = whole_document["outputs"]
    assert {key: merged["outputs"][key] for key in whole_outputs} == whole_outputs


def test_merged_plan_declares_the_same_cloud_resources_as_the_whole_stack(fleet_run, whole_document):
    """Type, physical name and inputs of every cloud resource: splitting the fleet changes nothing in any cloud."""
    merged, whole = cloud_resources(plan_file(fleet_run, "plan-prod.json")), cloud_resources(whole_document)
    assert sorted(merged) == sorted(whole)
    differing = [key for key in whole if merged[key] != whole[key]]
    assert differing == []
    assert Counter(kind for kind, _ in whole)["aws:codebuild/fleet:Fleet"] == 1


def test_values_a_shard_reads_from_its_core_resolve_to_the_whole_stacks(fleet_run, whole_document):
    """ARNs with generated parts (artifact key, connection) reach the shards through the StackReference."""
    whole = cloud_resources(whole_document)
    core_outputs = plan_file(fleet_run, "plan-prod.core.json")["outputs"]["shardInterface"]
    through_reference = 0
    for stack in SHARD_STACKS:
        document = plan_file(fleet_run, f"plan-{stack}.json")
        (reference,) = [e for e in document["resources"] if e["type"] == STACK_REFERENCE]
        assert reference["inputs"]["name"] == "organization/cicd-platform/prod"
        assert reference["inputs"]["outputs"]["shardInterface"] == core_outputs
        for entry in document["resources"]:
            if reference["urn"] in entry["dependencies"] and not entry["type"].startswith(("cicd:", "pulumi:")):
                through_reference += 1
                assert entry["inputs"] == whole[(entry["type"], physical_name(entry))], entry["urn"]
    assert through_reference > 100
    build = whole[("aws:codebuild/project:Project", "booking-build (booking-build-project)")]
    assert build["encryptionKey"] == core_outputs["artifactKeyArn"]
    assert re.fullmatch(r"arn:aws:kms:eu-west-1:123456789012:key/[0-9a-f-]{36}", build["encryptionKey"])


def test_state_move_lands_every_resource_of_the_whole_stack_on_its_shard_urn(fleet_run, whole_document):
    """``pulumi state move --source prod --dest prod-<shard>`` re-parents a moved resource whose parent stays
    behind to the destination's root stack, and copies its provider likewise (pulumi state_move.go); the shard
    declares exactly those URNs, so moving a whole stack's services into shards replaces nothing."""
    by_name = {(entry["type"], entry["name"]): entry["urn"] for entry in whole_document["resources"]}
    for stack in SHARD_STACKS:
        for entry in plan_file(fleet_run, f"plan-{stack}.json")["resources"]:
            if entry["type"] in ("pulumi:pulumi:Stack", STACK_REFERENCE):
                continue
            _, project, chain, name = by_name[(entry["type"], entry["name"])].split("::")
            moved = entry["type"] if entry["type"].startswith("pulumi:providers:") else chain
            moved = moved.removeprefix("cicd:platform:Platform$")
            assert entry["urn"] == f"urn:pulumi:{stack}::{project}::{moved}::{name}"


def test_the_sharded_fleet_passes_the_pack_like_the_whole_stack(fleet_run, whole_document):
    def findings(document):
        return Counter((v["level"], v["policy"]) for v in document["policy"]["violations"])

    assert findings(plan_file(fleet_run, "plan-prod.json")) == findings(whole_document)
    assert not [v for v in whole_document["policy"]["violations"] if v["level"] == "mandatory"]


def test_each_shard_alone_passes_the_stack_rules_as_its_own_pulumi_preview_would(fleet_run):
    """A real ``pulumi preview -s prod-<shard> --policy-pack`` judges one shard; it must not fail for what its core
    owns (the alarm topics, the gate, the ledger)."""
    for stack in SHARD_STACKS:
        violations = evaluate(recorded(plan_file(fleet_run, f"plan-{stack}.json")), resource_rules=())
        assert [v for v in violations if v.level == "mandatory"] == [], stack


def test_quotas_count_pipelines_across_shards_in_one_tooling_account(fleet_run):
    """Every shard is under the limit; the fleet, in one account and region, is not."""
    per_shard = {stack: recorded(plan_file(fleet_run, f"plan-{stack}.json")) for stack in SHARD_STACKS}
    largest = max(
        sum(r.type == "aws:codepipeline/pipeline:Pipeline" for r in resources) for resources in per_shard.values()
    )
    config = pack_config.parse({"quotas": {"maxPipelinesPerRegion": largest}})
    for stack, resources in per_shard.items():
        assert not [v for v in evaluate(resources, resource_rules=(), stack_rules=(QUOTAS,), config=config)], stack
    merged = [r for resources in per_shard.values() for r in resources]
    total = sum(r.type == "aws:codepipeline/pipeline:Pipeline" for r in merged)
    (finding,) = evaluate(merged, resource_rules=(), stack_rules=(QUOTAS,), config=config)
    assert finding.message == f"{total} pipelines in account 123456789012 in eu-west-1 (quota {largest})"


def test_the_core_runs_one_gate_and_one_coordinator_for_every_shards_pipelines(fleet_run):
    core = plan_file(fleet_run, "plan-prod.core.json")
    # The graph is an index and its parts (each within SSM's standard tier): every shard's service is in a part.
    graph = "/cicd-platform/prod/coordination/graph"
    parts = [e for e in core["resources"] if str(e["inputs"].get("name", "")).startswith(f"{graph}-part-")]
    services = {name for part in parts for name in json.loads(part["inputs"]["insecureValue"])["services"]}
    catalog = yaml.safe_load(fleet_run["catalog"].read_text())
    assert services == {s["name"] for s in catalog["services"]}
    patterns = " ".join(
        e["inputs"]["eventPattern"]
        for e in core["resources"]
        if e["type"] == "aws:cloudwatch/eventRule:EventRule" and "pipeline-events" in e["name"]
    )
    gate = core["outputs"]["shardInterface"]["deployGateFunctionName"]
    for stack in SHARD_STACKS:
        for entry in plan_file(fleet_run, f"plan-{stack}.json")["resources"]:
            if entry["type"] != "aws:codepipeline/pipeline:Pipeline":
                continue
            assert f'"{entry["inputs"]["name"]}"' in patterns
            (deploy,) = [stage for stage in entry["inputs"]["stages"] if stage["name"] == "Deploy"]
            gates = [
                rule["configuration"]["FunctionName"]
                for rule in deploy["beforeEntry"]["condition"]["rules"]
                if rule["ruleTypeId"]["provider"] == "LambdaInvoke"
            ]
            assert gates == [gate] == ["cicd-prod-deploy-gate"]


def test_the_plan_lists_build_queues_and_who_builds_there(fleet_run):
    queues = plan_file(fleet_run, "plan-prod.json")["summary"]["buildQueues"]
    assert queues["finance"] == {
        "kind": "fleet",
        "fleet": {"baseCapacity": 2, "computeType": "BUILD_GENERAL1_MEDIUM", "overflowBehavior": "QUEUE"},
        "services": ["invoicing", "ledger", "payments"],
    }
    assert queues["discovery"] == {"kind": "on-demand-limited", "concurrentBuildLimit": 4, "services": ["search"]}
    assert "payments" not in queues["standard"]["services"]
    assert (
        "finance: fleet of 2 BUILD_GENERAL1_MEDIUM, overflow QUEUE — invoicing, ledger, payments"
        in (fleet_run["stdout"])
    )
    # The fleet belongs to the shard whose services build on it.
    commerce = plan_file(fleet_run, "plan-prod-commerce.json")
    (fleet,) = [e for e in commerce["resources"] if e["type"] == "aws:codebuild/fleet:Fleet"]
    assert fleet["inputs"]["name"] == "cicd-prod-finance"
    assert fleet["urn"] == "urn:pulumi:prod-commerce::cicd-platform::aws:codebuild/fleet:Fleet::build-queue-finance"


def test_the_merged_plan_holds_every_stack_of_the_fleet_once(fleet_run):
    merged = plan_file(fleet_run, "plan-prod.json")["resources"]
    stacks = Counter(e["urn"].split("::")[0] for e in merged if e["type"] == "pulumi:pulumi:Stack")
    assert stacks == Counter({f"urn:pulumi:{s}": 1 for s in ["prod", *SHARD_STACKS]})
    parts = [
        plan_file(fleet_run, name)["resources"]
        for name in ["plan-prod.core.json", *(f"plan-{s}.json" for s in SHARD_STACKS)]
    ]
    assert [e["urn"] for e in merged] == sorted(e["urn"] for part in parts for e in part)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_progress_line_is_drawn_only_on_a_terminal():
    terminal, pipe = Terminal(), io.StringIO()
    for stream in (terminal, pipe):
        line = ProgressLine(stream, total=3)
        line.show(1, 1234)
        line.show(2, 2345)
        line.clear()
    assert pipe.getvalue() == ""
    drawn = terminal.getvalue()
    assert "\rplanning shards: 1/3 done, 1,234 resources" in drawn
    assert "\rplanning shards: 2/3 done, 2,345 resources" in drawn
    assert drawn.endswith("\r")


def test_build_projects_run_where_their_queue_says(fleet_run):
    projects = {
        e["inputs"]["name"]: e["inputs"]
        for e in plan_file(fleet_run, "plan-prod.json")["resources"]
        if e["type"] == "aws:codebuild/project:Project"
    }
    on_fleet = projects["payments-build"]
    assert re.fullmatch(
        r"arn:aws:codebuild:eu-west-1:123456789012:fleet/cicd-prod-finance:[0-9a-f-]{36}",
        on_fleet["environment"]["fleet"]["fleetArn"],
    )
    # CodeBuild runs a fleet project's builds on the fleet's machines: the project asks for their size.
    assert on_fleet["environment"]["computeType"] == "BUILD_GENERAL1_MEDIUM"
    assert "concurrentBuildLimit" not in on_fleet
    assert projects["search-build"]["concurrentBuildLimit"] == 4
    assert "fleet" not in projects["search-build"]["environment"]
    for standard in ("booking-build", "payments-scan", "search-scan"):
        # The standard queue, and every scan project (six scans start at once), keep on-demand capacity unlimited.
        assert "concurrentBuildLimit" not in projects[standard], standard
        assert "fleet" not in projects[standard]["environment"], standard
        assert projects[standard]["environment"]["computeType"] == "BUILD_GENERAL1_SMALL", standard


def test_a_review_plans_a_sharded_core_as_its_merged_fleet(fleet_run, tmp_path):
    """`make plan-diff` on a sharded core compares the merged fleet, the plan `make plan` writes for it."""
    import argparse

    from offline_plan.review import _plan_working_tree

    args = argparse.Namespace(
        stack="prod",
        catalog=str(fleet_run["catalog"]),
        policy_config=None,
        out=tmp_path,
        project_dir=fleet_run["project"],
        jobs=2,
    )
    document, _warnings, _cached = _plan_working_tree(args, fleet_run["project"])
    merged = plan_file(fleet_run, "plan-prod.json")
    assert [r["urn"] for r in document["resources"]] == [r["urn"] for r in merged["resources"]]
    assert sorted(path.name for path in tmp_path.glob("plan-prod-*.json")) == sorted(
        f"plan-{stack}.json" for stack in SHARD_STACKS
    )
