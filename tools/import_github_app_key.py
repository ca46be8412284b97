"""Import a GitHub App's private key into the stack's KMS signing key, once (``make import-github-app-key``).

Run by an operator on their own machine, with credentials of the tooling account that may administer the key
(the key policy's ``ImportGitHubAppKey`` statement). After it the PEM file can — and should — be deleted: the
key lives only in KMS, and only the dispatch function's role may sign with it.

What AWS documents and this follows (KMS Developer Guide, "Importing key material for AWS KMS keys", steps 2 to 4;
API Reference, ``GetParametersForImport`` and ``ImportKeyMaterial``):

- the KMS key is ``RSA_2048``/``SIGN_VERIFY`` with origin ``EXTERNAL`` (the platform declares it); GitHub App
  keys are 2048-bit RSA, and the material must match the key spec;
- an RSA private key must be wrapped with an ``RSA_AES_KEY_WRAP`` algorithm (the ``RSAES_OAEP`` ones cannot
  carry it): the key material in PKCS#8 DER is wrapped with a fresh 256-bit AES key (AES key wrap with padding,
  RFC 5649), the AES key is encrypted with the downloaded wrapping public key (RSAES-OAEP, SHA-256 and MGF1 with
  SHA-256, for ``RSA_AES_KEY_WRAP_SHA_256``), and the two are concatenated in that order;
- the wrapping public key and import token are a pair valid for 24 hours: this tool asks for a fresh pair each
  run and uses it at once;
- the material never expires (``KEY_MATERIAL_DOES_NOT_EXPIRE``); importing the same material again is allowed,
  different material into the same key is refused by KMS.

Afterwards the tool compares KMS's public key with the PEM's, so a wrong file cannot pass silently. Needs
boto3 and the ``cryptography`` package (requirements-dev.txt); neither runs in Lambda.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_wrap_with_padding

WRAPPING_ALGORITHM = "RSA_AES_KEY_WRAP_SHA_256"
WRAPPING_KEY_SPEC = "RSA_4096"
KEY_SPEC, KEY_USAGE, ORIGIN = "RSA_2048", "SIGN_VERIFY", "EXTERNAL"


class ImportRefused(Exception):  # noqa: N818 - a refusal, said to an operator
    """Why the key was not imported, in words an operator can act on."""


def key_alias(stack: str) -> str:
    """The alias the platform gives the stack's GitHub App key (``components/github/app_key.py``)."""
    return f"alias/cicd-github-app-{stack}"


def app_private_key(pem: bytes) -> rsa.RSAPrivateKey:
    """The App key from GitHub's PEM (PKCS#1 ``BEGIN RSA PRIVATE KEY``; PKCS#8 is accepted too)."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ImportRefused(f"not an unencrypted PEM private key: {error}") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size != 2048:
        raise ImportRefused("a GitHub App key is a 2048-bit RSA key, and the KMS key is RSA_2048: this file is not")
    return key


def pkcs8_der(key: rsa.RSAPrivateKey) -> bytes:
    """The key material KMS imports for an asymmetric key: PrivateKeyInfo (PKCS#8), DER-encoded."""
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def wrap(material: bytes, wrapping_public_key_der: bytes) -> bytes:
    """``RSA_AES_KEY_WRAP_SHA_256``: OAEP(SHA-256) of a fresh AES-256 key, then the material under AES-KWP."""
    wrapping_key = serialization.load_der_public_key(wrapping_public_key_der)
    if not isinstance(wrapping_key, rsa.RSAPublicKey):
        raise ImportRefused("KMS returned a wrapping key that is not RSA")
    aes_key = os.urandom(32)
    encrypted_aes_key = wrapping_key.encrypt(
        aes_key, padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    )
    return encrypted_aes_key + aes_key_wrap_with_padding(aes_key, material)


def import_key(kms: Any, key_id: str, pem: bytes) -> str:
    """Check the KMS key, wrap the PEM's key for it, import it and confirm the public keys match; returns the ARN."""
    private_key = app_private_key(pem)
    metadata = kms.describe_key(KeyId=key_id)["KeyMetadata"]
    found = (metadata.get("KeySpec"), metadata.get("KeyUsage"), metadata.get("Origin"))
    if found != (KEY_SPEC, KEY_USAGE, ORIGIN):
        raise ImportRefused(f"{key_id} is {'/'.join(map(str, found))}, not {KEY_SPEC}/{KEY_USAGE}/{ORIGIN}")
    if metadata.get("KeyState") not in ("PendingImport", "Enabled"):
        raise ImportRefused(
            f"{key_id} is {metadata.get('KeyState')}: key material can be imported only when the key "
            "is PendingImport (or Enabled, to import the same material again)"
        )
    arn = metadata["Arn"]
    parameters = kms.get_parameters_for_import(
        KeyId=arn, WrappingAlgorithm=WRAPPING_ALGORITHM, WrappingKeySpec=WRAPPING_KEY_SPEC
    )
    kms.import_key_material(
        KeyId=arn,
        ImportToken=parameters["ImportToken"],
        EncryptedKeyMaterial=wrap(pkcs8_der(private_key), parameters["PublicKey"]),
        ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
    )
    in_kms = kms.get_public_key(KeyId=arn)["PublicKey"]
    expected = private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if in_kms != expected:
        raise ImportRefused(f"KMS holds a different public key than {arn} should after the import")
    return arn


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make import-github-app-key", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="the platform stack (its key is alias/cicd-github-app-<stack>)")
    parser.add_argument("--pem", required=True, type=Path, help="the private key file GitHub generated for the App")
    parser.add_argument("--key-id", help="the KMS key, when not the stack's alias")
    parser.add_argument("--region", help="the tooling region (default: the AWS SDK's)")
    args = parser.parse_args(argv)
    kms = boto3.client("kms", region_name=args.region) if args.region else boto3.client("kms")
    try:
        arn = import_key(kms, args.key_id or key_alias(args.stack), args.pem.read_bytes())
    except (ImportRefused, OSError, ClientError, BotoCoreError) as error:
        print(f"import-github-app-key: {error}", file=sys.stderr)
        return 1
    print(f"Imported the GitHub App key into {arn}. Delete {args.pem}: the key now lives only in KMS.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
