"""Review: the shared policy documents grow with the fleet and pass AWS's hard size limits at ~60 services.

The README promises that one stack holds the fleet until "a few hundred services" and that shards carry
it to 1,000 (the core keeps the artifact store, the coordination graph and the approvals, which list every
service). ``make bench`` plans 100 and 200 services; the offline plan passes (no mandatory finding), but
AWS refuses the documents the core would send:

- KMS key policy: 32,768 bytes, not adjustable (AWS KMS Developer Guide, "Creating a key policy" / "Quotas");
- S3 bucket policy: 20 KB (Amazon S3 User Guide, "Bucket policies": "Bucket policies are limited to 20 KB");
- IAM inline policies: 10,240 characters per role, whitespace not counted (IAM User Guide, "IAM and AWS STS
  quotas", role policy size);
- SSM parameter value: 8 KB in the advanced tier, the largest Intelligent-Tiering can pick (Systems Manager
  User Guide, "Managing parameter tiers"; ``components/coordination/coordination.py`` says so itself).

The fleet here is the bench's own synthetic fleet of 100 services (``bench/plan_speed.py``), planned as
shards plan it (the fixture says why that covers the whole stack).
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from dataclasses import dataclass

import pytest
import yaml

from offline_plan.recorder import RecordedResource
from offline_plan.runner import run_plan
from tests.conftest import PROJECT_DIR
from tests.sharded_fleet import fleet_project
from tests.shared_plans import shared_plan

FLEET_SIZE = 100
KMS_KEY_POLICY_LIMIT = 32_768
S3_BUCKET_POLICY_LIMIT = 20 * 1024
IAM_ROLE_INLINE_LIMIT = 10_240
SSM_ADVANCED_VALUE_LIMIT = 8 * 1024


def text(value):
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class FleetDocuments:
    """What a 100-service fleet sends AWS: its core's shared documents and a whole replica's own."""

    resources: list[RecordedResource]


@pytest.fixture(scope="module")
def fleet_plan(tmp_path_factory) -> FleetDocuments:
    """The 100-service fleet as shards plan it: the core, and the shard that holds its first replica.

    Every document that grows with the fleet is the core's (the artifact key and bucket, the release
    managers' and coordinator's roles, the dependency graph); a shard declares its services' own roles,
    which read the fleet only through the core's outputs. ``tests/test_sharded_fleet.py`` proves that a
    core and its shards declare exactly the resources of the whole stack, so this covers the documents
    of the whole 100-service stack, and the first replica holds one service of every kind. (Planning the
    whole stack took 25 s of one core, the suite's slowest setup; this takes about 10.)

    The catalog's bytes are a pure function of ``FLEET_SIZE`` (the synthetic catalog draws nothing at
    random and ``yaml.safe_dump`` sorts keys), so ``shared_plan`` finds the core a previous session made.
    """
    sys.path.insert(0, str(PROJECT_DIR / "bench"))
    from plan_speed import synthetic_catalog
    from synthetic_catalog import reference_services, team_shards

    directory = tmp_path_factory.mktemp("fleet")
    catalog = directory / "services.yaml"
    services = synthetic_catalog(FLEET_SIZE)
    catalog.write_text(yaml.safe_dump(services))
    replica = len(reference_services())
    project = fleet_project(directory / "project", shards=team_shards(services["services"], replica))
    core = shared_plan(project, "prod", str(catalog))
    first = run_plan(project, "prod-s1", str(catalog), stack_references={core.stack: core.outputs}, stack_rules=False)
    assert {service.name for service in first.inputs.declared_services} == {
        service["name"] for service in services["services"][:replica]
    }, "the first shard holds the first replica"
    assert core.mandatory_violations == first.mandatory_violations == [], (
        "the fleet must plan cleanly for the limits below to be the point"
    )
    return FleetDocuments([*core.resources, *first.resources])


def test_key_policies_fit_kms_limit(fleet_plan):
    sizes = {
        r.name: len(text(r.inputs["policy"]).encode()) for r in fleet_plan.resources if r.type == "aws:kms/key:Key"
    }
    assert "artifacts-key" in sizes, "the shared artifact key is among the documents"
    too_big = {name: size for name, size in sizes.items() if size > KMS_KEY_POLICY_LIMIT}
    assert not too_big, f"KMS refuses key policies over {KMS_KEY_POLICY_LIMIT} bytes: {too_big}"


def test_bucket_policies_fit_s3_limit(fleet_plan):
    sizes = {
        r.name: len(text(r.inputs["policy"]).encode())
        for r in fleet_plan.resources
        if r.type == "aws:s3/bucketPolicy:BucketPolicy"
    }
    assert sizes, "the artifact bucket's policy is among the documents"
    too_big = {name: size for name, size in sizes.items() if size > S3_BUCKET_POLICY_LIMIT}
    assert not too_big, f"S3 refuses bucket policies over 20 KB: {too_big}"


def test_inline_policies_of_each_role_fit_iam_limit(fleet_plan):
    per_role: Counter = Counter()
    for r in fleet_plan.resources:
        if r.type == "aws:iam/rolePolicy:RolePolicy":
            per_role[(r.provider, r.inputs["role"])] += len(re.sub(r"\s", "", text(r.inputs["policy"])))
    assert len(per_role) > 100, "the core's roles and every role of a whole replica"
    too_big = {role: size for (_, role), size in per_role.items() if size > IAM_ROLE_INLINE_LIMIT}
    assert not too_big, f"IAM refuses more than {IAM_ROLE_INLINE_LIMIT} characters of inline policy per role: {too_big}"


def test_coordination_graph_fits_an_advanced_parameter(fleet_plan):
    (graph,) = [
        r for r in fleet_plan.resources if r.type == "aws:ssm/parameter:Parameter" and r.name.endswith("-graph")
    ]
    size = len(graph.inputs["insecureValue"].encode())
    assert size <= SSM_ADVANCED_VALUE_LIMIT, f"the graph parameter holds {size} bytes; PutParameter refuses > 8 KB"
