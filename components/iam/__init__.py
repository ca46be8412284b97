"""IAM and resource policy documents as plain data: the one door other rooms use.

``from components import iam`` then ``iam.pipeline_role_policy(...)``; the
modules behind it are split by whose documents they are.
"""

from .approvals import (
    AUDITOR_PIPELINE_ACTIONS,
    SCP_SIZE_LIMIT,
    approval_auditor_policy,
    approval_guardrail_scp,
    production_pipelines_statement,
    release_manager_approval_policy,
    scp_text,
)
from .coordination import (
    CoordinationScope,
    coordination_key_policy,
    coordinator_role_policy,
    deploy_gate_role_policy,
)
from .deploy import ecs_deploy_policy, instance_artifact_read_policy, lambda_deploy_policy, server_deploy_policy
from .documents import Document, cross_account_trust, document, service_trust, to_json
from .failure_digest import failure_digest_policy
from .github_dispatch import (
    dispatch_function_policy,
    dispatch_invoke_statement,
    dispatch_key_policy,
    github_app_key_policy,
)
from .governance import scan_role_policy
from .metrics import dora_key_policy, dora_role_policy
from .notifications import (
    dead_letter_queue_policy,
    notification_key_policy,
    notification_topic_policy,
    secret_arn_pattern,
    slack_notifier_policy,
)
from .resource_policies import (
    access_log_bucket_policy,
    artifact_bucket_policy,
    artifact_key_policy,
    image_repository_policy,
)
from .rollback import (
    alarm_reader_policy,
    alarm_reader_trust,
    alarm_topic_key_policy,
    alarm_topic_policy,
    deploy_events_bus_policy,
    event_forwarder_policy,
    reporter_key_policy,
    reporter_role_policy,
)
from .secrets import rotation_function_policy, secret_watch_policy
from .tooling import build_role_policy, image_build_role_policy, pipeline_role_policy, release_role_policy

__all__ = [
    "AUDITOR_PIPELINE_ACTIONS",
    "SCP_SIZE_LIMIT",
    "CoordinationScope",
    "Document",
    "access_log_bucket_policy",
    "alarm_reader_policy",
    "alarm_reader_trust",
    "alarm_topic_key_policy",
    "alarm_topic_policy",
    "approval_auditor_policy",
    "approval_guardrail_scp",
    "artifact_bucket_policy",
    "artifact_key_policy",
    "build_role_policy",
    "coordination_key_policy",
    "coordinator_role_policy",
    "cross_account_trust",
    "dead_letter_queue_policy",
    "deploy_events_bus_policy",
    "deploy_gate_role_policy",
    "dispatch_function_policy",
    "dispatch_invoke_statement",
    "dispatch_key_policy",
    "document",
    "dora_key_policy",
    "dora_role_policy",
    "ecs_deploy_policy",
    "event_forwarder_policy",
    "failure_digest_policy",
    "github_app_key_policy",
    "image_build_role_policy",
    "image_repository_policy",
    "instance_artifact_read_policy",
    "lambda_deploy_policy",
    "notification_key_policy",
    "notification_topic_policy",
    "pipeline_role_policy",
    "production_pipelines_statement",
    "release_manager_approval_policy",
    "release_role_policy",
    "reporter_key_policy",
    "reporter_role_policy",
    "rotation_function_policy",
    "scan_role_policy",
    "scp_text",
    "secret_arn_pattern",
    "secret_watch_policy",
    "server_deploy_policy",
    "service_trust",
    "slack_notifier_policy",
    "to_json",
]
