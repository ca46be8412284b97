"""Documents of the GitHub dispatch function: its role, its key, and the pipelines' right to invoke it.

The function answers CodePipeline jobs, reads one secret, claims jobs in one
table and writes to its own log group and dead-letter queue. Two statements
need ``Resource: "*"`` because AWS cannot scope them: CodePipeline's job result
actions and X-Ray's trace upload. Reading executions is scoped to the pipelines
that dispatch (``GetPipelineExecution`` and ``ListActionExecutions`` take the
pipeline's ARN): the function asks whether an execution ended before it cancels
a run (``functions/github_dispatch/halting.py``). ``codepipeline:AcknowledgeJob`` is not
granted: it needs the nonce that only ``PollForJobs`` hands to custom-action
job workers, and a Lambda invoke action never has one.
"""

from __future__ import annotations

from ..model import naming
from .documents import (
    KMS_USE_ACTIONS,
    Document,
    document,
    key_administration,
    logs_may_encrypt,
    via_services,
    write_own_logs,
)

JOB_RESULT_ACTIONS = ["codepipeline:PutJobFailureResult", "codepipeline:PutJobSuccessResult"]
CLAIM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
EXECUTION_READ_ACTIONS = ["codepipeline:GetPipelineExecution", "codepipeline:ListActionExecutions"]
KEY_SERVICES = ("dynamodb", "secretsmanager", "sqs")


GITHUB_APP_SIGNING = {"kms:SigningAlgorithm": "RSASSA_PKCS1_V1_5_SHA_256", "kms:MessageType": "DIGEST"}
"""The one way the dispatch function signs: RS256 over a digest it computed (``app_credentials``)."""


def dispatch_function_policy(
    region: str,
    secret_arn: str | None,
    key_arn: str,
    table_arn: str,
    log_group_arn: str,
    dead_letter_arn: str,
    app_key_arn: str | None = None,
    pipeline_arns: list[str] | None = None,
) -> Document:
    """The function's role: its GitHub credential is the token secret, or (App mode) signing with the App key.

    ``pipeline_arns``: the pipelines whose executions it may read (those with a dispatch action).
    """
    credential: Document = (
        {
            "Sid": "SignGitHubAppJwt",
            "Effect": "Allow",
            "Action": "kms:Sign",
            "Resource": app_key_arn,
            "Condition": {"StringEquals": GITHUB_APP_SIGNING},
        }
        if app_key_arn is not None
        else {
            "Sid": "ReadGitHubToken",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": secret_arn,
        }
    )
    return document(
        {
            # CodePipeline's job actions support no resource-level permissions (AWS permissions reference).
            "Sid": "AnswerPipelineJobs",
            "Effect": "Allow",
            "Action": JOB_RESULT_ACTIONS,
            "Resource": "*",
        },
        credential,
        *(
            [
                {
                    "Sid": "ReadDispatchingExecutions",
                    "Effect": "Allow",
                    "Action": EXECUTION_READ_ACTIONS,
                    "Resource": sorted(pipeline_arns),
                }
            ]
            if pipeline_arns
            else []
        ),
        {"Sid": "ClaimJobs", "Effect": "Allow", "Action": CLAIM_ACTIONS, "Resource": table_arn},
        {
            "Sid": "UseKeyThroughItsServices",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": key_arn,
            "Condition": {"StringEquals": {"kms:ViaService": via_services(region, KEY_SERVICES)}},
        },
        write_own_logs("WriteOwnLogs", log_group_arn),
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_arn},
        {
            # X-Ray trace upload supports no resource-level permissions.
            "Sid": "Tracing",
            "Effect": "Allow",
            "Action": ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
            "Resource": "*",
        },
    )


def dispatch_key_policy(region: str, account_id: str, log_group_name: str) -> Document:
    """The dispatch key: admins, use only through its three services in this account, and its log group.

    Use is granted to the account and narrowed by ``kms:ViaService``: the
    function role's own policy, and an operator's when they put the token,
    decide who within the account may use it.
    """
    root = naming.account_root_arn(region, account_id)
    return document(
        key_administration(root),
        {
            "Sid": "UseThroughSecretsTableAndQueue",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": [*KMS_USE_ACTIONS, "kms:CreateGrant"],
            "Resource": "*",
            "Condition": {
                "StringEquals": {"kms:CallerAccount": account_id, "kms:ViaService": via_services(region, KEY_SERVICES)}
            },
        },
        logs_may_encrypt(
            "FunctionLogsEncryption",
            region,
            naming.log_group_arn(region, account_id, log_group_name),
            operator="ArnEquals",
        ),
    )


def github_app_key_policy(region: str, account_id: str, function_role_arn: str) -> Document:
    """The GitHub App key: the account administers it and imports its material; only the function signs.

    Administration is the platform's usual set (``key_administration``), which holds no ``kms:Sign``: the
    account root is never granted signing, so no IAM policy in the account can grant it to anyone else
    (a key policy must allow the account before IAM can delegate). ``kms:ImportKeyMaterial`` is granted for
    ``make import-github-app-key``; ``GetParametersForImport`` and ``GetPublicKey`` are in the ``kms:Get*`` of
    administration. An administrator who can rewrite the key policy could still grant themselves signing:
    CloudTrail records ``PutKeyPolicy``, and the policy pack judges the policy Pulumi declares.
    """
    root = naming.account_root_arn(region, account_id)
    return document(
        key_administration(root),
        {
            "Sid": "ImportGitHubAppKey",
            "Effect": "Allow",
            "Principal": {"AWS": root},
            "Action": "kms:ImportKeyMaterial",
            "Resource": "*",
        },
        {
            "Sid": "OnlyTheDispatchFunctionSigns",
            "Effect": "Allow",
            "Principal": {"AWS": function_role_arn},
            "Action": "kms:Sign",
            "Resource": "*",
            "Condition": {"StringEquals": GITHUB_APP_SIGNING},
        },
    )


def dispatch_invoke_statement(function_arn: str) -> Document:
    """What a pipeline role needs to run the dispatch action (CodePipeline invokes with the pipeline's role)."""
    return {
        "Sid": "InvokeGitHubDispatch",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": function_arn,
    }
