"""The GitHub dispatch component and its pipeline action, under Pulumi mocks, as the engine would see them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components import iam
from components.github.dispatch_action import dispatch_action, user_parameters
from components.github.dispatch_function import (
    CLAIM_LEASE_SECONDS,
    FIRST_RETRY_DELAY_SECONDS,
    MAX_EVENT_AGE_SECONDS,
    TIMEOUT_SECONDS,
    GitHubDispatch,
    GitHubDispatchArgs,
    execution_read_arns,
    function_code,
)
from components.github.halting_rules import ended_execution_patterns
from components.model import github_run_timeout, naming
from components.model.platform_inputs import PlatformInputs, load_platform_inputs
from functions.github_dispatch import request as dispatch_request
from functions.github_dispatch.request import DeployRequest
from offline_plan.mocks import AwsMocks
from offline_plan.policy_check import evaluate
from offline_plan.recorder import RecordedResource, RecordingMonitor
from tests.conftest import PROJECT_DIR, document, stack_settings

COMMIT = "0123456789abcdef0123456789abcdef01234567"
EXECUTION = "3137f7cb-7cf7-4c1a-9f3a-2b2a6c1f0e11"


@pytest.fixture(scope="module")
def inputs() -> PlatformInputs:
    return load_platform_inputs(stack_settings("dev"), "dev", PROJECT_DIR)


@pytest.fixture(scope="module")
def recorded(inputs: PlatformInputs) -> list[RecordedResource]:
    mocks = AwsMocks(tooling_account_id=inputs.settings.tooling_account_id, region=inputs.settings.region)
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project="cicd-platform", stack="dev", preview=False, monitor=monitor)
    _sync_await(run_pulumi_func(lambda: GitHubDispatch("github-dispatch", GitHubDispatchArgs(inputs=inputs))))
    return [r for r in monitor.recorded if r.type != "pulumi:pulumi:Stack"]


def only(recorded: list[RecordedResource], resource_type: str) -> dict[str, Any]:
    found = [r.inputs for r in recorded if r.type == resource_type]
    assert len(found) == 1, (resource_type, len(found))
    return found[0]


def test_one_component_owns_function_role_key_secret_table_queue_and_logs(recorded) -> None:
    types = sorted(r.type for r in recorded)
    assert types == sorted(
        [
            "cicd:github:GitHubDispatch",
            "aws:kms/key:Key",
            "aws:kms/alias:Alias",
            "aws:secretsmanager/secret:Secret",
            "aws:dynamodb/table:Table",
            "aws:sqs/queue:Queue",
            "aws:cloudwatch/logGroup:LogGroup",
            "aws:iam/role:Role",
            "aws:iam/rolePolicy:RolePolicy",
            "aws:lambda/function:Function",
            "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig",
            "aws:cloudwatch/eventRule:EventRule",
            "aws:cloudwatch/eventTarget:EventTarget",
            "aws:lambda/permission:Permission",
        ]
    )
    component = next(r for r in recorded if r.type == "cicd:github:GitHubDispatch")
    assert all(r.parent for r in recorded if r is not component), "every resource belongs to the component"


def test_the_function_runs_a_current_python_traced_with_bounded_concurrency(recorded) -> None:
    function = only(recorded, "aws:lambda/function:Function")
    major, minor = (int(part) for part in function["runtime"].removeprefix("python").split("."))
    assert (major, minor) >= (3, 12)
    assert function["name"] == naming.github_dispatch_function_name("dev")
    assert function["handler"] == "github_dispatch.handler.handler"
    assert function["tracingConfig"] == {"mode": "Active"}
    assert 0 < function["reservedConcurrentExecutions"] <= 20
    assert function["loggingConfig"]["logGroup"] == "/aws/lambda/cicd-github-dispatch-dev"
    assert function["deadLetterConfig"]["targetArn"].endswith(":cicd-github-dispatch-dev-dlq")
    packaged = set(function["code"]["assets"])
    assert "github_dispatch/handler.py" in packaged and "github_dispatch/__init__.py" in packaged
    code_dir = PROJECT_DIR / "functions" / "github_dispatch"
    assert packaged == {f"github_dispatch/{p.name}" for p in code_dir.glob("*.py")}


def test_the_packaged_handler_imports_as_lambda_would_load_it(tmp_path) -> None:
    """Lambda puts the archive's root on sys.path and resolves the handler string from there."""
    archive = function_code()
    for name, asset in archive.assets.items():
        target = tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(Path(asset.path).read_bytes())
    module, function = ["github_dispatch.handler", "handler"]
    script = (
        "import sys, importlib; sys.path.insert(0, '.'); "
        f"assert callable(getattr(importlib.import_module({module!r}), {function!r}))"
    )
    subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, check=True)


def test_the_function_gets_the_secret_arn_never_a_token(recorded) -> None:
    variables = only(recorded, "aws:lambda/function:Function")["environment"]["variables"]
    assert variables["GITHUB_TOKEN_SECRET_ARN"].startswith("arn:aws:secretsmanager:eu-west-1:")
    assert variables["CLAIMS_TABLE"] == "cicd-github-dispatch-dev-claims"
    assert variables["GITHUB_API_URL"] == "https://api.github.com"
    assert not any("token" in key.lower() and "arn" not in key.lower() for key in variables)


def test_a_claim_ends_before_lambdas_first_retry_so_a_dead_delivery_is_redone(recorded) -> None:
    """Lambda retries a failed asynchronous delivery after one minute, then two ("How Lambda handles errors and
    retries with asynchronous invocation"); a lease that outlived the retry would make it a silent duplicate."""
    variables = only(recorded, "aws:lambda/function:Function")["environment"]["variables"]
    assert int(variables["CLAIM_LEASE_SECONDS"]) == CLAIM_LEASE_SECONDS < FIRST_RETRY_DELAY_SECONDS
    assert "STATUS_MAX_POLLS" not in variables, "each action brings its environment's timeout"


def test_every_answer_and_every_retry_fit_in_codepipelines_twenty_minutes() -> None:
    """CodePipeline quotas: a Lambda invoke action times out when the function has not replied for 20 minutes."""
    assert TIMEOUT_SECONDS < 20 * 60
    assert MAX_EVENT_AGE_SECONDS + TIMEOUT_SECONDS <= 20 * 60


def test_the_function_knows_the_same_run_timeout_bounds_as_the_stack_settings() -> None:
    assert dispatch_request.MAX_RUN_TIMEOUT_MINUTES == github_run_timeout.MAX_RUN_TIMEOUT_MINUTES
    assert dispatch_request.MIN_RUN_TIMEOUT_MINUTES == github_run_timeout.MIN_RUN_TIMEOUT_MINUTES
    assert github_run_timeout.MAX_RUN_TIMEOUT_MINUTES + github_run_timeout.CANCEL_RESERVE_MINUTES == 24 * 60


def test_the_secret_is_encrypted_and_pulumi_never_sets_its_value(recorded) -> None:
    secret = only(recorded, "aws:secretsmanager/secret:Secret")
    assert secret["kmsKeyId"] == only(recorded, "aws:cloudwatch/logGroup:LogGroup")["kmsKeyId"]
    assert secret["kmsKeyId"].startswith("arn:aws:kms:eu-west-1:210987654321:key/")
    assert secret["tags"]["rotation-exempt"]
    assert not [r for r in recorded if r.type == "aws:secretsmanager/secretVersion:SecretVersion"]
    assert not [r for r in recorded if "secretString" in json.dumps(r.inputs)]


def test_logs_table_and_queue_use_the_dispatch_key(recorded) -> None:
    log_group = only(recorded, "aws:cloudwatch/logGroup:LogGroup")
    table = only(recorded, "aws:dynamodb/table:Table")
    queue = only(recorded, "aws:sqs/queue:Queue")
    key_arns = {log_group["kmsKeyId"], table["serverSideEncryption"]["kmsKeyArn"], queue["kmsMasterKeyId"]}
    assert len(key_arns) == 1 and next(iter(key_arns)).startswith("arn:aws:kms:eu-west-1:")
    assert log_group["retentionInDays"] == 90
    assert table["hashKey"] == "jobId" and table["ttl"] == {"attributeName": "expiresAt", "enabled": True}


def test_the_role_is_least_privilege(recorded) -> None:
    statements = {s["Sid"]: s for s in document(only(recorded, "aws:iam/rolePolicy:RolePolicy")["policy"])["Statement"]}
    wildcard = {sid for sid, s in statements.items() if s["Resource"] == "*"}
    assert wildcard == {"AnswerPipelineJobs", "Tracing"}, "only actions AWS cannot scope use Resource *"
    assert statements["AnswerPipelineJobs"]["Action"] == [
        "codepipeline:PutJobFailureResult",
        "codepipeline:PutJobSuccessResult",
    ]
    assert statements["ReadGitHubToken"]["Resource"].startswith(
        "arn:aws:secretsmanager:eu-west-1:210987654321:secret:cicd/dev/github-dispatch-token-"
    )
    assert statements["ClaimJobs"]["Resource"] == (
        "arn:aws:dynamodb:eu-west-1:210987654321:table/cicd-github-dispatch-dev-claims"
    )
    assert "kms:ViaService" in statements["UseKeyThroughItsServices"]["Condition"]["StringEquals"]
    actions = json.dumps(statements)
    assert "AcknowledgeJob" not in actions and "*:*" not in actions


def test_the_function_reads_only_the_executions_of_pipelines_that_dispatch(recorded, inputs) -> None:
    """It asks CodePipeline whether an execution ended before cancelling its run (``halting``); nothing more."""
    statements = {s["Sid"]: s for s in document(only(recorded, "aws:iam/rolePolicy:RolePolicy")["policy"])["Statement"]}
    read = statements["ReadDispatchingExecutions"]
    assert read["Action"] == ["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"]
    expected = sorted(
        naming.pipeline_arn("eu-west-1", "210987654321", naming.pipeline_name(service.name, environment.name))
        for service in inputs.catalog.services
        if service.also_deploy_to
        for environment in inputs.environments_for(service)
    )
    assert read["Resource"] == expected and expected


def test_the_function_knows_whose_jobs_and_events_to_believe(recorded) -> None:
    """Without these every job is refused (``job_origin``) and every ended-execution event ignored (``halting``)."""
    variables = only(recorded, "aws:lambda/function:Function")["environment"]["variables"]
    assert (variables["TOOLING_ACCOUNT_ID"], variables["TOOLING_REGION"]) == ("210987654321", "eu-west-1")


def test_ended_executions_of_the_dispatching_pipelines_wake_the_function(recorded, inputs) -> None:
    """CodePipeline never invokes the action again once its execution is stopped ("Stop a pipeline execution"):
    the execution's end, on the tooling account's default bus ("Monitoring CodePipeline events"), must."""
    rule = only(recorded, "aws:cloudwatch/eventRule:EventRule")
    pattern = json.loads(rule["eventPattern"])
    assert rule["name"] == "cicd-github-dispatch-dev-ended-executions-1"
    assert "eventBusName" not in rule, "CodePipeline's own events arrive on the default bus"
    assert pattern["source"] == ["aws.codepipeline"] and pattern["account"] == ["210987654321"]
    assert pattern["detail-type"] == ["CodePipeline Pipeline Execution State Change"]
    assert sorted(pattern["detail"]["state"]) == ["CANCELED", "FAILED", "STOPPED", "SUPERSEDED"]
    assert pattern["detail"]["pipeline"] == sorted(
        naming.pipeline_name(service.name, environment.name)
        for service in inputs.catalog.services
        if service.also_deploy_to
        for environment in inputs.environments_for(service)
    )
    target = only(recorded, "aws:cloudwatch/eventTarget:EventTarget")
    function = only(recorded, "aws:lambda/function:Function")
    assert target["arn"].endswith(f":function:{function['name']}")
    permission = only(recorded, "aws:lambda/permission:Permission")
    assert permission["principal"] == "events.amazonaws.com"
    assert permission["sourceArn"].endswith(":rule/cicd-github-dispatch-dev-ended-executions-1")
    assert permission["sourceAccount"] == "210987654321"


def test_a_fleet_too_large_to_list_reads_the_executions_of_the_accounts_pipelines() -> None:
    """IAM caps an inline role policy at 10,240 characters: past a budget, the pipelines of the account and region."""
    few = execution_read_arns("eu-west-1", "210987654321", ["booking-dev", "booking-prod"])
    assert few == [
        "arn:aws:codepipeline:eu-west-1:210987654321:booking-dev",
        "arn:aws:codepipeline:eu-west-1:210987654321:booking-prod",
    ]
    many = execution_read_arns("eu-west-1", "210987654321", [f"service-{n:03d}-staging" for n in range(200)])
    assert many == ["arn:aws:codepipeline:eu-west-1:210987654321:*"]


def test_a_fleet_too_large_for_one_pattern_gets_several_rules() -> None:
    names = [f"service-{index:03d}-production" for index in range(150)]
    patterns = ended_execution_patterns(names, "210987654321")
    assert len(patterns) > 1 and all(len(json.dumps(p)) <= 2048 for p in patterns)
    assert sorted(n for p in patterns for n in p["detail"]["pipeline"]) == sorted(names)


def test_the_role_trusts_lambda_from_this_account_only(recorded) -> None:
    trust = document(only(recorded, "aws:iam/role:Role")["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": "210987654321"}}


def test_the_key_rotates_and_lets_logs_use_it_only_for_the_function_log_group(recorded) -> None:
    key = only(recorded, "aws:kms/key:Key")
    assert key["enableKeyRotation"] is True
    statements = {s["Sid"]: s for s in document(key["policy"])["Statement"]}
    logs = statements["FunctionLogsEncryption"]["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]
    assert logs == "arn:aws:logs:eu-west-1:210987654321:log-group:/aws/lambda/cicd-github-dispatch-dev"


def test_the_policy_pack_finds_no_mandatory_violation(recorded) -> None:
    mandatory = [v for v in evaluate(recorded) if v.level == "mandatory"]
    assert mandatory == []


def test_the_function_arn_is_known_before_the_function_exists(recorded, inputs) -> None:
    component = next(r for r in recorded if r.type == "aws:lambda/function:Function")
    expected = naming.github_dispatch_function_arn("eu-west-1", "210987654321", "dev")
    mocks = AwsMocks(tooling_account_id="210987654321", region="eu-west-1")
    assert mocks._arn(component.type, component.inputs["name"], component.inputs, "210987654321", "eu-west-1") == (
        expected
    )
    assert iam.dispatch_invoke_statement(expected) == {
        "Sid": "InvokeGitHubDispatch",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": expected,
    }


# ------------------------------------------------------------------------------------------ the action


def service_and_environment(inputs: PlatformInputs) -> tuple[Any, Any]:
    """A catalog service that also deploys to another cloud, and the first environment."""
    service = next(s for s in inputs.catalog.services if s.also_deploy_to)
    return service, inputs.settings.environments[0]


def test_the_dispatch_action_is_a_lambda_invoke_action(inputs) -> None:
    service, environment = service_and_environment(inputs)
    action = dispatch_action("cicd-github-dispatch-dev", service, environment, "gcp")
    assert {k: action[k] for k in ("name", "category", "owner", "provider", "version", "namespace")} == {
        "name": "DeployToGcp",
        "category": "Invoke",
        "owner": "AWS",
        "provider": "Lambda",
        "version": "1",
        "namespace": "GitHubGcp",
    }
    assert set(action["configuration"]) == {"FunctionName", "UserParameters"}
    parameters = json.loads(action["configuration"]["UserParameters"])
    assert parameters == {
        "service": service.name,
        "repository": service.repository,
        "workflow": "deploy-gcp.yml",
        "cloud": "gcp",
        "environment": environment.name,
        "commit": "#{SourceVariables.CommitId}",
        "ref": "#{SourceVariables.BranchName}",
        "pipelineExecutionId": "#{codepipeline.PipelineExecutionId}",
        "timeoutMinutes": environment.github_run_timeout_minutes,
    }
    assert len(action["configuration"]["UserParameters"]) <= 1000, "CodePipeline caps UserParameters at 1000"


def test_the_action_names_the_azure_workflow_and_refuses_an_unknown_cloud(inputs) -> None:
    service, environment = service_and_environment(inputs)
    azure = dispatch_action("f", service, environment, "azure")
    assert azure["name"] == "DeployToAzure"
    assert json.loads(azure["configuration"]["UserParameters"])["workflow"] == "deploy-azure.yml"
    with pytest.raises(ValueError, match="unknown cloud"):
        dispatch_action("f", service, environment, "aws")  # type: ignore[arg-type]


@pytest.mark.parametrize("cloud", ["gcp", "azure"])
def test_the_function_accepts_what_the_action_sends_once_variables_resolve(inputs, cloud) -> None:
    service, environment = service_and_environment(inputs)
    resolved = (
        user_parameters(service, environment, cloud, f"deploy-{cloud}.yml")
        .replace("#{SourceVariables.CommitId}", COMMIT)
        .replace("#{SourceVariables.BranchName}", "release/2.0")
        .replace("#{codepipeline.PipelineExecutionId}", EXECUTION)
    )
    job = {"id": "j", "data": {"actionConfiguration": {"configuration": {"UserParameters": resolved}}}}
    request = DeployRequest.from_job(job)
    assert (request.service, request.cloud, request.commit, request.ref) == (service.name, cloud, COMMIT, "release/2.0")
    assert request.timeout_minutes == environment.github_run_timeout_minutes
    assert request.pipeline_execution_id == EXECUTION, "the execution whose end cancels the run (halting)"
    assert request.pipeline == naming.pipeline_name(service.name, environment.name), "the pipeline a job must come from"
