"""The shared act-once ledger: claims, duplicates, leases, and notes that survive a failed attempt."""

from __future__ import annotations

import boto3
import pytest
from delivery_ledger import Claim, DeliveryLedger
from moto import mock_aws

from tests.functions.conftest import REGION, create_ledger_table

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
