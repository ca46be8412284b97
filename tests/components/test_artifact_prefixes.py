"""Each service owns the artifact prefixes of its pipelines; a catalog that would share one is refused."""

from __future__ import annotations

import copy

import pytest

from components.model import naming
from components.model.artifact_prefixes import check_artifact_prefixes
from components.model.catalog import parse_catalog
from components.model.errors import PlatformInputError
from components.model.settings import parse_settings
from tests.conftest import service_entry


def check(catalog_raw, settings_raw):
    check_artifact_prefixes(parse_catalog(catalog_raw, "c.yaml"), parse_settings(settings_raw, "s.yaml"), "c.yaml")


def test_prefix_is_the_pipeline_name_cut_to_twenty_characters():
    assert naming.artifact_prefix("booking", "prod") == "booking-prod"
    assert naming.artifact_prefix("reservation-notifications", "prod") == "reservation-notifica"


def test_the_reference_catalog_gives_every_service_its_own_prefixes(catalog_raw, dev_settings_raw, prod_settings_raw):
    check(catalog_raw, dev_settings_raw)
    check(catalog_raw, prod_settings_raw)


def test_two_services_whose_pipelines_cut_to_the_same_prefix_are_refused(catalog_raw, dev_settings_raw):
    # 'abcdefghijklmnopq-staging' and 'abcdefghijklmnopq-st' + '-qa' both cut to 'abcdefghijklmnopq-st'.
    first = copy.deepcopy(service_entry(catalog_raw, "reporting"))
    first["name"] = "abcdefghijklmnopq"
    second = copy.deepcopy(first)
    second["name"] = "abcdefghijklmnopq-st"
    catalog_raw["services"] += [first, second]
    with pytest.raises(PlatformInputError) as caught:
        check(catalog_raw, dev_settings_raw)
    message = str(caught.value)
    assert message.startswith("c.yaml: service 'abcdefghijklmnopq-st': field 'name': its ")
    assert "under 'abcdefghijklmnopq-st/', the prefix of service 'abcdefghijklmnopq'" in message


def test_long_names_of_one_service_may_share_a_prefix_between_its_own_environments(catalog_raw, dev_settings_raw):
    entry = copy.deepcopy(service_entry(catalog_raw, "reporting"))
    entry["name"] = "a-very-long-service-name-x"
    catalog_raw["services"].append(entry)
    check(catalog_raw, dev_settings_raw)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (
            "arn:aws:codestar-connections:eu-west-1:1:connection/abc",
            [
                "arn:aws:codeconnections:eu-west-1:1:connection/abc",
                "arn:aws:codestar-connections:eu-west-1:1:connection/abc",
            ],
        ),
        (
            "arn:aws:codeconnections:eu-west-1:1:connection/abc",
            [
                "arn:aws:codeconnections:eu-west-1:1:connection/abc",
                "arn:aws:codestar-connections:eu-west-1:1:connection/abc",
            ],
        ),
    ],
)
def test_connection_arns_cover_both_service_prefixes(arn, expected):
    assert naming.connection_arns(arn) == expected
