"""Claims on pipeline jobs, so each delivery of an asynchronous job is answered once, by one delivery.

CodePipeline invokes an action's function asynchronously (Lambda developer
guide, "Using Lambda with CodePipeline"), and Lambda delivers an asynchronous
event at least once and retries a delivery that failed or timed out. The job
API offers no lock: ``AcknowledgeJob`` needs the nonce that only
``PollForJobs`` hands to custom-action workers. So a delivery claims the job in
the ledger table with a conditional write before it works on it:

- the first delivery claims it, answers, and marks the claim ``answered``;
- a duplicate that finds the claim ``answered`` sends nothing (the job has its answer);
- a duplicate that finds a live claim sends nothing either (the claimant answers);
- a claim older than the lease belongs to a delivery that died (killed at its
  timeout, or crashed): the next delivery takes it over and answers. The lease
  is the function's timeout, so a delivery that died has always let go of it
  before Lambda's retry of that delivery arrives (the retry starts after the
  failed delivery ended), and the work is done once, never zero times;
- a delivery that fails in a way a retry can mend (throttling after the
  backoff, a result CodePipeline did not take) releases its claim and raises,
  so Lambda's retry finds it free.

A claim is keyed by the job id *and* the continuation token it carries: a
continuation is a new question even if a job id were ever reused. Claims expire
with the ledger's TTL.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from botocore.exceptions import ClientError

from .aws import Aws
from .retry import error_code

WORKING, ANSWERED, RELEASED = "working", "answered", "released"
CLAIM_TTL_DAYS = 7

Claim = Literal["claimed", "answered", "busy"]
"""``claimed``: this delivery answers; ``answered``: the job has its answer; ``busy``: another delivery is on it."""


def _key(job_id: str, continuation_token: str | None) -> dict[str, Any]:
    question = hashlib.sha256((continuation_token or "").encode("utf-8")).hexdigest()[:16]
    return {"pk": {"S": f"JOB#{job_id}"}, "sk": {"S": f"ANSWER#{question}"}}


@dataclass
class JobClaims:
    aws: Aws
    now: datetime

    @property
    def _table(self) -> str:
        return self.aws.settings.ledger_table

    def _epoch(self) -> int:
        return int(self.now.timestamp())

    def claim(self, job_id: str, continuation_token: str | None) -> Claim:
        """Claim the job for this delivery, or say why this delivery must not answer it."""
        key = _key(job_id, continuation_token)
        expires = int((self.now + timedelta(days=CLAIM_TTL_DAYS)).timestamp())
        try:
            self.aws.call(
                "dynamodb",
                "put_item",
                TableName=self._table,
                Item={
                    **key,
                    "state": {"S": WORKING},
                    "claimed_at": {"N": str(self._epoch())},
                    "expires_at": {"N": str(expires)},
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
            return "claimed"
        except ClientError as error:
            if error_code(error) != "ConditionalCheckFailedException":
                raise
        item = self.aws.call("dynamodb", "get_item", TableName=self._table, Key=key, ConsistentRead=True).get(
            "Item", {}
        )
        state = item.get("state", {}).get("S")
        claimed_at = int(item.get("claimed_at", {}).get("N", "0"))
        if state == ANSWERED:
            return "answered"
        if state == WORKING and self._epoch() - claimed_at < self.aws.settings.lease_seconds:
            return "busy"
        return self._take_over(key, state or WORKING, claimed_at)

    def _take_over(self, key: dict[str, Any], state: str, claimed_at: int) -> Claim:
        """Take a released or expired claim; of two deliveries racing for it, one wins."""
        try:
            self.aws.call(
                "dynamodb",
                "update_item",
                TableName=self._table,
                Key=key,
                UpdateExpression="SET #state = :working, claimed_at = :now",
                ConditionExpression="#state = :seen AND claimed_at = :claimed_at",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues={
                    ":working": {"S": WORKING},
                    ":now": {"N": str(self._epoch())},
                    ":seen": {"S": state},
                    ":claimed_at": {"N": str(claimed_at)},
                },
            )
        except ClientError as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return "busy"
            raise
        return "claimed"

    def answered(self, job_id: str, continuation_token: str | None, summary: str) -> None:
        """Record that the job has its answer, so later deliveries of it send nothing."""
        self._set(job_id, continuation_token, ANSWERED, {"answer": {"S": summary[:1000]}})

    def release(self, job_id: str, continuation_token: str | None) -> None:
        """Let go of the claim, so Lambda's retry of this delivery may answer at once."""
        self._set(job_id, continuation_token, RELEASED, {"claimed_at": {"N": "0"}})

    def _set(self, job_id: str, continuation_token: str | None, state: str, values: dict[str, Any]) -> None:
        names = {"#state": "state", **{f"#{name}": name for name in values}}
        sets = ["#state = :state", *(f"#{name} = :{name}" for name in values)]
        self.aws.call(
            "dynamodb",
            "update_item",
            TableName=self._table,
            Key=_key(job_id, continuation_token),
            UpdateExpression="SET " + ", ".join(sets),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":state": {"S": state}, **{f":{name}": value for name, value in values.items()}},
        )
