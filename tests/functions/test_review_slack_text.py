"""Review: code fences in attacker text outside build logs.

DESIGN.md, "Trust boundaries": text from a commit or a log is attacker-controlled: escape it for Slack,
*neutralise code fences*, clip it. Log lines go through ``slack_client.code_block``, which breaks every run of
backticks; every other quoted text (the commit subject, the action's failure summary, the alarm's reason, which
whoever may call ``SetAlarmState`` in the environment account writes) goes through ``escape`` only, which leaves
backticks alone. Where a stack delivers through AWS Chatbot, ``messages.as_text`` joins the whole report into one
Slack-markdown description: a commit subject ending in three backticks opens a code block that swallows the
lines after it (the console links and the platform's own explanation turn into inert code), and a later fence
closes it where the attacker chose.

``escape`` now breaks every run of backticks too (review finding 11). The failed-action report moved from the
rollback reporter to the failure digest (``functions/failure_digest``), whose ``messages.as_text`` joins a digest the
same way for Chatbot: the first test checks the digest, whose only fences are its log excerpt's code block.
"""

from __future__ import annotations

from functions.failure_digest import messages as digest_messages
from functions.failure_digest.digest import Digest
from functions.failure_digest.pipeline_facts import Commit
from functions.failure_digest.toolchains import Excerpt
from functions.rollback_reporter import messages
from tests.functions.slack_limits import code_fences

SHA = "0123456789abcdef0123456789abcdef01234567"
COMMIT = {"id": SHA, "url": f"https://github.com/acme/booking/commit/{SHA}", "message": "Tidy the README ```"}


def test_a_commit_subject_and_summary_open_no_code_block_in_a_chatbot_report():
    report = digest_messages.digest_message(
        Digest(
            pipeline="booking-prod",
            service="booking",
            environment="prod",
            stage="Deploy",
            action="BlueGreenDeploy",
            execution="0f3c1a2b-1111-2222-3333-444455556666",
            attempt=1,
            region="eu-west-1",
            owner="team-booking",
            provider="CodeDeployToECS",
            summary="Deployment failed ``` see below",
            commit=Commit(SHA, COMMIT["message"], COMMIT["url"]),
            excerpt=Excerpt("unknown", ("step 3 failed",)),
        )
    )
    _title, description = digest_messages.as_text(report)

    assert code_fences(description) == 2, f"fences outside the build log's block:\n{description}"


def test_an_alarm_reason_and_commit_open_no_code_block_in_a_chatbot_report():
    report = messages.alarm_message(
        alarm="cicd-booking-prod-health",
        service_pipeline="booking-prod",
        reason="```",
        signals=[("cicd-booking-prod-http-5xx", "Threshold crossed ```")],
        account="444444444444",
        region="eu-west-1",
        outcome="No rollback: a rollback is already under way.",
        commit=COMMIT,
        channel_hint="#deploys",
    )
    _title, description = messages.as_text(report)

    assert code_fences(description) == 0, f"attacker text opened code blocks:\n{description}"
