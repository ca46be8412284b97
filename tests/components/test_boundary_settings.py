"""The stack setting naming the bootstrap's permissions boundary: defaulted like bootstrapRoleName, validated."""

from __future__ import annotations

import pytest

from components.model import naming
from components.model.errors import PlatformInputError
from components.model.settings import parse_settings

FILE = "Pulumi.prod.yaml"


def test_the_boundary_defaults_to_the_bootstraps_name(prod_settings_raw):
    settings = parse_settings(prod_settings_raw, FILE)
    assert settings.permissions_boundary_name == "cicd-platform-boundary"
    assert naming.permissions_boundary_arn("eu-west-1", "455555555555", settings.permissions_boundary_name) == (
        "arn:aws:iam::455555555555:policy/cicd-platform-boundary"
    )


def test_the_boundary_arn_follows_the_partition():
    assert naming.permissions_boundary_arn("cn-north-1", "444444444444", "b") == "arn:aws-cn:iam::444444444444:policy/b"


def test_a_custom_boundary_name_is_honoured(prod_settings_raw):
    prod_settings_raw["permissionsBoundaryName"] = "landing-zone.cicd-boundary"
    assert parse_settings(prod_settings_raw, FILE).permissions_boundary_name == "landing-zone.cicd-boundary"


@pytest.mark.parametrize("name", ["", "with space", "path/name", "x" * 129, 7])
def test_a_boundary_name_iam_would_refuse_is_a_located_error(prod_settings_raw, name):
    prod_settings_raw["permissionsBoundaryName"] = name
    with pytest.raises(PlatformInputError) as caught:
        parse_settings(prod_settings_raw, FILE)
    message = str(caught.value)
    assert message.startswith(f"{FILE}: ") and "\n" not in message
    assert "field 'cicd-platform:settings.permissionsBoundaryName'" in message
