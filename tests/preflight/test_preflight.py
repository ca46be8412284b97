"""The preflight against moto: assume each bootstrap role, find what the catalog names, report what is missing."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from moto import mock_aws

from bootstrap.permissions import actions_of, bootstrap_policy
from preflight.__main__ import load_inputs, main
from preflight.checks import assume_with, check_config_recorder, run_preflight

PROD_ACCOUNT = "444444444444"
STAGING_ACCOUNT = "433333333333"
REGION = "eu-west-1"

CATALOG = {
    "services": [
        {
            "name": "booking",
            "description": "Reservations",
            "owner": "team-booking",
            "repository": "bookwise/booking",
            "language": "java",
            "aws": {
                "platform": "ECS",
                "cluster": "bookwise-core",
                "service": "booking",
                "container": "booking",
                "container_port": 8080,
                "load_balancer": "bookwise-core-alb",
                "target_groups": ["booking-blue", "booking-green"],
            },
            "health": {"http_5xx_percent": 1.0},
        },
        {
            "name": "currency-rates",
            "description": "Exchange rates",
            "owner": "team-pricing",
            "repository": "bookwise/currency-rates",
            "language": "python",
            "aws": {"platform": "Lambda", "function": "currency-rates-refresh"},
            "health": {"http_5xx_percent": 2.0},
        },
        {
            "name": "search",
            "description": "Search",
            "owner": "team-discovery",
            "repository": "bookwise/search",
            "language": "java",
            "aws": {
                "platform": "Server",
                "autoscaling_groups": ["search-query-nodes"],
                "instance_role": "search-query-node",
            },
            "health": {"cpu_percent": 85},
        },
    ]
}


@pytest.fixture
def project(tmp_path, project_dir, prod_settings_raw) -> Path:
    """A copy of the prod stack (tooling account 123456789012, moto's default) with two environments."""
    settings = dict(prod_settings_raw)
    settings["environments"] = [e for e in settings["environments"] if e["name"] in ("staging", "prod")]
    settings["catalogPath"] = "services.yaml"
    (tmp_path / "Pulumi.yaml").write_text((project_dir / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.prod.yaml").write_text(yaml.safe_dump({"config": {"cicd-platform:settings": settings}}))
    (tmp_path / "services.yaml").write_text(yaml.safe_dump(CATALOG))
    return tmp_path


@pytest.fixture
def aws(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        # moto would otherwise build ~85,000 sample AMIs per region and account; the launch templates
        # here name their image, and nothing reads AMIs.
        "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def in_account(tooling: boto3.Session, account: str) -> boto3.Session:
    return assume_with(tooling)(f"arn:aws:iam::{account}:role/cicd-platform-bootstrap", REGION)


def build_workload(
    session: boto3.Session,
    *,
    without: frozenset[str] = frozenset(),
    controller: str = "CODE_DEPLOY",
    container: str = "booking",
):
    """The workloads the catalog names, minus the ones named in ``without``."""
    ec2, elb, iam = session.client("ec2"), session.client("elbv2"), session.client("iam")
    trust = json.dumps({"Version": "2012-10-17", "Statement": []})
    for role in ("booking-task", "booking-task-execution", "currency-rates"):
        if role not in without:
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    if "instance-role" not in without:
        tags = [] if "instance-role-tag" in without else [{"Key": "cicd-platform-managed-policy", "Value": "true"}]
        iam.create_role(RoleName="search-query-node", AssumeRolePolicyDocument=trust, Tags=tags)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24", AvailabilityZone=f"{REGION}{zone}")["Subnet"][
            "SubnetId"
        ]
        for i, zone in enumerate("ab")
    ]
    groups = {}
    for name in ("booking-blue", "booking-green"):
        if name not in without:
            created = elb.create_target_group(Name=name, Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="ip")
            groups[name] = created["TargetGroups"][0]["TargetGroupArn"]
    if "cluster" not in without:
        ecs = session.client("ecs")
        ecs.create_cluster(clusterName="bookwise-core")
        if "service" not in without:
            ecs.create_service(
                cluster="bookwise-core",
                serviceName="booking",
                desiredCount=0,
                deploymentController={"type": controller},
                loadBalancers=[
                    {
                        "targetGroupArn": groups.get("booking-blue", ""),
                        "containerName": container,
                        "containerPort": 8080,
                    }
                ],
            )
    if "alb" not in without:
        alb = elb.create_load_balancer(Name="bookwise-core-alb", Subnets=subnets)["LoadBalancers"][0]
        if "listener" not in without:
            elb.create_listener(
                LoadBalancerArn=alb["LoadBalancerArn"],
                Protocol="HTTP",
                Port=443,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": groups.get("booking-blue", "")}],
            )
    if "function" not in without:
        functions = session.client("lambda")
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
        functions.create_function(
            FunctionName="currency-rates-refresh",
            Runtime="python3.12",
            Role=f"arn:aws:iam::{session.client('sts').get_caller_identity()['Account']}:role/currency-rates",
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
        )
        if "alias" not in without:
            version = functions.publish_version(FunctionName="currency-rates-refresh")["Version"]
            functions.create_alias(FunctionName="currency-rates-refresh", Name="live", FunctionVersion=version)
    if "asg" not in without:
        template = ec2.create_launch_template(
            LaunchTemplateName="search", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro"}
        )["LaunchTemplate"]["LaunchTemplateId"]
        session.client("autoscaling").create_auto_scaling_group(
            AutoScalingGroupName="search-query-nodes",
            LaunchTemplate={"LaunchTemplateId": template},
            MinSize=0,
            MaxSize=1,
            VPCZoneIdentifier=subnets[0],
        )


def lines(problems) -> list[str]:
    return [str(problem) for problem in problems]


def test_assume_role_reaches_the_environment_account(aws):
    session = in_account(aws, PROD_ACCOUNT)
    assert session.client("sts").get_caller_identity()["Account"] == PROD_ACCOUNT


def test_accounts_with_every_workload_are_ready(aws, project):
    for account in (PROD_ACCOUNT, STAGING_ACCOUNT):
        build_workload(in_account(aws, account))
    assert lines(run_preflight(load_inputs(project, "prod"), assume_with(aws))) == []


def test_each_missing_workload_is_one_located_line(aws, project):
    build_workload(in_account(aws, STAGING_ACCOUNT))
    build_workload(
        in_account(aws, PROD_ACCOUNT),
        without=frozenset({"service", "booking-green", "listener", "alias", "asg", "booking-task"}),
    )
    assert lines(run_preflight(load_inputs(project, "prod"), assume_with(aws))) == [
        "prod 444444444444: service 'booking': ECS service bookwise-core/booking not found",
        "prod 444444444444: service 'booking': load balancer bookwise-core-alb has no listener on port 443",
        "prod 444444444444: service 'booking': target group booking-green not found",
        "prod 444444444444: service 'booking': IAM task role booking-task not found",
        "prod 444444444444: service 'currency-rates': Lambda alias currency-rates-refresh:live not found",
        "prod 444444444444: service 'search': Auto Scaling group search-query-nodes not found",
    ]


def test_missing_cluster_alb_function_and_instance_role_are_reported(aws, project):
    build_workload(in_account(aws, STAGING_ACCOUNT))
    build_workload(in_account(aws, PROD_ACCOUNT), without=frozenset({"cluster", "alb", "function", "instance-role"}))
    assert lines(run_preflight(load_inputs(project, "prod"), assume_with(aws))) == [
        "prod 444444444444: service 'booking': ECS cluster bookwise-core not found",
        "prod 444444444444: service 'booking': load balancer bookwise-core-alb not found",
        "prod 444444444444: service 'currency-rates': Lambda function currency-rates-refresh not found",
        "prod 444444444444: service 'search': instance role search-query-node not found",
    ]


def test_ecs_service_without_the_codedeploy_controller_is_reported(aws, project):
    build_workload(in_account(aws, STAGING_ACCOUNT))
    build_workload(in_account(aws, PROD_ACCOUNT), controller="ECS")
    (problem,) = lines(run_preflight(load_inputs(project, "prod"), assume_with(aws)))
    assert problem.startswith("prod 444444444444: service 'booking': ECS service bookwise-core/booking does not use")


def test_ecs_service_that_routes_another_container_is_reported(aws, project):
    build_workload(in_account(aws, PROD_ACCOUNT), container="sidecar")
    build_workload(in_account(aws, STAGING_ACCOUNT))
    assert lines(run_preflight(load_inputs(project, "prod"), assume_with(aws))) == [
        "prod 444444444444: service 'booking': ECS service bookwise-core/booking routes sidecar:8080, not container "
        "booking:8080 as the catalog says (the appspec's LoadBalancerInfo must match the service)"
    ]


def test_instance_role_without_the_opt_in_tag_is_reported(aws, project):
    build_workload(in_account(aws, STAGING_ACCOUNT))
    build_workload(in_account(aws, PROD_ACCOUNT), without=frozenset({"instance-role-tag"}))
    (problem,) = lines(run_preflight(load_inputs(project, "prod"), assume_with(aws)))
    assert "instance role search-query-node lacks the tag cicd-platform-managed-policy=true" in problem


def test_an_account_whose_bootstrap_role_cannot_be_assumed_is_one_line(aws, project):
    build_workload(in_account(aws, PROD_ACCOUNT))
    real = assume_with(aws)

    def assume(role_arn: str, region: str) -> boto3.Session:
        # moto does not evaluate trust policies; AWS answers AccessDenied when the role is absent or distrusts us.
        if STAGING_ACCOUNT in role_arn:
            raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, "AssumeRole")
        return real(role_arn, region)

    assert lines(run_preflight(load_inputs(project, "prod"), assume)) == [
        "staging 433333333333: cannot assume the bootstrap role arn:aws:iam::433333333333:role/cicd-platform-bootstrap "
        "(AccessDenied: not authorized); roll out bootstrap/environment-account.yaml to this account "
        "(README: The real path)"
    ]


def test_every_call_the_preflight_makes_is_allowed_to_the_bootstrap_role(aws, project):
    for account in (PROD_ACCOUNT, STAGING_ACCOUNT):
        build_workload(in_account(aws, account), without=frozenset({"service", "alias"}))
    calls: set[str] = set()
    real = assume_with(aws)

    def recording(role_arn: str, region: str) -> boto3.Session:
        session = real(role_arn, region)
        session.events.register(
            "before-call",
            lambda model, **_: calls.add(f"{model.service_model.signing_name}:{model.name}"),
        )
        return session

    run_preflight(load_inputs(project, "prod"), recording)
    assert "ecs:DescribeServices" in calls
    assert "lambda:GetAlias" in calls
    assert sorted(calls - set(actions_of(bootstrap_policy()))) == []


def test_cli_exits_zero_when_ready_and_one_with_a_line_per_problem(aws, project, capsys):
    build_workload(in_account(aws, PROD_ACCOUNT))
    assert main(["--stack", "prod", "--project-dir", str(project)], session=aws) == 1
    output = capsys.readouterr()
    assert output.out.startswith("staging 433333333333: service 'booking': ECS cluster bookwise-core not found\n")
    build_workload(in_account(aws, STAGING_ACCOUNT))
    assert main(["--stack", "prod", "--project-dir", str(project)], session=aws) == 0
    assert "2 environment account(s) ready" in capsys.readouterr().out


def test_cli_refuses_credentials_of_another_account(aws, project_dir, capsys):
    # moto's credentials are for 123456789012; the dev stack's tooling account is 210987654321.
    assert main(["--stack", "dev", "--project-dir", str(project_dir)], session=aws) == 2
    assert "credentials are for account 123456789012" in capsys.readouterr().err


def test_cli_reports_a_bad_stack_file_as_one_line(tmp_path, project_dir, capsys):
    (tmp_path / "Pulumi.yaml").write_text((project_dir / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.prod.yaml").write_text("config: {}\n")
    assert main(["--stack", "prod", "--project-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith("error: Pulumi.prod.yaml")


def with_config_rules(project: Path) -> Path:
    stack_file = project / "Pulumi.prod.yaml"
    stack = yaml.safe_load(stack_file.read_text())
    stack["config"]["cicd-platform:settings"]["configRules"] = True
    stack_file.write_text(yaml.safe_dump(stack))
    return project


def record_configuration(tooling: boto3.Session, *, start: bool) -> None:
    config = tooling.client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "aws-controltower-BaselineConfigRecorder",
            "roleARN": "arn:aws:iam::123456789012:role/aws-controltower-ConfigRecorderRole",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    if start:
        tooling.client("s3").create_bucket(
            Bucket="aws-controltower-logs", CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": "aws-controltower-logs"})
        config.start_configuration_recorder(ConfigurationRecorderName="aws-controltower-BaselineConfigRecorder")


def test_without_config_rules_the_recorder_is_not_asked_for(aws, project):
    assert check_config_recorder(load_inputs(project, "prod"), aws) == []


def test_config_rules_need_a_recorder_in_the_tooling_account(aws, project):
    inputs = load_inputs(with_config_rules(project), "prod")
    (problem,) = lines(check_config_recorder(inputs, aws))
    assert problem.startswith("tooling 123456789012: configRules is on but eu-west-1 has no AWS Config")
    record_configuration(aws, start=False)
    (problem,) = lines(check_config_recorder(inputs, aws))
    assert "recorder (aws-controltower-BaselineConfigRecorder) is not recording" in problem
    record_configuration(aws, start=True)
    assert check_config_recorder(inputs, aws) == []


def test_cli_reports_a_missing_recorder_when_config_rules_are_on(aws, project, capsys):
    build_workload(in_account(aws, PROD_ACCOUNT))
    build_workload(in_account(aws, STAGING_ACCOUNT))
    assert main(["--stack", "prod", "--project-dir", str(with_config_rules(project))], session=aws) == 1
    assert "tooling 123456789012: configRules is on" in capsys.readouterr().out
