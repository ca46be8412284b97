"""Who may answer a prod approval: the release managers' grant, the guardrail SCP and the auditor's role.

Three layers, none trusting the others: an inline policy on each release-manager
role (the only grant of ``codepipeline:PutApprovalResult`` on prod approval
actions), a service control policy an organization admin attaches so nobody else
can approve even with broad IAM rights, and the approval auditor that stops a
run anyway if an approval came from someone else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..model import naming
from ..model.tags import MANAGED_BY
from .documents import PUBLISH_KEY_ACTIONS, Document, document, role_uses_data_store_key, write_own_logs

SCP_SIZE_LIMIT = 5120
"""Characters AWS Organizations allows in one service control policy (whitespace counts, so it is minified)."""


def release_manager_approval_policy(
    region: str, tooling_account_id: str, stack: str, production_environments: Sequence[str]
) -> Document:
    """Approve or reject the prod approval actions, and see the state of the prod pipelines.

    By the naming convention, as the guardrail SCP denies it (``approval_guardrail_resources``), not
    one ARN per pipeline: a list of every prod pipeline outgrows an inline policy (10,240 characters
    per role) at about 60 services. ``PutApprovalResult`` is matched by name only: the Service
    Authorization Reference lists ``aws:ResourceTag`` for CodePipeline's ``action`` resource type, but
    actions carry no tags of their own and nothing documents which tags CodePipeline evaluates for
    one, and a condition that never matches would leave prod without anyone to approve it.
    ``GetPipelineState`` is read on the stack's own prod pipelines, by their tags (the ``pipeline``
    resource type takes ``aws:ResourceTag``).
    """
    return document(
        {
            "Sid": "AnswerProdApprovals",
            "Effect": "Allow",
            "Action": "codepipeline:PutApprovalResult",
            "Resource": approval_guardrail_resources(region, tooling_account_id, production_environments),
        },
        production_pipelines_statement(
            "ReadProdPipelineState",
            ["codepipeline:GetPipelineState"],
            region,
            tooling_account_id,
            stack,
            production_environments,
        ),
    )


def production_pipelines_statement(
    sid: str,
    actions: Sequence[str],
    region: str,
    tooling_account_id: str,
    stack: str,
    production_environments: Sequence[str],
) -> Document:
    """``actions`` on this stack's prod pipelines: named ``<service>-<env>`` and tagged as the platform's."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted(actions) if len(actions) > 1 else actions[0],
        "Resource": [
            naming.pipeline_arn(region, tooling_account_id, f"*-{environment}")
            for environment in sorted(production_environments)
        ],
        "Condition": {
            "StringEquals": {"aws:ResourceTag/managed-by": MANAGED_BY, "aws:ResourceTag/platform-stack": stack}
        },
    }


def approval_guardrail_resources(
    region: str, tooling_account_id: str, production_environments: Sequence[str]
) -> list[str]:
    """Prod approval actions by the naming convention ``<service>-<env>/Approve/ReleaseApproval``.

    A pattern rather than one ARN per pipeline: the SCP stays the same size
    however many services the catalog has, and covers services added later.
    """
    return [
        naming.approval_action_arn(region, tooling_account_id, f"*-{environment}")
        for environment in sorted(production_environments)
    ]


def approval_guardrail_scp(
    region: str, tooling_account_id: str, production_environments: Sequence[str], release_manager_arns: Sequence[str]
) -> Document:
    """Deny answering prod approvals to every principal but the release managers.

    An organization admin attaches it to the tooling account (SCPs do not bind
    the management account or service-linked roles).
    """
    return document(
        {
            "Sid": "OnlyReleaseManagersApproveProd",
            "Effect": "Deny",
            "Action": "codepipeline:PutApprovalResult",
            "Resource": approval_guardrail_resources(region, tooling_account_id, production_environments),
            "Condition": {"ArnNotLike": {"aws:PrincipalArn": sorted(release_manager_arns)}},
        }
    )


def scp_text(scp: Document) -> str:
    """The SCP as Organizations stores it: minified, so the size limit is measured on what is sent."""
    return json.dumps(scp, separators=(",", ":"), sort_keys=True)


def approval_auditor_policy(
    log_group_arn: str,
    protected_pipelines: Document,
    topic_arn: str,
    key_arn: str,
    ledger_table_arn: str,
    dead_letter_queue_arn: str,
    *,
    region: str,
) -> Document:
    """The auditor reads the state of prod pipelines, stops a wrongly approved run, records and alerts.

    ``protected_pipelines`` is ``production_pipelines_statement`` for the auditor's actions: the prod
    pipelines by name pattern and tags, so the policy stays the same size however large the fleet.
    ``key_arn`` (the release-news key) also encrypts the ledger and the dead-letter queue.
    """
    return document(
        write_own_logs("Logs", log_group_arn),
        protected_pipelines,
        {"Sid": "Alert", "Effect": "Allow", "Action": "sns:Publish", "Resource": topic_arn},
        {"Sid": "EncryptedTopic", "Effect": "Allow", "Action": PUBLISH_KEY_ACTIONS, "Resource": key_arn},
        # The delivery ledger claims, notes, completes and releases with conditional updates only.
        {"Sid": "ActOnce", "Effect": "Allow", "Action": "dynamodb:UpdateItem", "Resource": ledger_table_arn},
        {"Sid": "DeadLetters", "Effect": "Allow", "Action": "sqs:SendMessage", "Resource": dead_letter_queue_arn},
        role_uses_data_store_key("LedgerAndDeadLetterKey", key_arn, region),
    )


AUDITOR_PIPELINE_ACTIONS = [
    "codepipeline:GetPipelineState",
    "codepipeline:ListActionExecutions",
    "codepipeline:StopPipelineExecution",
]
"""What the approval auditor does to a prod pipeline: read who approved, stop a run nobody should have let through."""
