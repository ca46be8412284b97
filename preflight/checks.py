"""Before the first ``pulumi up``: can the platform reach every environment account, and is its workload there?

The platform deploys to workloads it does not create (README, "The real path"):
ECS services behind ALBs, Lambda aliases, Auto Scaling groups. A missing one
only shows up deep into ``pulumi up`` or at the first deploy. The preflight
assumes each account's bootstrap role with the tooling account's credentials,
exactly as the program will, and looks up everything the catalog names there,
reading the same validated model as the program. Every problem is one line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bootstrap.permissions import INSTANCE_ROLE_OPT_IN_TAG
from components.model import naming
from components.model.catalog import EcsTarget, LambdaTarget, ServerTarget, Service
from components.model.platform_inputs import PlatformInputs
from components.model.settings import Environment

SESSION_NAME = "cicd-platform-preflight"

AssumeRole = Callable[[str, str], boto3.Session]
"""(role ARN, region) -> a session with the role's credentials."""


@dataclass(frozen=True)
class Problem:
    environment: str
    account_id: str
    subject: str | None
    message: str

    def __str__(self) -> str:
        where = f"{self.environment} {self.account_id}"
        return f"{where}: {self.subject}: {self.message}" if self.subject else f"{where}: {self.message}"


def assume_with(base: boto3.Session) -> AssumeRole:
    """Assume roles with the base session's (tooling) credentials, as the program's providers do."""

    def assume(role_arn: str, region: str) -> boto3.Session:
        credentials = base.client("sts", region_name=region).assume_role(
            RoleArn=role_arn, RoleSessionName=SESSION_NAME
        )["Credentials"]
        return boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )

    return assume


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{_error_code(error)}: {error.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    return str(error)


class _AccountCheck:
    """The lookups in one account, with the answers shared between services (clusters, ALBs)."""

    def __init__(self, session: boto3.Session) -> None:
        self.session = session
        self._clients: dict[str, Any] = {}
        self._load_balancers: dict[str, str | None] = {}
        self._clusters: dict[str, bool] = {}

    def client(self, name: str) -> Any:
        if name not in self._clients:
            self._clients[name] = self.session.client(name)
        return self._clients[name]

    def cluster_exists(self, cluster: str) -> bool:
        if cluster not in self._clusters:
            found = self.client("ecs").describe_clusters(clusters=[cluster])["clusters"]
            self._clusters[cluster] = any(c.get("status") == "ACTIVE" for c in found)
        return self._clusters[cluster]

    def load_balancer_arn(self, name: str) -> str | None:
        if name not in self._load_balancers:
            try:
                found = self.client("elbv2").describe_load_balancers(Names=[name])["LoadBalancers"]
                self._load_balancers[name] = found[0]["LoadBalancerArn"] if found else None
            except ClientError as error:
                if _error_code(error) != "LoadBalancerNotFound":
                    raise
                self._load_balancers[name] = None
        return self._load_balancers[name]

    def role(self, name: str) -> dict[str, Any] | None:
        try:
            return self.client("iam").get_role(RoleName=name)["Role"]
        except ClientError as error:
            if _error_code(error) != "NoSuchEntity":
                raise
            return None

    @staticmethod
    def _ecs_service_fits_blue_green(target: EcsTarget, service: dict[str, Any]) -> Iterator[str]:
        """CodeDeploy blue/green needs the CODE_DEPLOY controller and the catalog's container behind the ALB.

        The appspec a service repository ships names the container and port that
        receive traffic; when they differ from the service's load balancer wiring,
        the first deployment fails after the image is built.
        """
        name = f"{target.cluster}/{target.service}"
        if service.get("deploymentController", {}).get("type", "ECS") != "CODE_DEPLOY":
            yield (
                f"ECS service {name} does not use the CODE_DEPLOY deployment "
                "controller, which CodeDeploy blue/green needs (it is set when the service is created)"
            )
        routed = [(lb.get("containerName"), lb.get("containerPort")) for lb in service.get("loadBalancers", [])]
        if (target.container, target.container_port) not in routed:
            found = ", ".join(f"{c}:{p}" for c, p in routed) or "no load balancer"
            yield (
                f"ECS service {name} routes {found}, not container {target.container}:{target.container_port} "
                "as the catalog says (the appspec's LoadBalancerInfo must match the service)"
            )

    def ecs(self, target: EcsTarget) -> Iterator[str]:
        if not self.cluster_exists(target.cluster):
            yield f"ECS cluster {target.cluster} not found"
        else:
            described = self.client("ecs").describe_services(cluster=target.cluster, services=[target.service])
            services = [s for s in described["services"] if s.get("status") != "INACTIVE"]
            if not services:
                yield f"ECS service {target.cluster}/{target.service} not found"
            else:
                yield from self._ecs_service_fits_blue_green(target, services[0])
        load_balancer = self.load_balancer_arn(target.load_balancer)
        if load_balancer is None:
            yield f"load balancer {target.load_balancer} not found"
        else:
            listeners = self.client("elbv2").describe_listeners(LoadBalancerArn=load_balancer)["Listeners"]
            if not any(listener.get("Port") == target.listener_port for listener in listeners):
                yield f"load balancer {target.load_balancer} has no listener on port {target.listener_port}"
        for group in target.target_groups:
            try:
                self.client("elbv2").describe_target_groups(Names=[group])
            except ClientError as error:
                if _error_code(error) != "TargetGroupNotFound":
                    raise
                yield f"target group {group} not found"
        for kind, name in zip(("task role", "task execution role"), target.passed_roles, strict=True):
            if self.role(name) is None:
                yield f"IAM {kind} {name} not found"

    def lambda_(self, target: LambdaTarget) -> Iterator[str]:
        functions = self.client("lambda")
        try:
            functions.get_function(FunctionName=target.function)
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
            yield f"Lambda function {target.function} not found"
            return
        try:
            functions.get_alias(FunctionName=target.function, Name=target.alias)
        except ClientError as error:
            if _error_code(error) != "ResourceNotFoundException":
                raise
            yield f"Lambda alias {target.function}:{target.alias} not found"

    def server(self, target: ServerTarget) -> Iterator[str]:
        described = self.client("autoscaling").describe_auto_scaling_groups(
            AutoScalingGroupNames=list(target.autoscaling_groups)
        )
        found = {group["AutoScalingGroupName"] for group in described["AutoScalingGroups"]}
        for group in target.autoscaling_groups:
            if group not in found:
                yield f"Auto Scaling group {group} not found"
        role = self.role(target.instance_role)
        if role is None:
            yield f"instance role {target.instance_role} not found"
            return
        key, value = INSTANCE_ROLE_OPT_IN_TAG
        tags = {tag["Key"]: tag["Value"] for tag in role.get("Tags", [])}
        if tags.get(key) != value:
            yield (
                f"instance role {target.instance_role} lacks the tag {key}={value}; the bootstrap role may "
                "only give opted-in roles the artifact-read policy"
            )

    def service(self, service: Service) -> Iterator[str]:
        target = service.aws
        if isinstance(target, EcsTarget):
            yield from self.ecs(target)
        elif isinstance(target, LambdaTarget):
            yield from self.lambda_(target)
        elif isinstance(target, ServerTarget):
            yield from self.server(target)


def _services_in(inputs: PlatformInputs, environment: Environment) -> list[Service]:
    return [
        service
        for service in inputs.catalog.services
        if any(
            placed.name == environment.name and placed.account_id == environment.account_id
            for placed in inputs.environments_for(service)
        )
    ]


def check_environment(inputs: PlatformInputs, environment: Environment, assume: AssumeRole) -> list[Problem]:
    """Assume the bootstrap role of one environment's account and look up what its services need."""
    account = environment.account_id

    def problem(message: str, subject: str | None = None) -> Problem:
        return Problem(environment.name, account, subject, message)

    role_arn = naming.role_arn(environment.region, account, inputs.settings.bootstrap_role_name)
    try:
        session = assume(role_arn, environment.region)
        identity = session.client("sts").get_caller_identity()
    except (ClientError, BotoCoreError) as error:
        return [
            problem(
                f"cannot assume the bootstrap role {role_arn} ({_describe(error)}); roll out "
                "bootstrap/environment-account.yaml to this account (README: The real path)"
            )
        ]
    if identity.get("Account") != account:
        return [problem(f"the bootstrap role {role_arn} answered from account {identity.get('Account')}")]
    check = _AccountCheck(session)
    problems: list[Problem] = []
    for service in _services_in(inputs, environment):
        subject = f"service '{service.name}'"
        try:
            problems += [problem(message, subject) for message in check.service(service)]
        except (ClientError, BotoCoreError) as error:
            problems.append(problem(f"could not check ({_describe(error)})", subject))
    return problems


def run_preflight(inputs: PlatformInputs, assume: AssumeRole) -> list[Problem]:
    """Every problem in every environment account, in the stack's environment order."""
    return [
        problem
        for environment, _platforms in inputs.environment_accounts()
        for problem in check_environment(inputs, environment, assume)
    ]


def check_config_recorder(inputs: PlatformInputs, tooling: boto3.Session) -> list[Problem]:
    """With ``configRules`` on, the tooling account's region needs a recording AWS Config recorder.

    The landing zone owns the recorder; the platform only adds managed rules, which AWS refuses
    (``NoAvailableConfigurationRecorderException``) where no recorder exists.
    """
    settings = inputs.settings
    if not settings.config_rules:
        return []

    def problem(message: str) -> Problem:
        return Problem("tooling", settings.tooling_account_id, None, message)

    try:
        recorders = tooling.client("config", region_name=settings.region).describe_configuration_recorder_status()[
            "ConfigurationRecordersStatus"
        ]
    except (ClientError, BotoCoreError) as error:
        return [problem(f"could not check the AWS Config recorder ({_describe(error)})")]
    ask = "the landing zone (Control Tower or the organization's AWS Config setup) provides it (README: Runtime twins)"
    if not recorders:
        return [problem(f"configRules is on but {settings.region} has no AWS Config configuration recorder; {ask}")]
    if not any(recorder.get("recording") for recorder in recorders):
        names = ", ".join(sorted(str(recorder.get("name")) for recorder in recorders))
        return [problem(f"configRules is on but the AWS Config recorder ({names}) is not recording; {ask}")]
    return []
