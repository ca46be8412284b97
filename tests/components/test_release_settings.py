"""Stack settings for release news and approvals: Slack delivery and who may approve."""

from __future__ import annotations

import pytest

from components.model.errors import PlatformInputError
from components.model.settings import parse_settings

FILE = "Pulumi.prod.yaml"


def rejects(raw, *fragments: str) -> None:
    with pytest.raises(PlatformInputError) as caught:
        parse_settings(raw, FILE)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message


def test_without_a_workspace_release_news_goes_through_the_webhook_secret(prod_settings_raw):
    settings = parse_settings(prod_settings_raw, FILE)
    assert settings.slack_workspace_id is None and settings.slack_channel_id is None
    assert settings.slack_webhook_secret_name == "cicd-platform/slack-webhook"


def test_workspace_and_channel_ids_select_chatbot(prod_settings_raw):
    prod_settings_raw.update({"slackWorkspaceId": "T01ABCDEF", "slackChannelId": "C0123ABCD"})
    settings = parse_settings(prod_settings_raw, FILE)
    assert (settings.slack_workspace_id, settings.slack_channel_id) == ("T01ABCDEF", "C0123ABCD")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("slackWorkspaceId", "t01abcdef"),
        ("slackWorkspaceId", "W01ABCDEF"),
        ("slackChannelId", "#deploys"),
        ("slackChannelId", "D0123ABCD"),
        ("slackWebhookSecretName", "has spaces"),
    ],
)
def test_malformed_slack_settings_name_the_field(prod_settings_raw, field, value):
    prod_settings_raw.update({"slackWorkspaceId": "T01ABCDEF", "slackChannelId": "C0123ABCD", field: value})
    rejects(prod_settings_raw, f"field 'cicd-platform:settings.{field}'")


@pytest.mark.parametrize("given", ["slackWorkspaceId", "slackChannelId"])
def test_workspace_and_channel_come_together(prod_settings_raw, given):
    prod_settings_raw[given] = {"slackWorkspaceId": "T01ABCDEF", "slackChannelId": "C0123ABCD"}[given]
    rejects(prod_settings_raw, "slackWorkspaceId and slackChannelId go together", "not its #name")


def test_release_managers_must_live_in_the_tooling_account(prod_settings_raw):
    prod_settings_raw["releaseManagers"].append("arn:aws:iam::999999999999:role/release-manager")
    rejects(prod_settings_raw, "release manager arn:aws:iam::999999999999:role/release-manager", "tooling account")
