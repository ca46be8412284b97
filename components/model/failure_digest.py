"""Stack settings of the failure digest: which teams have their own Slack channel, and the optional model summary.

Per stack, not per catalog entry: both stacks read the same catalog, and the
sandbox stack (``dev``) must not post into the teams' real channels. A team's
channel is a channel id (``C…``), reachable only through the Web API with the
stack's bot token (``slackBotTokenSecretName``): an incoming webhook posts to the
one channel it was made for, and AWS Chatbot to the channel of its configuration.

The model summary is off unless ``summary.modelId`` names an Amazon Bedrock
foundation model (``provider.model``, e.g. ``anthropic.claude-3-haiku-20240307-v1:0``)
in the stack's region. A cross-region inference profile (``us.…``, ``eu.…``,
``global.…``) is refused: it routes requests to other regions, which needs grants
there, and keeping build output in the tooling region is part of the promise.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

SlackChannelId = Annotated[str, StringConstraints(pattern=r"^[CG][A-Z0-9]{6,}$")]
TeamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
FOUNDATION_MODEL = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9._:-]+$")
INFERENCE_PROFILE_PREFIXES = ("us.", "us-gov.", "eu.", "apac.", "jp.", "au.", "ca.", "global.")
DEFAULT_MAX_TOKENS = 200


def _model_problem(model_id: str) -> str:
    if model_id.startswith(INFERENCE_PROFILE_PREFIXES):
        return (
            f"'{model_id}' is a cross-region inference profile: it sends requests to other regions; name the "
            "foundation model itself (e.g. anthropic.claude-3-haiku-20240307-v1:0), enabled in the stack's region"
        )
    if not FOUNDATION_MODEL.match(model_id):
        return f"'{model_id}' is not a Bedrock foundation model id (provider.model, e.g. amazon.nova-lite-v1:0)"
    return ""


def _checked_model(model_id: str) -> str:
    problem = _model_problem(model_id)
    if problem:
        raise ValueError(problem)
    return model_id


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, alias_generator=to_camel)


class DigestSummary(_Frozen):
    """An Amazon Bedrock model that adds a one-line cause and next step to each digest."""

    model_id: Annotated[str, AfterValidator(_checked_model)] = Field(
        description="Bedrock foundation model id, in the stack's region; the digest's role may invoke only it."
    )
    max_tokens: int = Field(
        default=DEFAULT_MAX_TOKENS, ge=16, le=1000, description="Converse maxTokens: the answer's hard budget."
    )


class FailureDigestSettings(_Frozen):
    team_channels: dict[TeamName, SlackChannelId] = Field(
        default_factory=dict,
        description="Catalog owner (team) → the Slack channel id its digests go to (needs slackBotTokenSecretName); "
        "other teams' digests go to the stack's channel.",
    )
    summary: DigestSummary | None = Field(
        default=None, description="Off by default: a Bedrock model's one-line cause and next step, from redacted lines."
    )
