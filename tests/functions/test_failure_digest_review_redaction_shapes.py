"""Review (final review, finding 2): common credential shapes in build logs pass ``redaction.Redactor`` untouched.

A failing ``curl -v`` prints ``> Authorization: Basic <base64 user:password>``; a ``set -x`` build
script prints ``+ curl -u user:password``; a URL password may contain ``@`` (RFC 3986 allows it
percent-encoded, but tools print it raw) and only the part before the first ``@`` is taken out.
Each is quoted verbatim in the digest's "First errors" block and sent to Bedrock.
"""

from __future__ import annotations

import pytest

from functions.failure_digest.redaction import Redactor

SECRET = "Sup3rS3cretPassw0rd"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("> Authorization: Basic ZGVwbG95OlN1cDNyUzNjcmV0UGFzc3cwcmQ=", "ZGVwbG95OlN1cDNyUzNjcmV0UGFzc3cwcmQ="),
        (f"+ curl -fsS -u deploy:{SECRET} https://nexus.internal/repository/releases/", SECRET),
        (f"+ curl --user deploy:{SECRET} https://nexus.internal/", SECRET),
        ("fatal: could not read from https://deploy:Sup3r@S3cretPassw0rd@git.internal/app.git", "S3cretPassw0rd"),
    ],
    ids=["basic-auth-header", "curl-u", "curl-user", "url-password-with-at"],
)
def test_a_credential_printed_by_a_failing_command_is_redacted(line, secret):
    assert secret not in Redactor().text(line)
