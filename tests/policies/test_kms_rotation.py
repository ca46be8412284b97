import pytest

from policies.rules.kms import KMS_ROTATION as RULE

KEY = "aws:kms/key:Key"


def test_rule_is_mandatory_and_only_about_kms_keys():
    assert RULE.name == "kms-rotation"
    assert RULE.level == "mandatory"
    assert RULE.resource_types == frozenset({KEY})


@pytest.mark.parametrize("props", [{}, {"enableKeyRotation": False}, {"enableKeyRotation": None}])
def test_symmetric_key_without_rotation_is_reported(props):
    assert RULE.violations(KEY, props) == ["KMS key does not rotate: set enable_key_rotation=True"]


def test_explicit_symmetric_default_key_without_rotation_is_reported():
    found = RULE.violations(KEY, {"customerMasterKeySpec": "SYMMETRIC_DEFAULT", "enableKeyRotation": False})
    assert len(found) == 1
    assert "does not rotate" in found[0]


def test_rotation_flag_must_be_true_not_merely_truthy():
    assert RULE.violations(KEY, {"enableKeyRotation": "yes"}) != []


@pytest.mark.parametrize(
    "props",
    [
        {"enableKeyRotation": True},
        {"enableKeyRotation": True, "customerMasterKeySpec": "SYMMETRIC_DEFAULT"},
        {"enableKeyRotation": True, "keySpec": "SYMMETRIC_DEFAULT"},
    ],
)
def test_symmetric_key_with_rotation_passes(props):
    assert RULE.violations(KEY, props) == []


@pytest.mark.parametrize("spec_prop", ["customerMasterKeySpec", "keySpec"])
@pytest.mark.parametrize("spec", ["RSA_2048", "RSA_4096", "ECC_NIST_P256", "ECC_SECG_P256K1", "HMAC_256"])
def test_asymmetric_and_hmac_keys_cannot_rotate_and_are_skipped(spec_prop, spec):
    assert RULE.violations(KEY, {spec_prop: spec, "enableKeyRotation": False}) == []


def test_other_resource_types_are_ignored():
    assert RULE.violations("aws:sns/topic:Topic", {"enableKeyRotation": False}) == []
    assert RULE.violations("aws:kms/alias:Alias", {}) == []
