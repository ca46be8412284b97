"""Who counts as a release manager: CloudTrail ``PutApprovalResult`` events with every documented caller shape.

The auditor compares the role behind a session with the configured role ARNs exactly:
partition, account, path and name (AWS CloudTrail User Guide, *CloudTrail userIdentity
element*: for a role session the issuer's ARN is the role's, path included, while the STS
session ARN names the role without its path, *IAM identifiers*). A prefix, a suffix, another
case, another path, another account, or a session merely *named* like a release manager is
someone else: their approval stops the run and alerts.
"""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.stub import Stubber
from delivery_ledger import DeliveryLedger
from moto import mock_aws

from tests.events.aws_events import aws_event
from tests.functions.conftest import ACCOUNT, REGION, create_ledger_table, load_handler

auditor_module = load_handler("approval_auditor")
OTHER_ACCOUNT = "999988887777"
SSO_PATH = "/aws-reserved/sso.amazonaws.com/eu-west-1/"
SSO_ROLE = "AWSReservedSSO_ReleaseManager_0f1e2d3c4b5a6978"
RELEASE_MANAGERS = (
    f"arn:aws:iam::{ACCOUNT}:role/release-manager",
    f"arn:aws:iam::{ACCOUNT}:role/release-manager-oncall",
    f"arn:aws:iam::{ACCOUNT}:role/platform/release-captain",
    f"arn:aws:iam::{ACCOUNT}:role{SSO_PATH}{SSO_ROLE}",
)
TOKEN = "1a2b3c4d-573f-4ea7-a67e-000000000001"
EXECUTION = "0f3c1a2b-1111-2222-3333-444455556666"


def approval(status="Approved", pipeline="booking-prod", changes=None, **identity):
    return aws_event(
        "cloudtrail-put-approval-result",
        changes,
        account=ACCOUNT,
        region=REGION,
        pipeline=pipeline,
        status=status,
        token=TOKEN,
        **identity,
    )


def role_session(role_name, role_path="/", session="alice@bookwise.example", **changes):
    return approval(role_name=role_name, role_path=role_path, session=session, changes=changes or None)


def identity(user_identity):
    return approval(changes={"detail.userIdentity": user_identity})


ROOT = {"type": "Root", "principalId": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:root", "accountId": ACCOUNT}
IAM_USER = {
    "type": "IAMUser",
    "principalId": "AIDAZ7EXAMPLEUSER0001",
    "arn": f"arn:aws:iam::{ACCOUNT}:user/release-manager",
    "accountId": ACCOUNT,
    "accessKeyId": "AKIAZ7EXAMPLEKEY0001",
    "userName": "release-manager",
}
FEDERATED_USER = {
    "type": "FederatedUser",
    "principalId": f"{ACCOUNT}:release-manager",
    "arn": f"arn:aws:sts::{ACCOUNT}:federated-user/release-manager",
    "accountId": ACCOUNT,
    "accessKeyId": "ASIAZ7EXAMPLEKEY0002",
    "sessionContext": {
        "sessionIssuer": {
            "type": "IAMUser",
            "principalId": "AIDAZ7EXAMPLEUSER0001",
            "arn": f"arn:aws:iam::{ACCOUNT}:user/release-manager",
            "accountId": ACCOUNT,
            "userName": "release-manager",
        },
        "attributes": {"creationDate": "2026-12-01T09:41:07Z", "mfaAuthenticated": "false"},
    },
}
IDENTITY_CENTER_USER = {
    "type": "IdentityCenterUser",
    "accountId": ACCOUNT,
    "onBehalfOf": {"userId": "94482488-3041-7026-18f3-be45837cd0e4", "identityStoreArn": "arn:aws:identitystore::"},
    "credentialId": "EXAMPLEVHULjJdTUdPJfofVa1sufHDoj7aYcOYcxFVllWR_Whr1fEXAMPLE",
}
AWS_SERVICE = {"type": "AWSService", "invokedBy": "codepipeline.amazonaws.com"}


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(role_session("release-manager"), id="release-manager"),
        pytest.param(role_session("release-manager-oncall"), id="the second configured role"),
        pytest.param(role_session("release-captain", "/platform/"), id="a role with a path"),
        pytest.param(role_session(SSO_ROLE, SSO_PATH), id="an IAM Identity Center permission set"),
    ],
)
def test_a_session_of_a_configured_role_is_a_release_manager(event):
    managers = auditor_module.ReleaseManagers.from_arns(RELEASE_MANAGERS)
    assert managers.include(auditor_module.caller_identity(event["detail"]["userIdentity"]))


NOT_RELEASE_MANAGERS = [
    pytest.param(role_session("release-manager-temp"), id="a longer name (prefix match)"),
    pytest.param(role_session("temp-release-manager"), id="a longer name (suffix match)"),
    pytest.param(role_session("release-manage"), id="a shorter name"),
    pytest.param(role_session("Release-Manager"), id="another case"),
    pytest.param(role_session("developer", session="release-manager"), id="a session named release-manager"),
    pytest.param(role_session("release-manager", "/sandbox/"), id="the name under another path"),
    pytest.param(role_session("release-captain"), id="a path-scoped name without its path"),
    pytest.param(role_session(SSO_ROLE), id="the SSO role name without its reserved path"),
    pytest.param(role_session(SSO_ROLE.replace("Manager", "ManagerReadOnly"), SSO_PATH), id="another SSO set"),
    pytest.param(
        role_session(
            "release-manager",
            **{
                "detail.userIdentity.arn": f"arn:aws:sts::{OTHER_ACCOUNT}:assumed-role/release-manager/mallory",
                "detail.userIdentity.accountId": OTHER_ACCOUNT,
                "detail.userIdentity.sessionContext.sessionIssuer.arn": (
                    f"arn:aws:iam::{OTHER_ACCOUNT}:role/release-manager"
                ),
                "detail.userIdentity.sessionContext.sessionIssuer.accountId": OTHER_ACCOUNT,
            },
        ),
        id="the same role name in another account",
    ),
    pytest.param(
        role_session(
            "release-manager",
            **{"detail.userIdentity.arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/developer/mallory"},
        ),
        id="an issuer that contradicts the session ARN",
    ),
    pytest.param(
        role_session("release-manager", **{"detail.userIdentity.sessionContext": None}), id="no session context"
    ),
    pytest.param(
        role_session(
            "release-manager",
            **{
                "detail.userIdentity.arn": "arn:aws-cn:sts::123456789012:assumed-role/release-manager/alice",
                "detail.userIdentity.sessionContext.sessionIssuer.arn": (
                    "arn:aws-cn:iam::123456789012:role/release-manager"
                ),
            },
        ),
        id="another partition",
    ),
    pytest.param(identity(IAM_USER), id="an IAM user named release-manager"),
    pytest.param(identity(ROOT), id="the root user"),
    pytest.param(identity(FEDERATED_USER), id="a federated user (GetFederationToken)"),
    pytest.param(identity(IDENTITY_CENTER_USER), id="an Identity Center user"),
    pytest.param(identity(AWS_SERVICE), id="an AWS service"),
    pytest.param(identity({}), id="no identity at all"),
]


@pytest.mark.parametrize("event", NOT_RELEASE_MANAGERS)
def test_anyone_else_is_not_a_release_manager(event):
    managers = auditor_module.ReleaseManagers.from_arns(RELEASE_MANAGERS)
    assert not managers.include(auditor_module.caller_identity(event["detail"]["userIdentity"]))


@pytest.fixture
def auditor():
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="cicd-release-news-prod")["TopicArn"]
        queue = sqs.create_queue(QueueName="alerts")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"})
        codepipeline = boto3.client("codepipeline", region_name=REGION)
        stub = Stubber(codepipeline)
        stub.activate()
        audit = auditor_module.ApprovalAuditor(
            codepipeline=codepipeline,
            sns=sns,
            ledger=DeliveryLedger(create_ledger_table(dynamodb), dynamodb),
            topic_arn=topic,
            release_managers=frozenset(RELEASE_MANAGERS),
            protected_suffixes=("-prod",),
        )
        audit.alerts = lambda: [
            json.loads(message["Body"])
            for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        ]
        audit.stub = stub
        yield audit
        stub.assert_no_pending_responses()


def test_a_release_manager_role_with_a_path_approves_without_an_alert(auditor):
    assert auditor.audit(role_session("release-captain", "/platform/")) == "allowed: release manager"
    assert auditor.alerts() == []


def test_an_approval_by_release_manager_temp_stops_the_run_and_alerts(auditor):
    state = {
        "pipelineName": "booking-prod",
        "stageStates": [
            {
                "stageName": "Approve",
                "latestExecution": {"pipelineExecutionId": EXECUTION, "status": "Succeeded"},
                "actionStates": [{"actionName": "ReleaseApproval", "latestExecution": {"token": TOKEN}}],
            }
        ],
    }
    temp = f"arn:aws:iam::{ACCOUNT}:role/release-manager-temp"
    auditor.stub.add_response("get_pipeline_state", state, {"name": "booking-prod"})
    auditor.stub.add_response(
        "stop_pipeline_execution",
        {"pipelineExecutionId": EXECUTION},
        {
            "pipelineName": "booking-prod",
            "pipelineExecutionId": EXECUTION,
            "abandon": True,
            "reason": f"Approved by {temp}, who is not a release manager",
        },
    )
    assert auditor.audit(role_session("release-manager-temp")) == f"alerted: execution {EXECUTION}: stopped (abandoned)"
    (alert,) = auditor.alerts()
    assert temp in alert["content"]["description"]


@pytest.mark.parametrize("event", NOT_RELEASE_MANAGERS)
def test_a_rejection_by_anyone_else_is_reported(auditor, event):
    rejected = json.loads(json.dumps(event))
    rejected["detail"]["requestParameters"]["result"]["status"] = "Rejected"
    assert auditor.audit(rejected) == "alerted: no run to stop (rejected)"
    assert len(auditor.alerts()) == 1


@pytest.mark.parametrize(
    "arn",
    [
        f"arn:aws:iam::{ACCOUNT}:user/release-manager",
        f"arn:aws:sts::{ACCOUNT}:assumed-role/release-manager/alice",
        f"arn:aws:iam::{ACCOUNT}:role/release-*",
        "release-manager",
    ],
)
def test_a_release_manager_setting_that_is_not_a_role_arn_stops_the_function(arn):
    with pytest.raises(ValueError, match="not an IAM role ARN"):
        auditor_module.ReleaseManagers.from_arns([f"arn:aws:iam::{ACCOUNT}:role/release-manager", arn])


def test_alerts_name_the_role_behind_a_session_with_its_path():
    caller = auditor_module.caller_identity(role_session(SSO_ROLE, SSO_PATH)["detail"]["userIdentity"])
    assert caller.arn == f"arn:aws:iam::{ACCOUNT}:role{SSO_PATH}{SSO_ROLE}"
    assert caller.session == "alice@bookwise.example"
