"""Each job is claimed once: duplicate deliveries of a job never dispatch its workflow twice.

CodePipeline invokes the function asynchronously, and Lambda may deliver an
event more than once (and retries a failed delivery). The first delivery
claims the job id with a DynamoDB conditional put before it dispatches, then
keeps its answer with the claim; a later delivery repeats that answer, and
only takes over (searching for the run, never dispatching) when the claim is
older than any delivery can live. ``AcknowledgeJob`` cannot do this: it needs
the nonce that only ``PollForJobs`` hands to custom-action job workers.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from .outcomes import TOKEN_VERSION, Continue, Failed, NoAnswer, Outcome
from .settings import Dependencies


def claim(job_id: str, correlation_id: str, deps: Dependencies) -> dict[str, Any] | None:
    """Claim the job for this invocation; returns the existing claim when another delivery got there first."""
    now = int(deps.clock())
    try:
        deps.dynamodb.put_item(
            TableName=deps.settings.claims_table,
            Item={
                "jobId": {"S": job_id},
                "state": {"S": "dispatching"},
                "correlationId": {"S": correlation_id},
                "claimedAt": {"N": str(now)},
                "expiresAt": {"N": str(now + 7 * 24 * 3600)},
            },
            ConditionExpression="attribute_not_exists(jobId)",
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        item = deps.dynamodb.get_item(
            TableName=deps.settings.claims_table, Key={"jobId": {"S": job_id}}, ConsistentRead=True
        )
        return item.get("Item") or {}
    return None


def record_answer(job_id: str, outcome: Outcome, deps: Dependencies) -> None:
    """Keep the first delivery's answer with its claim, so a redelivery sends the same one."""
    if isinstance(outcome, Continue):
        state, answer = "dispatched", {"token": outcome.state, "summary": outcome.summary}
    elif isinstance(outcome, Failed):
        state, answer = "failed", {"message": outcome.message, "type": outcome.failure_type}
    else:
        return
    deps.dynamodb.update_item(
        TableName=deps.settings.claims_table,
        Key={"jobId": {"S": job_id}},
        UpdateExpression="SET #state = :state, answer = :answer",
        ExpressionAttributeNames={"#state": "state"},
        ExpressionAttributeValues={":state": {"S": state}, ":answer": {"S": json.dumps(answer)}},
    )


def duplicate(claim: dict[str, Any], deps: Dependencies) -> Outcome:
    """A second delivery of a job: never dispatch again, answer only where the first one cannot."""
    # Repeating the first delivery's answer is harmless: CodePipeline refuses a second one for the same job,
    # and where the first answer never arrived (its delivery failed to send it), this one stands in.
    first = claim.get("state", {}).get("S")
    if first == "dispatched":
        answer = json.loads(claim["answer"]["S"])
        return Continue(answer["token"], answer["summary"])
    if first == "failed":
        answer = json.loads(claim["answer"]["S"])
        return Failed(answer["message"], answer["type"])
    claimed_at = int(claim.get("claimedAt", {}).get("N", "0"))
    if deps.clock() - claimed_at < deps.settings.claim_lease_seconds:
        return NoAnswer("another delivery of this job is dispatching it")
    # The first delivery died between claiming and recording: look for a run it may have started.
    state = {
        "v": TOKEN_VERSION,
        "phase": "find",
        "correlation_id": claim["correlationId"]["S"],
        "dispatched_at": datetime.fromtimestamp(claimed_at, UTC).isoformat(),
        "polls": 0,
    }
    return Continue(state, "an earlier delivery stopped after claiming this job; looking for its run")
