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
            "approval-restricted": {"enforcementLevel": "mandatory", "releaseManagerRoles": ["release-manager"]},
            "log-retention": {"minimumDays": 90},
        }
    )
    assert config.level_of("prod-queued", "advisory") == "disabled"
    assert config.level_of("approval-restricted", "advisory") == "mandatory"
    assert config.level_of("kms-rotation", "mandatory") == "advisory"  # from "all"
    assert config.properties_of("approval-restricted") == {"releaseManagerRoles": ["release-manager"]}
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


# Validation against the pack, as the CLI validates --policy-pack-config (pkg/resource/analyzer/config.go).


def write(tmp_path, text: str):
    path = tmp_path / "policy-config.json"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "located"),
    [
        # A wrongly typed value: today it reaches log-retention's comparison and crashes make plan with a TypeError.
        (
            '{"log-retention": {"minimumDays": "90"}}',
            "policy 'log-retention': field 'minimumDays': '90' is not of type 'integer'",
        ),
        (
            '{"log-retention": {"minimumDays": 0}}',
            "policy 'log-retention': field 'minimumDays': 0 is less than the minimum of 1",
        ),
        (
            '{"approval-restricted": {"releaseManagerRoles": "release-manager"}}',
            "policy 'approval-restricted': field 'releaseManagerRoles': 'release-manager' is not of type 'array'",
        ),
        (
            '{"approval-restricted": {"releaseManagerRoles": ["release-manager", 7]}}',
            "policy 'approval-restricted': field 'releaseManagerRoles[1]': 7 is not of type 'string'",
        ),
        # The hand-kept list of privileged projects is gone: the rule judges what a project is.
        (
            '{"codebuild-no-privileged": {"allowedProjects": ["booking-build"]}}',
            "policy 'codebuild-no-privileged': field 'allowedProjects': unknown property (this policy reads nothing)",
        ),
        # Stricter than the CLI, which silently ignores both: a typo would leave the setting unapplied.
        (
            '{"log-retension": {"minimumDays": 90}}',
            "policy 'log-retension': the pack has no policy of this name (check the spelling)",
        ),
        (
            '{"log-retention": {"minimumDay": 90}}',
            "policy 'log-retention': field 'minimumDay': unknown property (this policy reads minimumDays)",
        ),
        ('{"all": {"minimumDays": 90}}', "policy 'all': 'all' takes only an enforcement level"),
        # Enforcement levels, with the CLI's rules.
        (
            '{"kms-rotation": "strict"}',
            "policy 'kms-rotation': enforcementLevel 'strict' is not one of advisory, mandatory, remediate, disabled",
        ),
        (
            '{"kms-rotation": {"enforcementLevel": 1}}',
            "policy 'kms-rotation': 1 is not a valid enforcement level; must be a string",
        ),
        ('{"kms-rotation": 3}', "policy 'kms-rotation': must be a level or an object, not 3"),
        # The file itself.
        ('["log-retention"]', "must be a JSON object mapping policy names to a level or an object"),
        (
            '{"log-retention": {"minimumDays": 90,}}',
            "is not valid JSON (Expecting property name enclosed in double quotes at line 1 column 38)",
        ),
    ],
)
def test_a_bad_config_is_refused_with_one_located_line(tmp_path, text, located):
    with pytest.raises(pack_config.PolicyConfigError) as refused:
        pack_config.load(write(tmp_path, text))
    assert str(refused.value) == located


def test_the_platform_config_is_valid_for_the_pack():
    config = pack_config.load()
    assert config.properties_of("log-retention") == {"minimumDays": 90}


def test_an_integral_float_is_an_integer_to_json_schema_and_to_the_rule(tmp_path):
    config = pack_config.load(write(tmp_path, '{"log-retention": {"minimumDays": 90.0}}'))
    from policies.rules.cloudwatch import LOG_RETENTION

    effective = LOG_RETENTION.effective_config(config.properties_of("log-retention"))
    assert effective == {"minimumDays": 90} and type(effective["minimumDays"]) is int
