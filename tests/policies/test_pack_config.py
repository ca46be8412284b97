"""Reading --policy-pack-config files: levels, properties, and refusals."""

from __future__ import annotations

import json

import pytest

from policies import pack_config


def test_levels_and_properties_are_read_from_both_forms():
    config = pack_config.parse(
        {
            "all": "advisory",
            "prod-queued": "disabled",
            "codebuild-no-privileged": {"enforcementLevel": "mandatory", "allowedProjects": ["a-build"]},
            "log-retention": {"minimumDays": 90},
        }
    )
    assert config.level_of("prod-queued", "advisory") == "disabled"
    assert config.level_of("codebuild-no-privileged", "advisory") == "mandatory"
    assert config.level_of("kms-rotation", "mandatory") == "advisory"  # from "all"
    assert config.properties_of("codebuild-no-privileged") == {"allowedProjects": ["a-build"]}
    assert config.properties_of("log-retention") == {"minimumDays": 90}
    assert config.properties_of("kms-rotation") == {}


def test_a_rule_keeps_its_own_level_when_the_file_says_nothing():
    assert pack_config.parse({}).level_of("kms-rotation", "mandatory") == "mandatory"


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        ({"kms-rotation": "strict"}, "enforcementLevel 'strict' is not one of"),
        ({"kms-rotation": {"enforcementLevel": "remediate-ish"}}, "enforcementLevel 'remediate-ish'"),
        ({"kms-rotation": 3}, "must be a level or an object"),
    ],
)
def test_a_malformed_entry_is_refused_with_the_policy_named(document, problem):
    with pytest.raises(ValueError, match=problem) as error:
        pack_config.parse(document)
    assert "kms-rotation" in str(error.value)


def test_a_missing_file_means_no_configuration(tmp_path):
    assert pack_config.load(tmp_path / "absent.json") == pack_config.PackConfig()


def test_a_file_is_loaded(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"s3-kms": "advisory"}))
    assert pack_config.load(path).level_of("s3-kms", "mandatory") == "advisory"


def test_remediate_reports_as_mandatory_like_the_server_does_for_validation_only_policies():
    assert pack_config.parse({"s3-kms": "remediate"}).level_of("s3-kms", "advisory") == "mandatory"
