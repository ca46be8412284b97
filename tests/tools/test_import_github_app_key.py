"""``make import-github-app-key`` against a stubbed KMS (moto does not import asymmetric key material).

The stub answers as KMS's API Reference documents ``DescribeKey``, ``GetParametersForImport`` (a DER
SubjectPublicKeyInfo wrapping key and an import token) and ``GetPublicKey``; the test then plays KMS's part of
``ImportKeyMaterial`` with the wrapping private key: it splits the upload into the OAEP-encrypted AES key and
the AES-KWP-wrapped material ("Importing key material", step 3, ``RSA_AES_KEY_WRAP_SHA_256``) and checks that
the material is the App key as PKCS#8 DER.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding

TOOL = Path(__file__).resolve().parents[2] / "tools" / "import_github_app_key.py"
spec = importlib.util.spec_from_file_location("import_github_app_key", TOOL)
assert spec is not None and spec.loader is not None
tool = importlib.util.module_from_spec(spec)
sys.modules["import_github_app_key"] = tool
spec.loader.exec_module(tool)

ARN = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TOKEN = b"import-token-from-kms"


class Captured:
    """Matches any value in ``expected_params`` and keeps it (Stubber compares with ``==``)."""

    value: Any = None

    def __eq__(self, other: object) -> bool:
        self.value = other
        return True

    __hash__ = None  # type: ignore[assignment]


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def wrapping_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=4096)


def pem_of(key: rsa.RSAPrivateKey) -> bytes:
    """As GitHub hands it out: PKCS#1, ``BEGIN RSA PRIVATE KEY``."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def der_public(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def metadata(**overrides: str) -> dict[str, Any]:
    return {
        "KeyMetadata": {
            "KeyId": ARN.rsplit("/", 1)[1],
            "Arn": ARN,
            "KeySpec": "RSA_2048",
            "KeyUsage": "SIGN_VERIFY",
            "Origin": "EXTERNAL",
            "KeyState": "PendingImport",
            **overrides,
        }
    }


def kms_client() -> Any:
    return boto3.client("kms", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")


def test_the_key_is_wrapped_as_kms_documents_and_imported(app_key, wrapping_key) -> None:
    kms, upload = kms_client(), Captured()
    with Stubber(kms) as stub:
        stub.add_response("describe_key", metadata(), {"KeyId": "alias/cicd-github-app-prod"})
        stub.add_response(
            "get_parameters_for_import",
            {"KeyId": ARN, "ImportToken": TOKEN, "PublicKey": der_public(wrapping_key)},
            {"KeyId": ARN, "WrappingAlgorithm": "RSA_AES_KEY_WRAP_SHA_256", "WrappingKeySpec": "RSA_4096"},
        )
        stub.add_response(
            "import_key_material",
            {},
            {
                "KeyId": ARN,
                "ImportToken": TOKEN,
                "EncryptedKeyMaterial": upload,
                "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE",
            },
        )
        stub.add_response("get_public_key", {"KeyId": ARN, "PublicKey": der_public(app_key)}, {"KeyId": ARN})
        assert tool.import_key(kms, "alias/cicd-github-app-prod", pem_of(app_key)) == ARN
        stub.assert_no_pending_responses()

    encrypted_aes_key, wrapped = upload.value[:512], upload.value[512:]  # a 4096-bit wrapping key: 512 bytes
    aes_key = wrapping_key.decrypt(
        encrypted_aes_key,
        padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None),
    )
    material = aes_key_unwrap_with_padding(aes_key, wrapped)
    assert material == app_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"Origin": "AWS_KMS"}, "not RSA_2048/SIGN_VERIFY/EXTERNAL"),
        ({"KeySpec": "RSA_4096"}, "not RSA_2048/SIGN_VERIFY/EXTERNAL"),
        ({"KeyState": "PendingDeletion"}, "PendingDeletion"),
    ],
)
def test_a_key_that_is_not_the_platforms_signing_key_is_refused_before_anything_is_sent(
    app_key, overrides, says
) -> None:
    kms = kms_client()
    with Stubber(kms) as stub:
        stub.add_response("describe_key", metadata(**overrides), {"KeyId": ARN})
        with pytest.raises(tool.ImportRefused, match=says):
            tool.import_key(kms, ARN, pem_of(app_key))
        stub.assert_no_pending_responses()


def test_a_key_of_the_wrong_size_is_refused_before_kms_is_asked() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(tool.ImportRefused, match="2048-bit RSA"):
        tool.import_key(kms_client(), ARN, pem_of(small))


def test_a_mismatched_public_key_after_import_is_reported(app_key, wrapping_key) -> None:
    kms = kms_client()
    with Stubber(kms) as stub:
        stub.add_response("describe_key", metadata(), {"KeyId": ARN})
        stub.add_response(
            "get_parameters_for_import", {"KeyId": ARN, "ImportToken": TOKEN, "PublicKey": der_public(wrapping_key)}
        )
        stub.add_response("import_key_material", {})
        stub.add_response("get_public_key", {"KeyId": ARN, "PublicKey": der_public(wrapping_key)})
        with pytest.raises(tool.ImportRefused, match="different public key"):
            tool.import_key(kms, ARN, pem_of(app_key))


def test_kms_refusing_other_material_fails_the_command_with_its_reason(
    app_key, wrapping_key, tmp_path, monkeypatch
) -> None:
    kms = kms_client()
    pem = tmp_path / "app.pem"
    pem.write_bytes(pem_of(app_key))
    monkeypatch.setattr(tool.boto3, "client", lambda *_, **__: kms)
    with Stubber(kms) as stub:
        stub.add_response("describe_key", metadata(KeyState="Enabled"), {"KeyId": "alias/cicd-github-app-dev"})
        stub.add_response(
            "get_parameters_for_import", {"KeyId": ARN, "ImportToken": TOKEN, "PublicKey": der_public(wrapping_key)}
        )
        stub.add_client_error("import_key_material", "IncorrectKeyMaterialException", "different key material")
        assert tool.main(["--stack", "dev", "--pem", str(pem)]) == 1
