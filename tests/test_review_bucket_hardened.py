"""Review: s3-bucket-hardened (mandatory) never judges a bucket whose name it does not see.

The rule skips every bucket whose ``bucket`` input is absent or unknown. A bucket declared with
``bucket_prefix`` gets its name from AWS at create time, so it is unknown at preview *and* when the policy
runs during ``up`` (before the create): such a bucket, with no public access block, no encryption and no
versioning, passes every time. In the offline plan an auto-named bucket has no ``bucket`` input at all
(mocks do not auto-name, DESIGN.md "Gotchas"), so it passes there too. The rule could link companions to the
bucket by parent/dependency (it already reads ``dependencies``, which the offline plan records but does not
hand to the rules).
"""

from __future__ import annotations

import pytest

from policies.rules.base import UNKNOWN, PolicyResource
from policies.rules.s3 import S3_BUCKET_HARDENED


def bucket(props) -> PolicyResource:
    return PolicyResource(type="aws:s3/bucket:Bucket", urn="urn:scratch-bucket", name="scratch", props=props)


def test_control_a_named_bucket_without_companions_is_reported():
    """The rule works on a named bucket (passes today)."""
    assert list(S3_BUCKET_HARDENED.violations([bucket({"bucket": "scratch-1"})], {}))


@pytest.mark.parametrize(
    "props",
    [
        pytest.param({"bucketPrefix": "scratch-"}, id="prefix-named-by-aws-at-create"),
        pytest.param({"bucket": UNKNOWN}, id="name-unknown-at-preview"),
        pytest.param({}, id="auto-named-as-the-offline-plan-records-it"),
    ],
)
def test_a_bucket_without_any_hardening_is_reported_whatever_its_name(props):
    found = list(S3_BUCKET_HARDENED.violations([bucket(props)], {}))
    assert found, "a bucket with no public access block, encryption or versioning passes the mandatory rule"
