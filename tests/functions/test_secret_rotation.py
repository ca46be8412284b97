"""The rotation function's four steps against moto Secrets Manager, with SonarQube and Snyk as local servers.

moto stores versions and moves staging labels as Secrets Manager does, but cannot invoke a rotation Lambda
without Docker, so ``SecretsManager.start`` plays Secrets Manager's own part of "How rotation works" (AWS
Secrets Manager User Guide): it attaches ``AWSPENDING`` to a new, empty version named by the
``ClientRequestToken`` and turns rotation on, then the test invokes the steps with the events Secrets Manager
sends (``{"Step", "SecretId", "ClientRequestToken"}``), in order, repeated or failing as a scenario needs.
What moto lacks besides: a read without a stage follows moto's own default version, which moving
``AWSCURRENT`` with ``UpdateSecretVersionStage`` does not update, so the tests (and the function) read by label.

The fakes answer as the vendors document: SonarQube's ``api/user_tokens/generate`` (a token once, 400 when the
name is taken), ``revoke``, ``api/authentication/validate`` (``{"valid": ...}``); Snyk's ``/oauth2/token``
client-credentials grant and the service account's ``secrets`` endpoint (``create`` / ``delete``, at most two
secrets at once).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from moto import mock_aws
from moto.secretsmanager.models import secretsmanager_backends
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from functions.secret_rotation import handler as rotation
from functions.secret_rotation.rotators import RotationError
from functions.secret_rotation.vendor_http import VendorHttp, VendorUnavailable

REGION, ACCOUNT = "eu-west-1", "123456789012"
SONAR_SECRET, SNYK_SECRET, SIGNING_SECRET = "cicd/sonarqube", "cicd/snyk", "cicd/dev/signing"
ORG, SERVICE_ACCOUNT = "0b4c1e2a-8f7d-4c3b-9a6e-5d2f1e0c9b8a", "5d2f1e0c-9b8a-4c3b-8f7d-0b4c1e2a9a6e"


# ------------------------------------------------------------------------------------------ fake vendors


@dataclass
class FakeSonarQube:
    """One CI user's tokens by name; records what was generated and revoked, and in which phase."""

    server: HTTPServer
    tokens: dict[str, str] = field(default_factory=dict)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    phase: str = "setup"
    failures: list[int] = field(default_factory=list)
    validate_says: bool | None = None

    def install(self) -> FakeSonarQube:
        self.server.expect_request("/api/user_tokens/generate", method="POST").respond_with_handler(self._generate)
        self.server.expect_request("/api/user_tokens/revoke", method="POST").respond_with_handler(self._revoke)
        self.server.expect_request("/api/authentication/validate", method="GET").respond_with_handler(self._validate)
        return self

    def _caller(self, request: Request) -> str | None:
        header = request.headers.get("Authorization", "")
        token = base64.b64decode(header.removeprefix("Basic ")).decode().rstrip(":") if header else ""
        return token if token in self.tokens.values() else None

    def _generate(self, request: Request) -> Response:
        if self.failures:
            return Response("{}", status=self.failures.pop(0))
        if self._caller(request) is None:
            return Response(json.dumps({"errors": [{"msg": "Unauthorized"}]}), status=401)
        name = parse_qs(request.get_data(as_text=True))["name"][0]
        if name in self.tokens:
            return Response(json.dumps({"errors": [{"msg": f"A user token with name '{name}' already exists"}]}), 400)
        self.tokens[name] = f"squ_{uuid.uuid4().hex}"
        self.events.append(("generate", name, self.phase))
        return Response(json.dumps({"login": "ci", "name": name, "token": self.tokens[name]}), status=200)

    def _revoke(self, request: Request) -> Response:
        if self._caller(request) is None:
            return Response(json.dumps({"errors": [{"msg": "Unauthorized"}]}), status=401)
        name = parse_qs(request.get_data(as_text=True))["name"][0]
        if name not in self.tokens:
            return Response(json.dumps({"errors": [{"msg": "not found"}]}), status=404)
        del self.tokens[name]
        self.events.append(("revoke", name, self.phase))
        return Response(status=204)

    def _validate(self, request: Request) -> Response:
        valid = self._caller(request) is not None if self.validate_says is None else self.validate_says
        return Response(json.dumps({"valid": valid}), status=200, content_type="application/json")

    def revoked_in(self, name: str) -> str | None:
        return next((phase for kind, revoked, phase in self.events if kind == "revoke" and revoked == name), None)


@dataclass
class FakeSnyk:
    """One OAuth client-credentials service account: at most two client secrets, as Snyk allows."""

    server: HTTPServer
    client_id: str = "sa-client-id"
    secrets: list[str] = field(default_factory=lambda: ["secret-0"])
    events: list[tuple[str, str, str]] = field(default_factory=list)
    phase: str = "setup"
    refuse_self: bool = False

    def install(self) -> FakeSnyk:
        self.server.expect_request("/oauth2/token", method="POST").respond_with_handler(self._token)
        path = f"/rest/orgs/{ORG}/service_accounts/{SERVICE_ACCOUNT}/secrets"
        self.server.expect_request(path, method="POST").respond_with_handler(self._manage)
        self.server.expect_request("/rest/self", method="GET").respond_with_handler(self._self)
        return self

    def _token(self, request: Request) -> Response:
        form = parse_qs(request.get_data(as_text=True))
        ok = form.get("grant_type") == ["client_credentials"] and form.get("client_id") == [self.client_id]
        if not ok or form.get("client_secret", [""])[0] not in self.secrets:
            return Response(json.dumps({"error": "invalid_client"}), status=401)
        return Response(json.dumps({"access_token": "access:" + form["client_secret"][0], "expires_in": 3600}))

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("Authorization", "").removeprefix("Bearer access:") in self.secrets

    def _manage(self, request: Request) -> Response:
        if not self._authorised(request) or request.args.get("version") is None:
            return Response(json.dumps({"errors": [{"detail": "Unauthorized"}]}), status=401)
        attributes = json.loads(request.data)["data"]["attributes"]
        if attributes["mode"] == "create":
            if len(self.secrets) >= 2:
                return Response(json.dumps({"errors": [{"detail": "at most two secrets"}]}), status=409)
            secret = f"secret-{uuid.uuid4().hex[:8]}"
            self.secrets.append(secret)
            self.events.append(("create", secret, self.phase))
            body = {"data": {"type": "service_account", "attributes": {"client_secret": secret}}}
            return Response(json.dumps(body), status=200, content_type="application/vnd.api+json")
        if attributes["mode"] == "delete":
            if attributes["secret"] not in self.secrets:
                return Response(json.dumps({"errors": [{"detail": "not found"}]}), status=404)
            self.secrets.remove(attributes["secret"])
            self.events.append(("delete", attributes["secret"], self.phase))
            return Response(json.dumps({"data": {"type": "service_account"}}), status=200)
        return Response(status=400)

    def _self(self, request: Request) -> Response:
        if self.refuse_self or not self._authorised(request):
            return Response(json.dumps({"errors": [{"detail": "Unauthorized"}]}), status=401)
        return Response(json.dumps({"data": {"type": "service_account"}}), status=200)


# --------------------------------------------------------------------------- Secrets Manager's own part


@dataclass
class SecretsManager:
    """moto for storage and staging labels; ``start`` does what Secrets Manager does before createSecret."""

    client: Any
    deps: rotation.Dependencies

    def start(self, name: str) -> str:
        token = str(uuid.uuid4())
        secret = secretsmanager_backends[ACCOUNT][REGION].secrets[self.arn(name)]
        for version in secret.versions.values():
            if "AWSPENDING" in version["version_stages"]:
                version["version_stages"].remove("AWSPENDING")
        secret.versions[token] = {"createdate": 1, "version_id": token, "version_stages": ["AWSPENDING"]}
        secret.rotation_requested = secret.rotation_enabled = True
        secret.auto_rotate_after_days = 30
        return token

    def arn(self, name: str) -> str:
        return self.client.describe_secret(SecretId=name)["ARN"]

    def step(self, name: str, token: str, step: str) -> str:
        return rotation.rotate({"Step": step, "SecretId": self.arn(name), "ClientRequestToken": token}, self.deps)

    def rotate(self, name: str, vendor: Any) -> str:
        token = self.start(name)
        for step in rotation.STEPS:
            vendor.phase = f"{token}:{step}"
            self.step(name, token, step)
        vendor.phase = "after"
        return token

    def current(self, name: str) -> dict[str, Any]:
        # By label: moto's unlabelled read follows its own default version, which moving AWSCURRENT leaves behind.
        return json.loads(self.client.get_secret_value(SecretId=name, VersionStage="AWSCURRENT")["SecretString"])

    def stages(self, name: str) -> dict[str, list[str]]:
        return self.client.describe_secret(SecretId=name)["VersionIdsToStages"]


@pytest.fixture
def aws() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


@pytest.fixture
def sonar(httpserver: HTTPServer) -> FakeSonarQube:
    fake = FakeSonarQube(httpserver).install()
    fake.tokens["ci-first"] = "squ_first"
    return fake


@pytest.fixture
def snyk(httpserver: HTTPServer) -> FakeSnyk:
    return FakeSnyk(httpserver).install()


@pytest.fixture
def manager(aws: Any, httpserver: HTTPServer) -> SecretsManager:
    url = httpserver.url_for("").rstrip("/")
    aws.create_secret(Name=SONAR_SECRET, SecretString=json.dumps({"token": "squ_first", "name": "ci-first"}))
    aws.create_secret(
        Name=SNYK_SECRET, SecretString=json.dumps({"client_id": "sa-client-id", "client_secret": "secret-0"})
    )
    aws.create_secret(Name=SIGNING_SECRET, SecretString=json.dumps({"secret": "x" * 64}))
    rotated = {
        SONAR_SECRET: {"kind": "sonarqube-user-token", "url": url},
        SNYK_SECRET: {"kind": "snyk-client-secret", "apiUrl": url, "orgId": ORG, "serviceAccountId": SERVICE_ACCOUNT},
        SIGNING_SECRET: {"kind": "random-signing-secret"},
    }
    deps = rotation.Dependencies(secrets=aws, rotated=rotated, http=VendorHttp(backoff_seconds=0, sleep=lambda _: None))
    return SecretsManager(aws, deps)


# ------------------------------------------------------------------------------------------ SonarQube


def test_a_sonarqube_token_rotates_through_the_four_steps(manager, sonar) -> None:
    token = manager.rotate(SONAR_SECRET, sonar)
    value = manager.current(SONAR_SECRET)
    assert value["name"] == f"cicd-rotation-{token}"
    assert value["token"] == sonar.tokens[value["name"]], "the new token is the one SonarQube issued"
    # "How rotation works": rotation ends with AWSPENDING on the AWSCURRENT version, or on no version at all.
    assert "AWSCURRENT" in manager.stages(SONAR_SECRET)[token]
    assert not any(
        "AWSPENDING" in stages for version, stages in manager.stages(SONAR_SECRET).items() if version != token
    )


def test_the_old_token_is_revoked_only_after_finish_secret_at_the_next_rotation(manager, sonar) -> None:
    first = manager.rotate(SONAR_SECRET, sonar)
    assert "ci-first" in sonar.tokens, "a scan that read the old token a minute ago must still be able to finish"
    second = manager.rotate(SONAR_SECRET, sonar)
    assert sonar.revoked_in("ci-first") == f"{second}:createSecret", "retired at the next rotation, before a new one"
    assert f"cicd-rotation-{first}" in sonar.tokens, "the token superseded just now keeps its grace period"
    third = manager.rotate(SONAR_SECRET, sonar)
    assert sonar.revoked_in(f"cicd-rotation-{first}") == f"{third}:createSecret"
    assert set(sonar.tokens) == {f"cicd-rotation-{second}", f"cicd-rotation-{third}"}, "never more than two alive"


def test_a_failing_test_secret_leaves_awscurrent_where_it_was(manager, sonar) -> None:
    before = manager.current(SONAR_SECRET)
    token = manager.start(SONAR_SECRET)
    manager.step(SONAR_SECRET, token, "createSecret")
    manager.step(SONAR_SECRET, token, "setSecret")
    sonar.validate_says = False
    with pytest.raises(RotationError, match="does not accept the new token"):
        manager.step(SONAR_SECRET, token, "testSecret")
    assert manager.current(SONAR_SECRET) == before
    assert manager.stages(SONAR_SECRET)[token] == ["AWSPENDING"]
    assert "ci-first" in sonar.tokens, "nothing was revoked"


def test_every_step_replayed_does_its_work_once(manager, sonar) -> None:
    token = manager.start(SONAR_SECRET)
    for step in rotation.STEPS:
        manager.step(SONAR_SECRET, token, step)
        manager.step(SONAR_SECRET, token, step)  # Lambda delivered it twice, or Secrets Manager retried it
    assert [event[0] for event in sonar.events] == ["generate"]
    assert "AWSCURRENT" in manager.stages(SONAR_SECRET)[token]
    assert "already AWSCURRENT" in manager.step(SONAR_SECRET, token, "finishSecret")


def test_a_create_secret_that_died_before_storing_regenerates_without_leaving_an_orphan(manager, sonar) -> None:
    token = manager.start(SONAR_SECRET)
    sonar.tokens[f"cicd-rotation-{token}"] = "squ_lost"  # SonarQube made it; the function died before storing it
    manager.step(SONAR_SECRET, token, "createSecret")
    stored = json.loads(
        manager.client.get_secret_value(SecretId=SONAR_SECRET, VersionStage="AWSPENDING")["SecretString"]
    )
    assert stored["token"] != "squ_lost" and stored["token"] in sonar.tokens.values()
    assert "squ_lost" not in sonar.tokens.values(), "the token nobody holds is revoked"


def test_sonarqube_5xx_is_retried_and_the_rotation_goes_on(manager, sonar) -> None:
    sonar.failures.extend([503, 502])
    manager.rotate(SONAR_SECRET, sonar)
    assert manager.current(SONAR_SECRET)["name"].startswith("cicd-rotation-")


def test_sonarqube_down_fails_create_secret_and_stores_nothing(manager, sonar) -> None:
    sonar.failures.extend([503] * 10)
    token = manager.start(SONAR_SECRET)
    with pytest.raises(VendorUnavailable):
        manager.step(SONAR_SECRET, token, "createSecret")
    with pytest.raises(manager.client.exceptions.ResourceNotFoundException):
        manager.client.get_secret_value(SecretId=SONAR_SECRET, VersionId=token, VersionStage="AWSPENDING")
    sonar.failures.clear()
    manager.step(SONAR_SECRET, token, "createSecret")  # Secrets Manager's retry, same token: now it works


def test_a_sonarqube_refusal_is_a_rotation_error_that_says_so(manager, sonar) -> None:
    sonar.failures.append(403)
    token = manager.start(SONAR_SECRET)
    with pytest.raises(RotationError, match="SonarQube refused to generate a token \\(403"):
        manager.step(SONAR_SECRET, token, "createSecret")


# ----------------------------------------------------------------------------------------------- Snyk


def test_a_snyk_client_secret_rotates_and_the_old_one_is_deleted_at_the_next_rotation(manager, snyk) -> None:
    manager.rotate(SNYK_SECRET, snyk)
    first_new = manager.current(SNYK_SECRET)["client_secret"]
    assert snyk.secrets == ["secret-0", first_new], "both valid until the next rotation"
    second = manager.rotate(SNYK_SECRET, snyk)
    deleted = [(secret, phase) for kind, secret, phase in snyk.events if kind == "delete"]
    assert deleted == [("secret-0", f"{second}:createSecret")], "deleted before creating: Snyk keeps at most two"
    assert snyk.secrets == [first_new, manager.current(SNYK_SECRET)["client_secret"]]
    assert manager.current(SNYK_SECRET)["client_id"] == "sa-client-id"


def test_a_snyk_secret_that_cannot_call_the_api_fails_test_secret(manager, snyk) -> None:
    token = manager.start(SNYK_SECRET)
    manager.step(SNYK_SECRET, token, "createSecret")
    snyk.refuse_self = True
    with pytest.raises(RotationError, match="Snyk does not accept the new client secret"):
        manager.step(SNYK_SECRET, token, "testSecret")
    assert manager.current(SNYK_SECRET)["client_secret"] == "secret-0"


def test_snyk_refusing_the_current_credentials_is_reported_not_retried(manager, snyk) -> None:
    snyk.secrets = ["revoked-elsewhere"]
    token = manager.start(SNYK_SECRET)
    with pytest.raises(RotationError, match="Snyk refused the client credentials \\(401"):
        manager.step(SNYK_SECRET, token, "createSecret")


# ------------------------------------------------------------------------------- signing secrets, refusals


def test_a_random_signing_secret_rotates_with_get_random_password(manager) -> None:
    before = manager.current(SIGNING_SECRET)["secret"]

    class Nobody:
        phase = ""

    manager.rotate(SIGNING_SECRET, Nobody())
    after = manager.current(SIGNING_SECRET)["secret"]
    assert after != before and len(after) == 64


@pytest.mark.parametrize(
    ("event", "says"),
    [
        ({"Step": "createSecret", "SecretId": SONAR_SECRET}, "not a rotation event"),
        ({"Step": "deleteSecret", "SecretId": SONAR_SECRET, "ClientRequestToken": "t" * 36}, "unknown rotation step"),
    ],
)
def test_malformed_events_are_refused(manager, event, says) -> None:
    with pytest.raises(rotation.NotRotatable, match=says):
        rotation.rotate(event, manager.deps)


def test_a_secret_without_rotation_enabled_is_refused(manager) -> None:
    event = {"Step": "createSecret", "SecretId": SONAR_SECRET, "ClientRequestToken": str(uuid.uuid4())}
    with pytest.raises(rotation.NotRotatable, match="does not have rotation enabled"):
        rotation.rotate(event, manager.deps)


def test_a_token_that_is_not_a_pending_version_is_refused(manager, sonar) -> None:
    manager.start(SONAR_SECRET)
    current = next(v for v, s in manager.stages(SONAR_SECRET).items() if "AWSCURRENT" in s)
    previous_token = manager.rotate(SONAR_SECRET, sonar)
    assert previous_token
    event = {"Step": "createSecret", "SecretId": manager.arn(SONAR_SECRET), "ClientRequestToken": current}
    with pytest.raises(rotation.NotRotatable, match="not AWSPENDING"):
        rotation.rotate(event, manager.deps)
    event["ClientRequestToken"] = str(uuid.uuid4())
    with pytest.raises(rotation.NotRotatable, match="has no stage"):
        rotation.rotate(event, manager.deps)


def test_a_secret_this_function_was_not_given_is_refused(manager, aws) -> None:
    aws.create_secret(Name="someone/else", SecretString="{}")
    token = manager.start("someone/else")
    with pytest.raises(rotation.NotRotatable, match="not one this function rotates"):
        manager.step("someone/else", token, "createSecret")
