"""CodePipeline resources on their own: encrypted artifact stores, connection-based V2 pipelines.

The pipeline's *shape* (approval, scans, gates, artifact flow) needs the whole
stack and lives in ``pipeline_shape.py``.
"""

from __future__ import annotations

from collections.abc import Iterator

from .base import Config, Props, as_list, dig, is_unknown, resource_rule
from .pipeline_model import PIPELINE, Pipeline


def check_artifact_cmk(_: str, props: Props, __: Config) -> Iterator[str]:
    stores = props.get("artifactStores")
    if is_unknown(stores):
        return
    if not as_list(stores):
        yield "pipeline has no artifact store"
    for index, store in enumerate(as_list(stores)):
        kind, key_id = dig(store, "encryptionKey", "type"), dig(store, "encryptionKey", "id")
        if is_unknown(kind) or is_unknown(key_id) or is_unknown(store):
            continue
        if kind != "KMS" or not key_id:
            location = dig(store, "location")
            where = location if isinstance(location, str) else f"#{index}"
            yield f"artifact store {where} has no customer-managed KMS key"


PIPELINE_ARTIFACT_CMK = resource_rule(
    name="pipeline-artifact-cmk",
    description="CodePipeline artifact stores use a customer-managed KMS key.",
    level="mandatory",
    resource_types={PIPELINE},
    check=check_artifact_cmk,
    remediation="Give each artifact_stores entry encryption_key={'type': 'KMS', 'id': <CMK ARN>}.",
    anchors=("CKV_AWS_219",),
)


def check_source_connection(_: str, props: Props, __: Config) -> Iterator[str]:
    kind = props.get("pipelineType")
    if not is_unknown(kind) and kind != "V2":
        yield f"pipeline type is {kind or 'V1 (default)'}, not V2: no git triggers, branch filters or stage conditions"
    for action in Pipeline(None, props).actions():
        if action.provider == "GitHub" and dig(action.props, "owner") == "ThirdParty":
            yield f"action {action.stage}/{action.name} uses the GitHub v1 OAuth source (deprecated by AWS)"


PIPELINE_SOURCE_CONNECTION = resource_rule(
    name="pipeline-source-connection",
    description="Pipelines are V2 and read GitHub through a CodeConnections connection, never GitHub v1 OAuth.",
    level="mandatory",
    resource_types={PIPELINE},
    check=check_source_connection,
    remediation="Set pipeline_type='V2' and use the CodeStarSourceConnection source with the stack's connection.",
    anchors=("AWS deprecation of GitHub version 1 actions",),
)

RULES = (PIPELINE_ARTIFACT_CMK, PIPELINE_SOURCE_CONNECTION)
