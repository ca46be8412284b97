"""``offline_plan.fleet_stacks``: the stacks CI deploys and checks, read from the same settings as the program."""

from __future__ import annotations

import json

from offline_plan.fleet_stacks import main
from tests.conftest import PROJECT_DIR
from tests.sharded_fleet import THREE_SHARDS, fleet_project


def printed(capsys, *argv: str) -> object:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def test_the_real_platforms_are_whole_and_have_no_shard_jobs(capsys):
    assert printed(capsys, "dev", "prod", "--project-dir", str(PROJECT_DIR)) == []
    assert printed(capsys, "--all", "dev", "prod", "--project-dir", str(PROJECT_DIR)) == [
        {"stack": "dev", "core": "dev"},
        {"stack": "prod", "core": "prod"},
    ]


def test_a_core_lists_its_shard_stacks_in_the_order_of_its_settings(tmp_path, capsys):
    project = str(fleet_project(tmp_path, shards=THREE_SHARDS))
    assert printed(capsys, "prod", "--project-dir", project) == ["prod-commerce", "prod-customer", "prod-insight"]
    assert printed(capsys, "--all", "prod", "--project-dir", project) == [
        {"stack": "prod", "core": "prod"},
        {"stack": "prod-commerce", "core": "prod"},
        {"stack": "prod-customer", "core": "prod"},
        {"stack": "prod-insight", "core": "prod"},
    ]


def test_a_broken_core_fails_the_job_with_the_programs_located_error(tmp_path, capsys):
    project = str(fleet_project(tmp_path, shards=[*THREE_SHARDS, THREE_SHARDS[0]]))
    assert main(["prod", "--project-dir", project]) == 2
    assert capsys.readouterr().err == (
        "error: Pulumi.prod.yaml: field 'cicd-platform:settings': shard 'commerce' is defined more than once\n"
    )
    assert main(["prod-commerce", "--project-dir", str(fleet_project(tmp_path / "ok", shards=THREE_SHARDS))]) == 2
