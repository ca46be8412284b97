"""Builders for the stages of one environment pipeline, one function per stage.

The stage layout is the contract in DESIGN.md: Source → Build → (Scan) →
(Approve) → Deploy → (Verify). Features contribute actions and rules through
``EnvironmentPipelineArgs``; each stage is assembled here, so adding a stage or
a gate touches one place.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pulumi

from ..model import branch_pattern, naming
from ..model.catalog import Service
from ..model.settings import Environment
from .conditions import Rule, condition

Action = Mapping[str, object]
Stage = dict[str, object]

SOURCE_ACTION = "Source"
SOURCE_ARTIFACT = "source_output"
BUILD_ARTIFACT = "build_output"
IMAGE_ARTIFACT = "image_output"
"""The platform's image build's output: ``imageDetail.json`` naming the pushed image by digest."""
AFTER_UNIT_TESTS = 2


def source_branch(service: Service, environment: Environment) -> str:
    """The branch a manual 'Release change' builds: the pattern itself when it is one branch."""
    return environment.branch if branch_pattern.is_literal(environment.branch) else service.default_branch


def codebuild_variables(variables: Mapping[str, pulumi.Input[str]]) -> pulumi.Output[str]:
    """CodeBuild action ``EnvironmentVariables``: a JSON list, as the action configuration wants it."""
    return pulumi.Output.all(**variables).apply(
        lambda resolved: json.dumps([{"name": k, "value": v, "type": "PLAINTEXT"} for k, v in sorted(resolved.items())])
    )


def source_stage(service: Service, environment: Environment, connection_arn: pulumi.Input[str]) -> Stage:
    return {
        "name": "Source",
        "actions": [
            {
                "name": SOURCE_ACTION,
                "category": "Source",
                "owner": "AWS",
                "provider": "CodeStarSourceConnection",
                "version": "1",
                "namespace": "SourceVariables",
                "output_artifacts": [SOURCE_ARTIFACT],
                "configuration": {
                    "ConnectionArn": connection_arn,
                    "FullRepositoryId": service.repository,
                    "BranchName": source_branch(service, environment),
                    "OutputArtifactFormat": "CODE_ZIP",
                },
            }
        ],
    }


def image_tag(service: Service, environment: Environment) -> str | None:
    """Container tag of this run: commit, environment and execution, unique even when one commit is
    rebuilt for another environment (the repository's tags are immutable). None for non-container builds.

    The platform's image build pushes under it; the team's build never sees it (it pushes nothing).
    """
    if service.aws.platform != "ECS":
        return None
    return f"#{{SourceVariables.CommitId}}-{environment.name}-#{{codepipeline.PipelineExecutionId}}"


def build_stage(
    service: Service,
    environment: Environment,
    build_project_name: pulumi.Input[str],
    image_build_project_name: pulumi.Input[str] | None = None,
) -> Stage:
    """The team's build and unit tests, then (containers) the platform's image build of what they produced.

    The image build runs after the unit tests (a higher run order), so a commit whose tests fail is never
    imaged, and reads the build's output: the ``Dockerfile`` at its root and the context it copies.
    """
    actions: list[Action] = [
        {
            "name": "BuildAndUnitTest",
            "category": "Build",
            "owner": "AWS",
            "provider": "CodeBuild",
            "version": "1",
            "namespace": "BuildVariables",
            "input_artifacts": [SOURCE_ARTIFACT],
            "output_artifacts": [BUILD_ARTIFACT],
            "configuration": {
                "ProjectName": build_project_name,
                "EnvironmentVariables": codebuild_variables({"TARGET_ENVIRONMENT": environment.name}),
            },
        }
    ]
    tag = image_tag(service, environment)
    if tag is not None:
        if image_build_project_name is None:
            raise ValueError(f"{service.name} is a container service but has no image build project")
        actions.append(
            {
                "name": "BuildImage",
                "category": "Build",
                "owner": "AWS",
                "provider": "CodeBuild",
                "version": "1",
                "run_order": AFTER_UNIT_TESTS,
                "input_artifacts": [BUILD_ARTIFACT],
                "output_artifacts": [IMAGE_ARTIFACT],
                "configuration": {
                    "ProjectName": image_build_project_name,
                    "EnvironmentVariables": codebuild_variables({"IMAGE_TAG": tag}),
                },
            }
        )
    return {"name": "Build", "actions": actions}


def scan_stage(actions: Sequence[Action]) -> Stage | None:
    """Security scans in parallel (same run order) between Build and any deploy; absent when no scanner is set."""
    return {"name": "Scan", "actions": list(actions)} if actions else None


COMMIT_VARIABLE = "#{SourceVariables.CommitId}"
EXECUTION_VARIABLE = "#{codepipeline.PipelineExecutionId}"


def approval_custom_data(service: Service, environment: Environment) -> str:
    """What a reviewer reads in the console, the e-mail and Slack: ``key: value`` fields a notifier can parse.

    CodePipeline resolves variables in action configuration when the action
    runs, so the commit and execution ids are those of the run awaiting approval.
    """
    return " | ".join(
        [
            f"Release {service.name} to {environment.name}",
            f"owner: {service.owner}",
            f"repository: {service.repository}",
            f"commit: {COMMIT_VARIABLE}",
            f"execution: {EXECUTION_VARIABLE}",
        ]
    )


def approval_stage(
    service: Service,
    environment: Environment,
    notification_arn: pulumi.Input[str] | None = None,
    configuration: Mapping[str, pulumi.Input[str]] | None = None,
) -> Stage | None:
    """A manual approval where the environment asks for one; absent otherwise.

    The review link is the commit's diff on GitHub; with a topic, CodePipeline
    publishes the request (links included) to it when the run reaches the stage.
    """
    if not environment.approval:
        return None
    settings: dict[str, pulumi.Input[str]] = {
        "CustomData": approval_custom_data(service, environment),
        "ExternalEntityLink": f"https://github.com/{service.repository}/commit/{COMMIT_VARIABLE}",
    }
    if notification_arn is not None:
        settings["NotificationArn"] = notification_arn
    settings.update(configuration or {})
    return {
        "name": naming.APPROVAL_STAGE,
        "actions": [
            {
                "name": naming.APPROVAL_ACTION,
                "category": "Approval",
                "owner": "AWS",
                "provider": "Manual",
                "version": "1",
                "configuration": settings,
            }
        ],
    }


def hold_for_window(stage: Stage, window_rule: Rule) -> None:
    """Hold a finished stage until the deployment window opens, so Deploy is entered inside the window.

    Outside its window a ``DeploymentWindow`` rule keeps the execution waiting
    (it does not fail). AWS warns that other rules of the same condition are
    evaluated while it waits and are not checked again when the window opens,
    so an alarm or dependency gate beside it could pass hours before the
    deploy. The window therefore ends the stage before Deploy (an on-success
    condition, a use AWS documents) and Deploy's own entry condition checks
    alarms and dependencies at the moment the execution enters.
    """
    stage["on_success"] = {"condition": condition([window_rule], "FAIL")}


def deploy_stage(
    actions: Sequence[Action],
    entry_rules: Sequence[Rule] = (),
    success_rules: Sequence[Rule] = (),
    rollback_on_failure: bool = False,
) -> Stage:
    """The deploy stage with its gates: entry rules fail the entry, success rules and failures roll back."""
    stage: Stage = {"name": "Deploy", "actions": list(actions)}
    if entry_rules:
        stage["before_entry"] = {"condition": condition(entry_rules, "FAIL")}
    if success_rules:
        stage["on_success"] = {"condition": condition(success_rules, "ROLLBACK")}
    if rollback_on_failure:
        stage["on_failure"] = {"result": "ROLLBACK"}
    return stage


def verify_stage(actions: Sequence[Action]) -> Stage | None:
    """Checks against the deployed service (DAST, integration tests); absent when there are none."""
    return {"name": "Verify", "actions": list(actions)} if actions else None
