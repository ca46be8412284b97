"""The shared act-once ledger: claims, duplicates, leases, and notes that survive a failed attempt."""

from __future__ import annotations

import boto3
import delivery_ledger
import pytest
from delivery_ledger import Claim, DeliveryLedger
from moto import mock_aws

from tests.functions.conftest import REGION, create_ledger_table
from tests.functions.lambda_runtime import FIRST_RETRY_DELAY_SECONDS, Clock, LambdaContext

NOW = 1_800_000_000


@pytest.fixture
def dynamodb():
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        create_ledger_table(client)
        yield client


def ledger(dynamodb, now=NOW, lease_seconds=300):
    return DeliveryLedger("ledger", dynamodb, lease_seconds=lease_seconds, clock=lambda: now)


def item(dynamodb, key):
    return dynamodb.get_item(TableName="ledger", Key={"pk": {"S": key}})["Item"]


def test_a_fresh_event_is_claimed_once_and_a_completed_one_is_a_duplicate(dynamodb):
    assert ledger(dynamodb).claim("e") == Claim({})
    assert ledger(dynamodb).claim("e") is None  # held right now
    ledger(dynamodb).complete("e")
    assert ledger(dynamodb, now=NOW + 3600).claim("e") is None  # done, however late the copy
    assert int(item(dynamodb, "e")["expires_at"]["N"]) == NOW + 7 * 24 * 3600


def test_a_released_claim_is_taken_again_with_what_the_failed_attempt_noted(dynamodb):
    first = ledger(dynamodb)
    assert first.claim("e") == Claim({})
    first.note("e", outcome="rolled back", rollback_execution="r-1")
    first.release("e")
    assert ledger(dynamodb).claim("e") == Claim({"outcome": "rolled back", "rollback_execution": "r-1"})
    assert item(dynamodb, "e")["state"]["S"] == "pending"


def test_a_crashed_holder_is_replaced_only_after_its_lease(dynamodb):
    assert ledger(dynamodb, lease_seconds=60).claim("e") is not None
    assert ledger(dynamodb, now=NOW + 60).claim("e") is None
    assert ledger(dynamodb, now=NOW + 61).claim("e") == Claim({})


def test_a_claim_is_truthy_so_callers_that_only_ask_whether_to_act_keep_working(dynamodb):
    assert ledger(dynamodb).claim("e")
    assert not ledger(dynamodb).claim("e")


# --- leases last as long as the invocation, and end before Lambda's retry ------------------------------------------
# Lambda retries a failed asynchronous invocation (a timeout is a failure, and so is a process that dies out of
# memory) one minute after it failed, then two minutes later. A process may die the moment after it claimed.


def invocation(dynamodb, clock, timeout_seconds):
    """A ledger as a function builds it for one invocation, and that invocation's context."""
    context = LambdaContext(clock, timeout_seconds)
    lease = delivery_ledger.invocation_lease(context)
    return DeliveryLedger("ledger", dynamodb, lease_seconds=lease, clock=clock), context


RETRY_HOST_CLOCK_BEHIND_SECONDS = 2
"""The retry runs on another host, whose clock may be a little behind the holder's."""


@pytest.mark.parametrize(
    ("timeout_seconds", "copy_arrives_after", "outcome"),
    [
        # A copy while the holder may still be working (SNS/EventBridge deliver at least once): a duplicate, for the
        # whole of an invocation of up to 54 s ...
        (54, 1, "duplicate"),
        (54, 53, "duplicate"),
        # ... and for the first 50 s of a longer one.
        (60, 50, "duplicate"),
        (120, 50, "duplicate"),
        # Lambda's first retry of an invocation killed at its timeout: the lease has ended, the retry does the work.
        (54, 54 + FIRST_RETRY_DELAY_SECONDS, "claimed"),
        (60, 60 + FIRST_RETRY_DELAY_SECONDS, "claimed"),
        (120, 120 + FIRST_RETRY_DELAY_SECONDS, "claimed"),
        (900, 900 + FIRST_RETRY_DELAY_SECONDS, "claimed"),
        # The retry of an invocation that died just after it claimed (out of memory), seen on a clock behind:
        # whatever the timeout, the lease has ended.
        (54, FIRST_RETRY_DELAY_SECONDS - RETRY_HOST_CLOCK_BEHIND_SECONDS, "claimed"),
        (60, FIRST_RETRY_DELAY_SECONDS - RETRY_HOST_CLOCK_BEHIND_SECONDS, "claimed"),
        (120, FIRST_RETRY_DELAY_SECONDS - RETRY_HOST_CLOCK_BEHIND_SECONDS, "claimed"),
        (900, FIRST_RETRY_DELAY_SECONDS - RETRY_HOST_CLOCK_BEHIND_SECONDS, "claimed"),
    ],
)
def test_a_claim_holds_for_the_invocation_and_ends_before_lambdas_retry(
    dynamodb, timeout_seconds, copy_arrives_after, outcome
):
    clock = Clock(NOW + 0.4)
    holder, _context = invocation(dynamodb, clock, timeout_seconds)
    assert holder.claim("e") == Claim({})
    holder.note("e", outcome="rolled back")  # then the invocation is killed: no complete, no release
    clock.advance(copy_arrives_after)
    copy, _ = invocation(dynamodb, clock, timeout_seconds)
    claim = copy.claim("e")
    assert ("claimed" if claim is not None else "duplicate") == outcome
    if claim is not None:
        assert claim.notes == {"outcome": "rolled back"}  # the retry finds what the killed attempt did


def test_the_lease_is_what_is_left_of_the_invocation_when_the_claim_is_made(dynamodb):
    clock = Clock(NOW)
    ledger, _context = invocation(dynamodb, clock, 60)
    clock.advance(45)  # e.g. a slow cold start: 15 s are left
    ledger.claim("e")
    assert int(item(dynamodb, "e")["lease_until"]["N"]) == NOW + 60 + delivery_ledger.CLOCK_SKEW_SECONDS


@pytest.mark.parametrize("claimed_at_fraction", [0.01, 0.5, 0.99])
def test_a_claim_of_a_long_invocation_ends_before_a_retry_seen_on_a_clock_behind(dynamodb, claimed_at_fraction):
    """Whole seconds in the table: the lease end is rounded up, the retry's "now" down; neither may cost the event."""
    clock = Clock(NOW + claimed_at_fraction)
    holder, _context = invocation(dynamodb, clock, 900)
    assert holder.claim("e") == Claim({})
    clock.advance(FIRST_RETRY_DELAY_SECONDS - RETRY_HOST_CLOCK_BEHIND_SECONDS)
    retry, _ = invocation(dynamodb, clock, 900)
    assert retry.claim("e") == Claim({})


def test_without_an_invocation_deadline_a_claim_still_ends_before_lambdas_first_retry(dynamodb):
    first = DeliveryLedger("ledger", dynamodb, clock=lambda: NOW)
    assert first.claim("e") == Claim({})
    retry = DeliveryLedger("ledger", dynamodb, clock=lambda: NOW + FIRST_RETRY_DELAY_SECONDS)
    assert retry.claim("e") == Claim({})
    assert delivery_ledger.invocation_lease(None)() < FIRST_RETRY_DELAY_SECONDS


def test_the_first_fact_kept_under_a_key_wins_and_reads_back_until_it_expires(dynamodb):
    """Release news keeps the first message of an execution; a reordered later message must not replace it."""
    first, later = ledger(dynamodb), ledger(dynamodb, now=NOW + 30)
    assert first.remember("news-thread#booking-prod#exec-1", channel="C0DEPLOYS", ts="1733051281.000100")
    assert not later.remember("news-thread#booking-prod#exec-1", channel="C0DEPLOYS", ts="1733051999.000900")
    assert later.recall("news-thread#booking-prod#exec-1") == {"channel": "C0DEPLOYS", "ts": "1733051281.000100"}
    assert later.recall("news-thread#booking-prod#exec-2") == {}
    # DynamoDB's TTL deletes expired items within days, not at once: an expired fact reads as none.
    assert ledger(dynamodb, now=NOW + 8 * 24 * 3600).recall("news-thread#booking-prod#exec-1") == {}
