"""Each job is dispatched at most once, and a delivery that dies mid-work is redone by the next one.

CodePipeline invokes the function asynchronously. Lambda may deliver an event
more than once, and retries a delivery that failed (an error or a timeout) one
minute later, then two minutes after that ("How Lambda handles errors and
retries with asynchronous invocation"). So the first delivery of a job claims
its id with a DynamoDB conditional put, and the claim moves through three
states:

- ``dispatching``: claimed, nothing sent to GitHub yet;
- ``posting``: about to send, or sending, the one dispatch (the claim's owner
  sets it with a conditional write, so a delivery that lost its claim never sends);
- ``dispatched`` / ``failed``: the answer, kept so a redelivery repeats it.

A claim is a lease of ``claim_lease_seconds`` from its last write, shorter
than Lambda's first retry, so the retry of a delivery that died always finds
the lease over and takes the work up: a ``dispatching`` claim is taken over
(conditionally: of two takers one wins) and dispatched; a ``posting`` claim may
already have started a run, so it is never sent again, only looked for by its
correlation id. A duplicate that arrives while the lease runs sends no answer:
the live delivery answers, or dies and is retried.

``AcknowledgeJob`` cannot do this: it needs the nonce that only ``PollForJobs``
hands to custom-action job workers.

The same table maps a pipeline execution to the runs it dispatched, so that
when the execution ends without the action (stopped and abandoned, failed,
superseded, cancelled), ``halting`` can find and cancel them. Before the
dispatch goes out, the job's claim records the repository, workflow,
correlation id and execution, and an item ``execution#<id>`` lists the jobs of
that execution; the run's id follows when GitHub names it (the answer's token,
or ``note_run`` once found). A claim the halting path marked (``haltAskedAt``)
is never dispatched.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from .outcomes import TOKEN_VERSION, Continue, Failed, NoAnswer, Outcome
from .settings import Dependencies

LOGGER = logging.getLogger(__name__)
DISPATCHING, POSTING, DISPATCHED, FAILED = "dispatching", "posting", "dispatched", "failed"
RETENTION_SECONDS = 7 * 24 * 3600
EXECUTION_PREFIX = "execution#"
"""Key prefix of an execution's item; job ids are UUIDs, so the two never collide."""


@dataclass(frozen=True)
class TakeOver:
    """The claim's delivery died before it sent anything: this delivery may dispatch, if it wins the claim."""

    claim: dict[str, Any]


def claim(job_id: str, correlation_id: str, owner: str, deps: Dependencies) -> dict[str, Any] | None:
    """Claim the job for this delivery (``None``); returns the existing claim when another delivery got there first."""
    now = int(deps.clock())
    try:
        deps.dynamodb.put_item(
            TableName=deps.settings.claims_table,
            Item={
                "jobId": {"S": job_id},
                "state": {"S": DISPATCHING},
                "owner": {"S": owner},
                "correlationId": {"S": correlation_id},
                "claimedAt": {"N": str(now)},
                "expiresAt": {"N": str(now + RETENTION_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(jobId)",
        )
    except ClientError as error:
        if not _lost_condition(error):
            raise
        item = deps.dynamodb.get_item(
            TableName=deps.settings.claims_table, Key={"jobId": {"S": job_id}}, ConsistentRead=True
        )
        return item.get("Item") or {}
    return None


def take_over(job_id: str, stale: dict[str, Any], owner: str, deps: Dependencies) -> bool:
    """Make this delivery the owner of a claim whose delivery died before sending; ``False`` if another won."""
    return _conditional_update(
        job_id,
        "SET #owner = :owner, claimedAt = :now",
        "#state = :dispatching AND claimedAt = :seen",
        {":owner": {"S": owner}, ":dispatching": {"S": DISPATCHING}, ":seen": stale["claimedAt"]},
        deps,
    )


def begin_posting(job_id: str, owner: str, deps: Dependencies, details: Mapping[str, str] | None = None) -> bool:
    """Fence the dispatch: ``True`` only while this delivery still owns the claim (then it may send, once).

    ``details`` (repository, workflow, execution, …) are kept with the claim for the halting path. A claim
    whose execution already ended (``haltAskedAt``, set by ``halting``) is never posted.
    """
    extra = dict(details or {})
    names = {f"#d{index}": name for index, name in enumerate(extra)}
    values = {f":d{index}": {"S": value} for index, value in enumerate(extra.values())}
    sets = "".join(f", {name} = {value}" for name, value in zip(names, values, strict=True))
    return _conditional_update(
        job_id,
        f"SET #state = :posting, claimedAt = :now{sets}",
        "#owner = :owner AND #state = :dispatching AND attribute_not_exists(haltAskedAt)",
        {":owner": {"S": owner}, ":dispatching": {"S": DISPATCHING}, ":posting": {"S": POSTING}, **values},
        deps,
        names,
    )


def note_execution(execution_id: str, pipeline: str, job_id: str, deps: Dependencies) -> bool:
    """Add the job to its execution's item (before the dispatch goes out); ``False`` if it could not be written."""
    now = int(deps.clock())
    try:
        deps.dynamodb.update_item(
            TableName=deps.settings.claims_table,
            Key={"jobId": {"S": EXECUTION_PREFIX + execution_id}},
            UpdateExpression="ADD jobIds :job SET pipeline = if_not_exists(pipeline, :pipeline), expiresAt = :expires",
            ExpressionAttributeValues={
                ":job": {"SS": [job_id]},
                ":pipeline": {"S": pipeline},
                ":expires": {"N": str(now + RETENTION_SECONDS)},
            },
        )
    except ClientError as error:
        LOGGER.error("execution %s: could not record job %s (%s)", execution_id, job_id, _code(error))
        return False
    return True


@dataclass(frozen=True)
class ExecutionJobs:
    """The jobs that dispatched (or were about to dispatch) a run for one pipeline execution."""

    pipeline: str
    job_ids: tuple[str, ...]


def execution_jobs(execution_id: str, deps: Dependencies) -> ExecutionJobs | None:
    item = _read(EXECUTION_PREFIX + execution_id, deps)
    if item is None:
        return None
    return ExecutionJobs(item.get("pipeline", {}).get("S", ""), tuple(sorted(item.get("jobIds", {}).get("SS", []))))


def job_claim(job_id: str, deps: Dependencies) -> dict[str, Any] | None:
    """The claim of a job, as the table holds it (strongly consistent)."""
    return _read(job_id, deps)


def note_run(job_id: str, run_id: int, run_url: str, deps: Dependencies) -> None:
    """Keep the run a job's dispatch started once it is known; a failed write costs only a later search."""
    try:
        deps.dynamodb.update_item(
            TableName=deps.settings.claims_table,
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET runId = :run, runUrl = :url",
            ConditionExpression="attribute_exists(jobId)",
            ExpressionAttributeValues={":run": {"N": str(run_id)}, ":url": {"S": run_url}},
        )
    except ClientError as error:
        LOGGER.warning("job %s: could not record run %s (%s)", job_id, run_id, _code(error))


def halt_before_dispatch(job_id: str, deps: Dependencies) -> bool:
    """Keep a claim that was not posted yet from ever being posted; ``False`` once its dispatch went out."""
    return _conditional_update(
        job_id,
        "SET haltAsked = :verb, haltAskedAt = :now",
        "#state = :dispatching",
        {":verb": {"S": "before-dispatch"}, ":dispatching": {"S": DISPATCHING}},
        deps,
    )


def note_halt(job_id: str, verb: str, deps: Dependencies) -> None:
    """Record what the halting path asked of the job's run (``cancel``, ``force-cancel``, ``before-dispatch``)."""
    deps.dynamodb.update_item(
        TableName=deps.settings.claims_table,
        Key={"jobId": {"S": job_id}},
        UpdateExpression="SET haltAsked = :verb, haltAskedAt = :now",
        ExpressionAttributeValues={":verb": {"S": verb}, ":now": {"N": str(int(deps.clock()))}},
    )


def record_answer(job_id: str, outcome: Outcome, deps: Dependencies) -> bool:
    """Keep the answer with the claim, so a redelivery sends the same one; ``False`` if it could not be written.

    A failed write never costs the answer: after a dispatch the continuation token carries the run to the
    next invocation whatever the table says, and a redelivery of a ``posting`` claim looks for the run.
    """
    if isinstance(outcome, Continue):
        state, answer = DISPATCHED, {"token": outcome.state, "summary": outcome.summary}
    elif isinstance(outcome, Failed):
        state, answer = FAILED, {"message": outcome.message, "type": outcome.failure_type}
    else:
        return True
    try:
        deps.dynamodb.update_item(
            TableName=deps.settings.claims_table,
            Key={"jobId": {"S": job_id}},
            UpdateExpression="SET #state = :state, answer = :answer",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues={":state": {"S": state}, ":answer": {"S": json.dumps(answer)}},
        )
    except ClientError as error:
        LOGGER.error("job %s: could not record the %s answer (%s); answering anyway", job_id, state, _code(error))
        return False
    return True


def duplicate(existing: dict[str, Any], timeout_seconds: int, deps: Dependencies) -> Outcome | TakeOver:
    """A second delivery of a job: repeat the answer, stand back, take over, or follow the run it may have started."""
    # Repeating the first delivery's answer is harmless: CodePipeline refuses a second one for the same job,
    # and where the first answer never arrived (its delivery failed to send it), this one stands in.
    state = existing.get("state", {}).get("S")
    if state == DISPATCHED:
        answer = json.loads(existing["answer"]["S"])
        return Continue(answer["token"], answer["summary"])
    if state == FAILED:
        answer = json.loads(existing["answer"]["S"])
        return Failed(answer["message"], answer["type"])
    since = int(existing.get("claimedAt", {}).get("N", "0"))
    if deps.clock() - since < deps.settings.claim_lease_seconds:
        return NoAnswer(f"another delivery of this job holds its claim ({state})")
    if state != POSTING:
        return TakeOver(existing)
    # The delivery that was sending the dispatch died: the run may exist, so look for it, never send again.
    follow = {
        "v": TOKEN_VERSION,
        "phase": "find",
        "correlation_id": existing["correlationId"]["S"],
        "dispatched_at": datetime.fromtimestamp(since, UTC).isoformat(),
        "deadline": since + timeout_seconds,
        "polls": 0,
    }
    return Continue(follow, "an earlier delivery stopped while dispatching this job; looking for its run")


def _read(key: str, deps: Dependencies) -> dict[str, Any] | None:
    answer = deps.dynamodb.get_item(
        TableName=deps.settings.claims_table, Key={"jobId": {"S": key}}, ConsistentRead=True
    )
    return answer.get("Item")


def _conditional_update(
    job_id: str,
    update: str,
    condition: str,
    values: dict[str, Any],
    deps: Dependencies,
    names: Mapping[str, str] | None = None,
) -> bool:
    try:
        deps.dynamodb.update_item(
            TableName=deps.settings.claims_table,
            Key={"jobId": {"S": job_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            # DynamoDB refuses a name the expressions do not use.
            ExpressionAttributeNames={
                key: name
                for key, name in {"#state": "state", "#owner": "owner", **(names or {})}.items()
                if key in update or key in condition
            },
            ExpressionAttributeValues={**values, ":now": {"N": str(int(deps.clock()))}},
        )
    except ClientError as error:
        if _lost_condition(error):
            return False
        raise
    return True


def _lost_condition(error: ClientError) -> bool:
    return _code(error) == "ConditionalCheckFailedException"


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
