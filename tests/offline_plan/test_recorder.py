"""What the plan records: engine-exact URNs and inputs, with secrets redacted."""

from __future__ import annotations

from google.protobuf import json_format
from pulumi.runtime import rpc

from offline_plan.recorder import REDACTED, UNKNOWN, engine_view


def wire(value):
    """Serialise like the SDK does before a value reaches the engine, then read it back as the engine would."""
    from pulumi.runtime.sync_await import _sync_await

    struct = _sync_await(rpc.serialize_properties({"value": value}, {}))
    return json_format.MessageToDict(struct)["value"]


def test_secret_values_are_redacted_wherever_they_nest(monkeypatch):
    import pulumi
    from pulumi.runtime import settings
    from pulumi.runtime.proto import resource_pb2

    # The SDK marks secrets only for a monitor that supports them; set_mocks advertises that,
    # but whether a plan has run in this worker yet depends on test order.
    features = {*settings.SETTINGS.monitor_features, resource_pb2.RESOURCE_MONITOR_FEATURE_SECRETS}
    monkeypatch.setattr(settings.SETTINGS, "monitor_features", features)

    secret = wire({"url": pulumi.Output.secret("https://hooks.slack.example/T000/B000/XXXX"), "channel": "#deploys"})
    assert engine_view(secret) == {"url": REDACTED, "channel": "#deploys"}


def test_unknown_values_are_marked_not_dropped():
    assert engine_view([rpc.UNKNOWN, "known"]) == [UNKNOWN, "known"]


def test_child_urns_carry_the_whole_parent_type_chain(dev_plan):
    by_urn = {resource.urn: resource for resource in dev_plan.resources}
    role = next(r for r in dev_plan.resources if r.name == "booking-pipeline-role")
    assert role.urn == (
        "urn:pulumi:dev::cicd-platform::cicd:platform:Platform$cicd:service:ServicePipeline"
        "$aws:iam/role:Role::booking-pipeline-role"
    )
    for resource in dev_plan.resources:
        if resource.parent and by_urn[resource.parent].type != "pulumi:pulumi:Stack":
            parent_chain = resource.parent.split("::")[2]
            assert resource.urn.split("::")[2] == f"{parent_chain}${resource.type}"
    assert len(by_urn) == len(dev_plan.resources), "URNs must be unique"
