"""pipeline-artifact-cmk: every CodePipeline artifact store is encrypted with a KMS key (CKV_AWS_219)."""

from __future__ import annotations

from collections.abc import Iterator

from .base import Props, ResourceRule, as_list


def check(_: str, props: Props) -> Iterator[str]:
    stores = as_list(props.get("artifactStores"))
    if not stores:
        yield "pipeline has no artifact store"
    for index, store in enumerate(stores):
        key = (store or {}).get("encryptionKey") or {}
        if key.get("type") != "KMS" or not key.get("id"):
            location = (store or {}).get("location", f"#{index}")
            yield f"artifact store {location} has no customer-managed KMS key"


RULE = ResourceRule(
    name="pipeline-artifact-cmk",
    description="CodePipeline artifact stores use a customer-managed KMS key.",
    level="mandatory",
    resource_types=frozenset({"aws:codepipeline/pipeline:Pipeline"}),
    check=check,
    anchors=("CKV_AWS_219",),
)
