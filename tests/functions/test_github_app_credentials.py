"""The dispatch function's GitHub App mode: a JWT signed by KMS, traded for a one-repository installation token.

KMS is a real boto3 client whose ``Sign`` is answered in botocore's ``before-call`` hook (the hook ``Stubber``
itself uses; the request is still validated against KMS's model) by signing with a test key pair that
``cryptography`` generates, as KMS would with the imported key. The JWT must verify with that pair's public key
and carry the claims GitHub's "Generating a JSON Web Token (JWT) for a GitHub App" asks for: RS256, ``iat``
backdated 60 s, ``exp`` at most ten minutes after it, ``iss`` the App id. GitHub is a local server answering
"Create an installation access token for an app" as its REST reference documents: 201 with ``token`` and
``expires_at``, 401 for a bad JWT, 404 for an unknown installation, 422 for a repository outside it.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from functions.github_dispatch import app_credentials
from functions.github_dispatch.outcomes import GitHubUnavailable, JobFailure
from functions.github_dispatch.settings import Dependencies, Settings

APP_ID = 424242
INSTALLATION = 77
KEY_ARN = "arn:aws:kms:eu-west-1:210987654321:key/0b4c1e2a-8f7d-4c3b-9a6e-5d2f1e0c9b8a"
NOW = 1_900_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def key_pair() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class SigningKms:
    """A KMS client whose Sign answers as KMS does with the imported key: PKCS#1 v1.5 over the given digest."""

    def __init__(self, private_key: rsa.RSAPrivateKey, refuse: str | None = None) -> None:
        self.client = boto3.client("kms", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
        self.requests: list[dict[str, Any]] = []
        self.private_key, self.refuse = private_key, refuse
        self.client.meta.events.register("before-call.kms.Sign", self._sign)

    def _sign(self, params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        body = json.loads(params["body"])
        self.requests.append(body)
        if self.refuse:
            error = {"Error": {"Code": self.refuse, "Message": "refused"}, "ResponseMetadata": {"HTTPStatusCode": 400}}
            return _HttpStatus(400), error
        digest = base64.b64decode(body["Message"])
        signature = self.private_key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        return _HttpStatus(200), {
            "KeyId": body["KeyId"],
            "Signature": signature,
            "SigningAlgorithm": body["SigningAlgorithm"],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }


class _HttpStatus:
    def __init__(self, status: int) -> None:
        self.status_code = status


class FakeGitHubApps:
    """Answers the two App endpoints; records the JWTs and token requests it saw."""

    def __init__(self, server: HTTPServer, public_key: rsa.RSAPublicKey) -> None:
        self.server, self.public_key = server, public_key
        self.token_requests: list[dict[str, Any]] = []
        self.jwts: list[str] = []
        self.answers: list[tuple[int, dict[str, Any]]] = []
        self.issued = 0
        server.expect_request(f"/app/installations/{INSTALLATION}/access_tokens", method="POST").respond_with_handler(
            self._token
        )
        server.expect_request("/repos/acme/booking/installation", method="GET").respond_with_handler(self._lookup)

    def _authorised(self, request: Request) -> bool:
        jwt = request.headers["Authorization"].removeprefix("Bearer ")
        self.jwts.append(jwt)
        return verify(jwt, self.public_key) is not None

    def _token(self, request: Request) -> Response:
        self.token_requests.append(json.loads(request.data))
        if self.answers:
            status, body = self.answers.pop(0)
            return Response(json.dumps(body), status=status, content_type="application/json")
        if not self._authorised(request):
            return Response(json.dumps({"message": "A JSON web token could not be decoded"}), status=401)
        self.issued += 1
        expires = datetime.fromtimestamp(NOW + 3600 * self.issued, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"token": f"ghs_token{self.issued}", "expires_at": expires, "permissions": {"actions": "write"}}
        return Response(json.dumps(body), status=201, content_type="application/json")

    def _lookup(self, request: Request) -> Response:
        if not self._authorised(request):
            return Response(json.dumps({"message": "bad credentials"}), status=401)
        return Response(json.dumps({"id": INSTALLATION, "app_id": APP_ID}), status=200, content_type="application/json")


def verify(jwt: str, public_key: rsa.RSAPublicKey) -> dict[str, Any] | None:
    """The JWT's claims when its RS256 signature verifies with ``public_key``; ``None`` otherwise."""
    header, claims, signature = jwt.split(".")
    try:
        public_key.verify(_unb64(signature), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return None
    return {"header": json.loads(_unb64(header)), "claims": json.loads(_unb64(claims))}


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.fixture(autouse=True)
def empty_memory() -> None:
    app_credentials.forget_tokens()


def deps_for(api_url: str, kms: SigningKms, clock: Clock, installation: int | None = INSTALLATION) -> Dependencies:
    settings = Settings(
        token_secret_arn="",
        claims_table="claims",
        api_url=api_url,
        credential_mode="app",
        app_id=APP_ID,
        installation_id=installation,
        app_key_arn=KEY_ARN,
        http_backoff_seconds=0,
    )
    return Dependencies(
        settings=settings,
        codepipeline=None,
        secrets=None,
        dynamodb=None,
        sleep=lambda _: None,
        clock=clock,
        kms=kms.client,
    )


@pytest.fixture
def github(httpserver: HTTPServer, key_pair: rsa.RSAPrivateKey) -> FakeGitHubApps:
    return FakeGitHubApps(httpserver, key_pair.public_key())


def test_the_jwt_verifies_with_the_public_key_and_carries_githubs_claims(key_pair, github, httpserver) -> None:
    kms, clock = SigningKms(key_pair), Clock()
    jwt = app_credentials.AppAuthenticator(deps_for(httpserver.url_for(""), kms, clock)).jwt()
    verified = verify(jwt, key_pair.public_key())
    assert verified is not None, "the signature KMS made must verify as RS256"
    assert verified["header"] == {"alg": "RS256", "typ": "JWT"}
    claims = verified["claims"]
    assert claims["iss"] == str(APP_ID)
    assert claims["iat"] == int(NOW) - 60, "backdated a minute for clock drift"
    assert claims["exp"] - claims["iat"] <= 600, "GitHub refuses a JWT that lives more than ten minutes"
    assert claims["exp"] > NOW
    (request,) = kms.requests
    assert request["KeyId"] == KEY_ARN
    assert request["SigningAlgorithm"] == "RSASSA_PKCS1_V1_5_SHA_256"
    assert request["MessageType"] == "DIGEST"
    assert len(base64.b64decode(request["Message"])) == 32, "KMS receives the SHA-256 digest, not the message"


def test_a_signature_from_another_key_does_not_verify(key_pair, httpserver) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwt = app_credentials.AppAuthenticator(deps_for(httpserver.url_for(""), SigningKms(other), Clock())).jwt()
    assert verify(jwt, key_pair.public_key()) is None


def test_the_installation_token_is_scoped_to_the_one_repository_and_actions_write(key_pair, github, httpserver) -> None:
    deps = deps_for(httpserver.url_for(""), SigningKms(key_pair), Clock())
    assert app_credentials.token_for(deps, "acme/booking") == "ghs_token1"
    (request,) = github.token_requests
    assert request["repositories"] == ["booking"]
    assert request["permissions"]["actions"] == "write"
    assert set(request["permissions"]) <= {"actions", "metadata"}
    assert set(request["permissions"].values()) <= {"write", "read"}


def test_the_token_is_reused_from_memory_until_shortly_before_it_expires(key_pair, github, httpserver) -> None:
    clock = Clock()
    deps = deps_for(httpserver.url_for(""), SigningKms(key_pair), clock)
    assert app_credentials.token_for(deps, "acme/booking") == "ghs_token1"
    clock.now += 45 * 60
    assert app_credentials.token_for(deps, "acme/booking") == "ghs_token1", "45 minutes in: still cached"
    assert len(github.token_requests) == 1
    clock.now += 6 * 60  # 51 minutes: inside the ten-minute refresh margin of its hour
    assert app_credentials.token_for(deps, "acme/booking") == "ghs_token2"
    assert len(github.token_requests) == 2


def test_each_repository_gets_its_own_token(key_pair, github, httpserver) -> None:
    github.server.expect_request(
        f"/app/installations/{INSTALLATION}/access_tokens", method="POST"
    ).respond_with_handler(github._token)
    deps = deps_for(httpserver.url_for(""), SigningKms(key_pair), Clock())
    first = app_credentials.token_for(deps, "acme/booking")
    second = app_credentials.token_for(deps, "acme/payments")
    assert first != second
    assert [request["repositories"] for request in github.token_requests] == [["booking"], ["payments"]]


def test_without_an_installation_id_the_installation_is_looked_up_once(key_pair, github, httpserver) -> None:
    clock = Clock()
    deps = deps_for(httpserver.url_for(""), SigningKms(key_pair), clock, installation=None)
    assert app_credentials.token_for(deps, "acme/booking") == "ghs_token1"
    clock.now += 3600
    assert app_credentials.token_for(deps, "acme/booking") == "ghs_token2"
    lookups = [entry for entry in httpserver.log if entry[0].path.endswith("/installation")]
    assert len(lookups) == 1


@pytest.mark.parametrize(
    ("status", "body", "failure_type", "says"),
    [
        (401, {"message": "A JSON web token could not be decoded"}, "PermissionError", "rejected the App JWT"),
        (404, {"message": "Not Found"}, "ConfigurationError", "installation 77 not found"),
        (
            422,
            {"message": "There is at least one repository that does not exist or is not accessible"},
            "ConfigurationError",
            "must include the repository",
        ),
    ],
)
def test_github_refusals_become_job_failures_that_say_what_to_fix(
    key_pair, github, httpserver, status, body, failure_type, says
) -> None:
    github.answers.append((status, body))
    deps = deps_for(httpserver.url_for(""), SigningKms(key_pair), Clock())
    with pytest.raises(JobFailure) as failure:
        app_credentials.token_for(deps, "acme/booking")
    assert failure.value.failure_type == failure_type
    assert says in failure.value.message
    # Nothing was cached after a refusal: once GitHub agrees, the next request gets a token.
    github.answers.clear()
    assert app_credentials.token_for(deps, "acme/booking") == "ghs_token1"


def test_a_5xx_is_retried_and_then_succeeds(key_pair, github, httpserver) -> None:
    github.answers.extend([(502, {"message": "Bad Gateway"}), (503, {"message": "unavailable"})])
    deps = deps_for(httpserver.url_for(""), SigningKms(key_pair), Clock())
    assert app_credentials.token_for(deps, "acme/booking") == "ghs_token1"
    assert len(github.token_requests) == 3


def test_github_down_for_every_attempt_is_unavailable_not_a_configuration_error(key_pair, github, httpserver) -> None:
    github.answers.extend([(500, {"message": "boom"})] * 4)
    deps = deps_for(httpserver.url_for(""), SigningKms(key_pair), Clock())
    with pytest.raises(GitHubUnavailable):
        app_credentials.token_for(deps, "acme/booking")


def test_a_key_whose_material_was_never_imported_says_to_import_it(key_pair, httpserver) -> None:
    deps = deps_for(httpserver.url_for(""), SigningKms(key_pair, refuse="KMSInvalidStateException"), Clock())
    with pytest.raises(JobFailure) as failure:
        app_credentials.token_for(deps, "acme/booking")
    assert "make import-github-app-key" in failure.value.message


def test_the_token_mode_still_reads_the_secret() -> None:
    class Secrets:
        def get_secret_value(self, SecretId: str) -> dict[str, str]:  # noqa: N803 - boto3's parameter name
            return {"SecretString": json.dumps({"token": "github_pat_x"})}

    settings = Settings(token_secret_arn="arn:secret", claims_table="claims")
    deps = Dependencies(settings=settings, codepipeline=None, secrets=Secrets(), dynamodb=None)
    assert app_credentials.token_for(deps, "acme/booking") == "github_pat_x"


def test_the_app_mode_settings_come_from_the_environment() -> None:
    settings = Settings.from_environment(
        {
            "CLAIMS_TABLE": "claims",
            "GITHUB_AUTH_MODE": "app",
            "GITHUB_APP_ID": str(APP_ID),
            "GITHUB_APP_INSTALLATION_ID": str(INSTALLATION),
            "GITHUB_APP_KEY_ARN": KEY_ARN,
        }
    )
    assert (settings.credential_mode, settings.app_id, settings.installation_id) == ("app", APP_ID, INSTALLATION)
    assert settings.token_secret_arn == ""
    with pytest.raises(KeyError, match="GITHUB_APP_KEY_ARN"):
        Settings.from_environment({"CLAIMS_TABLE": "c", "GITHUB_AUTH_MODE": "app", "GITHUB_APP_ID": "1"})
