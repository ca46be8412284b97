"""Lambda functions and their invocation permissions: no public access, supported runtimes, no secrets in env.

The platform's own Lambdas (gates, notifiers, coordination) run with
pipeline-wide permissions; a public URL or a stale runtime there is a way in.
``lambda-ops`` is a stack rule: whether a function needs a dead-letter queue
depends on who invokes it and how (``lambda_invocation``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from .base import Config, PolicyResource, Props, as_mapping, dig, is_unknown, present, resource_rule, stack_rule
from .lambda_invocation import FUNCTION, has_failure_destination, invokers, may_be_invoked_asynchronously

PERMISSION = "aws:lambda/permission:Permission"
FUNCTION_URL = "aws:lambda/functionUrl:FunctionUrl"

# Runtimes past their AWS deprecation date (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html).
DEPRECATED_RUNTIMES = (
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "nodejs",
    "nodejs4.3",
    "nodejs4.3-edge",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "java8",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet5.0",
    "dotnet6",
    "dotnet7",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "go1.x",
    "provided",
)
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)", re.I)
SECRET_REFERENCE = re.compile(r"^(arn:aws[a-z-]*:(secretsmanager|ssm):|\{\{resolve:|/)")
# A variable named for where a secret lives (SLACK_TOKEN_SECRET_ARN, WEBHOOK_SECRET_ID) holds a reference.
REFERENCE_NAME = re.compile(r"_(ARN|ID|NAME|PARAMETER|PARAM|PATH)$", re.I)
AWS_ACCESS_KEY_VALUE = re.compile(r"\b(AKIA|ASIA)[A-Z0-9]{16}\b")


# lambda-access


def check_access(resource_type: str, props: Props, _: Config) -> Iterator[str]:
    if resource_type == FUNCTION_URL:
        if props.get("authorizationType") == "NONE":
            yield f"function URL of {props.get('functionName')} has authorization_type NONE: anyone can invoke it"
        return
    principal = props.get("principal")
    if is_unknown(principal) or not isinstance(principal, str):
        return
    function = props.get("function")
    if principal == "*":
        yield f"permission lets any principal ('*') invoke {function}"
    elif principal.endswith(".amazonaws.com"):
        source_arn, source_account = props.get("sourceArn"), props.get("sourceAccount")
        if not present(source_arn) and not present(source_account):
            yield (
                f"permission lets {principal} invoke {function} on behalf of any account (no source_arn/source_account)"
            )


LAMBDA_ACCESS = resource_rule(
    name="lambda-access",
    description="Lambda permissions name their caller (no '*'; service principals scoped by source); URLs need auth.",
    level="mandatory",
    resource_types={PERMISSION, FUNCTION_URL},
    check=check_access,
    remediation="Grant a named principal; for service principals set source_arn (or source_account); "
    "use authorization_type='AWS_IAM' on function URLs.",
    anchors=("CKV_AWS_301", "CKV_AWS_364", "CKV_AWS_258"),
)


# lambda-runtime


def check_runtime(_: str, props: Props, config: Config) -> Iterator[str]:
    runtime = props.get("runtime")
    deprecated = {*DEPRECATED_RUNTIMES, *config.get("deprecatedRuntimes", ())}
    if isinstance(runtime, str) and runtime in deprecated:
        yield f"function {props.get('name')} uses the deprecated runtime {runtime}"


LAMBDA_RUNTIME = resource_rule(
    name="lambda-runtime",
    description="Lambda functions use a runtime AWS still supports.",
    level="mandatory",
    resource_types={FUNCTION},
    check=check_runtime,
    remediation="Move to a supported runtime (e.g. python3.12, nodejs22.x, java21).",
    anchors=("CKV_AWS_363",),
    config_schema={
        "deprecatedRuntimes": {
            "type": "array",
            "items": {"type": "string"},
            "default": [],
            "description": "More runtimes to refuse, beside the built-in list of AWS-deprecated ones.",
        }
    },
)


# lambda-env-secrets


def check_env_secrets(_: str, props: Props, __: Config) -> Iterator[str]:
    variables = dig(props, "environment", "variables")
    for name, value in as_mapping(variables).items():
        if not isinstance(value, str) or is_unknown(value):
            continue
        if AWS_ACCESS_KEY_VALUE.search(value):
            yield f"environment variable {name} holds an AWS access key id"
        elif SECRET_NAME.search(name) and not SECRET_REFERENCE.match(value) and not REFERENCE_NAME.search(name):
            yield f"environment variable {name} carries a secret value; pass its Secrets Manager ARN instead"


LAMBDA_ENV_SECRETS = resource_rule(
    name="lambda-env-secrets",
    description="Lambda environment variables carry references to secrets (ARNs, parameter names), never secrets.",
    level="mandatory",
    resource_types={FUNCTION},
    check=check_env_secrets,
    remediation="Store the secret in Secrets Manager, pass its ARN (e.g. SLACK_TOKEN_SECRET_ARN) and read it "
    "at runtime.",
    anchors=("CKV_AWS_45",),
)


# lambda-ops


def check_ops(resources: Sequence[PolicyResource], _: Config) -> Iterator[tuple[str | None, str]]:
    declared = invokers(resources)
    for function in resources:
        if function.type != FUNCTION:
            continue
        props, name = function.props, function.props.get("name")
        mode = dig(props, "tracingConfig", "mode")
        if mode != "Active" and not is_unknown(mode):
            yield function.urn, f"function {name} has no active X-Ray tracing"
        if isinstance(name, str) and not is_unknown(name):
            asynchronous, reasons = may_be_invoked_asynchronously(declared.of(name), declared.unresolved)
            queued = present(dig(props, "deadLetterConfig", "targetArn")) or has_failure_destination(resources, name)
            if asynchronous and not queued:
                yield (
                    function.urn,
                    f"function {name} has no dead-letter queue for failed asynchronous invocations "
                    f"(from {'; '.join(reasons)})",
                )
        reserved = props.get("reservedConcurrentExecutions")
        if not is_unknown(reserved) and (reserved is None or reserved == -1):
            yield function.urn, f"function {name} has no reserved concurrency"


LAMBDA_OPS = stack_rule(
    name="lambda-ops",
    description="Lambda functions trace with X-Ray, reserve concurrency, and keep failed async events (DLQ) "
    "when something invokes them asynchronously.",
    level="advisory",
    check=check_ops,
    remediation="Set tracing_config.mode='Active' and reserved_concurrent_executions; for a function invoked "
    "asynchronously (EventBridge, SNS, S3, a CodePipeline Lambda action, or undeclared callers) set "
    "dead_letter_config.target_arn or an on-failure destination.",
    anchors=("CKV_AWS_50", "CKV_AWS_116", "CKV_AWS_115"),
)

RULES = (LAMBDA_ACCESS, LAMBDA_RUNTIME, LAMBDA_ENV_SECRETS)
STACK_RULES = (LAMBDA_OPS,)
