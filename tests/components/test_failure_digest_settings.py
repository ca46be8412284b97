"""Stack settings of the failure digest: a bot token for team channels and threads, and the optional model."""

from __future__ import annotations

import pytest

from components.model.catalog import parse_catalog
from components.model.errors import PlatformInputError
from components.model.settings import check_catalog_against_stack, parse_settings

FILE = "Pulumi.prod.yaml"
BOT = {"slackBotTokenSecretName": "cicd-platform/slack-bot-token", "slackChannelId": "C0DEPLOYS1"}


def rejects(raw, *fragments: str) -> str:
    with pytest.raises(PlatformInputError) as caught:
        parse_settings(raw, FILE)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_by_default_digests_follow_release_news_through_the_webhook_without_a_model(prod_settings_raw):
    settings = parse_settings(prod_settings_raw, FILE)
    assert settings.slack_bot_token_secret_name is None
    assert settings.failure_digest.team_channels == {} and settings.failure_digest.summary is None


def test_a_bot_token_with_the_stack_channel_enables_team_channels_and_a_model(prod_settings_raw):
    prod_settings_raw.update(
        {
            **BOT,
            "failureDigest": {
                "teamChannels": {"team-pricing": "C0PRICING1"},
                "summary": {"modelId": "anthropic.claude-3-haiku-20240307-v1:0", "maxTokens": 150},
            },
        }
    )
    settings = parse_settings(prod_settings_raw, FILE)
    assert settings.failure_digest.team_channels == {"team-pricing": "C0PRICING1"}
    assert settings.failure_digest.summary.model_id == "anthropic.claude-3-haiku-20240307-v1:0"
    assert settings.failure_digest.summary.max_tokens == 150


def test_the_model_alone_needs_no_bot_token(prod_settings_raw):
    prod_settings_raw["failureDigest"] = {"summary": {"modelId": "amazon.nova-lite-v1:0"}}
    assert parse_settings(prod_settings_raw, FILE).failure_digest.summary.max_tokens == 200


def test_team_channels_need_the_web_api(prod_settings_raw):
    prod_settings_raw["failureDigest"] = {"teamChannels": {"team-pricing": "C0PRICING1"}}
    rejects(prod_settings_raw, "failureDigest.teamChannels needs slackBotTokenSecretName", "webhook posts to its one")


def test_a_bot_token_needs_the_stacks_channel_id_and_is_not_chatbot(prod_settings_raw):
    rejects({**prod_settings_raw, "slackBotTokenSecretName": "cicd/bot"}, "needs slackChannelId", "not its #name")
    both = {**prod_settings_raw, **BOT, "slackWorkspaceId": "T01ABCDEF"}
    rejects(both, "two ways to deliver release news; choose one")


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        ("us.anthropic.claude-3-haiku-20240307-v1:0", "cross-region inference profile"),
        ("global.anthropic.claude-sonnet-4-20250514-v1:0", "cross-region inference profile"),
        ("claude", "not a Bedrock foundation model id"),
        ("arn:aws:bedrock:eu-west-1::foundation-model/amazon.nova-lite-v1:0", "not a Bedrock foundation model id"),
    ],
)
def test_a_model_id_that_is_not_a_foundation_model_of_this_region_is_refused(prod_settings_raw, model, problem):
    prod_settings_raw["failureDigest"] = {"summary": {"modelId": model}}
    rejects(prod_settings_raw, "field 'cicd-platform:settings.failureDigest.summary.modelId'", problem)


@pytest.mark.parametrize(
    ("field", "value", "where"),
    [
        ("teamChannels", {"team-pricing": "#pricing"}, "failureDigest.teamChannels.team-pricing"),
        ("summary", {"modelId": "amazon.nova-lite-v1:0", "maxTokens": 5000}, "failureDigest.summary.maxTokens"),
        ("summary", {"modelId": "amazon.nova-lite-v1:0", "temperature": 1}, "failureDigest.summary.temperature"),
    ],
)
def test_malformed_digest_settings_name_the_field(prod_settings_raw, field, value, where):
    prod_settings_raw.update({**BOT, "failureDigest": {field: value}})
    rejects(prod_settings_raw, f"field 'cicd-platform:settings.{where}'")


def test_a_team_channel_for_a_team_that_owns_nothing_is_a_typo(prod_settings_raw, catalog_raw):
    prod_settings_raw.update({**BOT, "failureDigest": {"teamChannels": {"team-pricng": "C0PRICING1"}}})
    catalog = parse_catalog(catalog_raw, "c.yaml")
    with pytest.raises(PlatformInputError, match="names 'team-pricng', but no service here is owned by it"):
        check_catalog_against_stack(catalog, parse_settings(prod_settings_raw, FILE), "c.yaml")
