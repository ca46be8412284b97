"""Pulumi mocks that answer like AWS (and GCP and Azure) would, so the program's outputs look real.

Providers return ids and ARNs built from the resource's own inputs, in the
account and region of the provider it was created with: a deploy role made
through the ``prod`` account's provider gets an ARN in that account. Ids are
derived from the URN, so two runs of the same program give the same plan.
GCP and Azure resources are shaped in ``gcp_mocks`` and ``azure_mocks``, in
the project or subscription of their explicit provider.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import pulumi

from . import azure_mocks, gcp_mocks, github_mocks
from .recorder import RecordedInvoke


def stable_id(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16]


def stable_uuid(*parts: str) -> str:
    return str(uuid.UUID(hashlib.sha256("/".join(parts).encode()).hexdigest()[:32]))


@dataclass
class AwsMocks(pulumi.runtime.Mocks):
    """Mocked AWS for one tooling account; explicit providers add environment accounts."""

    tooling_account_id: str
    region: str
    partition: str = "aws"
    caller_account_id: str | None = None
    """Account the credentials belong to; defaults to the tooling account (set it to test the guard)."""
    _providers: dict[str, tuple[str, str]] = field(default_factory=dict)
    invokes: list[RecordedInvoke] = field(default_factory=list)
    """Every data source call, so the plan can say which calls reach which account."""
    _gcp_providers: dict[str, tuple[str, str]] = field(default_factory=dict)
    _azure_providers: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    stack_outputs: dict[str, Any] = field(default_factory=dict)
    """Outputs of other stacks by stack name, for ``StackReference`` reads (a shard reads its core's plan)."""

    @staticmethod
    def _provider_id(provider_ref: str | None) -> str:
        return provider_ref.split("::")[-1] if provider_ref else ""

    def _location(self, provider_ref: str | None) -> tuple[str, str]:
        if provider_ref:
            provider_id = provider_ref.split("::")[-1]
            if provider_id in self._providers:
                return self._providers[provider_id]
        return self.tooling_account_id, self.region

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        inputs = dict(args.inputs)
        if args.typ == STACK_REFERENCE:
            return self._stack_reference(str(args.resource_id or inputs.get("name")))
        if args.typ.startswith("pulumi:providers:"):
            provider_id = stable_uuid(args.typ, args.name)
            if args.typ == gcp_mocks.PROVIDER_TYPE:
                self._gcp_providers[provider_id] = gcp_mocks.provider_location(inputs)
                return provider_id, inputs
            if args.typ == azure_mocks.PROVIDER_TYPE:
                self._azure_providers[provider_id] = azure_mocks.provider_location(inputs)
                return provider_id, inputs
            if args.typ != "pulumi:providers:aws":
                return provider_id, inputs
            # Provider config arrives JSON-encoded, as the engine passes it to the provider.
            accounts = _decoded(inputs.get("allowedAccountIds")) or [self.tooling_account_id]
            self._providers[provider_id] = (accounts[0], inputs.get("region") or self.region)
            return provider_id, inputs
        if not args.custom:
            return None, {}
        shaped = self._other_cloud(args.typ, args.name, inputs, self._provider_id(args.provider))
        if shaped is not None:
            return shaped
        account, region = self._location(args.provider)
        state = dict(inputs)
        resource_id = self._physical_id(args.typ, args.name, inputs)
        arn = self._arn(args.typ, resource_id, inputs, account, region)
        if arn:
            state["arn"] = arn
        state.setdefault("tagsAll", inputs.get("tags", {}))
        state.update(self._extra_state(args.typ, resource_id, inputs, account, region))
        return resource_id, state

    def _stack_reference(self, qualified_name: str) -> tuple[str, dict[str, Any]]:
        """The referenced stack's outputs, as the engine's ``StackReference`` read returns them.

        The name may be qualified (``org/project/stack``); stacks are known here by their short name.
        """
        stack = qualified_name.rsplit("/", 1)[-1]
        if stack not in self.stack_outputs:
            known = ", ".join(sorted(self.stack_outputs)) or "none"
            raise LookupError(
                f"offline plan knows no outputs of stack {stack} (known: {known}); plan the core first: "
                "`make plan STACK=<core>` plans a sharded fleet's core, then its shards"
            )
        return qualified_name, {
            "name": qualified_name,
            "outputs": self.stack_outputs[stack],
            "secretOutputNames": [],
        }

    def _other_cloud(
        self, typ: str, name: str, inputs: dict[str, Any], provider_id: str
    ) -> tuple[str, dict[str, Any]] | None:
        if typ.startswith("gcp:"):
            project, region = self._gcp_providers.get(provider_id, ("", ""))
            shaped = gcp_mocks.resource_state(typ, name, inputs, project, region)
        elif typ.startswith("github:"):
            shaped = github_mocks.resource_state(typ, inputs)
        elif typ.startswith("azure-native:"):
            subscription, tenant, location = self._azure_providers.get(provider_id, ("", "", ""))
            shaped = azure_mocks.resource_state(typ, inputs, subscription, tenant, location)
        else:
            return None
        if shaped is None:
            cloud = typ.split(":")[0].removesuffix("-native")
            raise LookupError(f"offline plan has no mock for {typ}; add one in offline_plan/{cloud}_mocks.py")
        return shaped

    def _physical_id(self, typ: str, name: str, inputs: dict[str, Any]) -> str:
        if typ in ("aws:kms/key:Key", "aws:kms/externalKey:ExternalKey"):
            return stable_uuid(typ, name)
        if typ == "aws:s3/bucket:Bucket":
            return inputs.get("bucket") or f"{name}-{stable_id(name)[:7]}"
        if typ == "aws:codedeploy/deploymentGroup:DeploymentGroup":
            return stable_uuid(typ, name)
        if isinstance(inputs.get("name"), str):
            return inputs["name"]
        return f"{name}-{stable_id(typ, name)[:8]}"

    def _arn(self, typ: str, resource_id: str, inputs: dict[str, Any], account: str, region: str) -> str | None:
        p = self.partition
        name = inputs.get("name", resource_id)
        arns = {
            "aws:kms/key:Key": f"arn:{p}:kms:{region}:{account}:key/{resource_id}",
            "aws:kms/externalKey:ExternalKey": f"arn:{p}:kms:{region}:{account}:key/{resource_id}",
            "aws:kms/alias:Alias": f"arn:{p}:kms:{region}:{account}:{name}",
            "aws:s3/bucket:Bucket": f"arn:{p}:s3:::{resource_id}",
            "aws:iam/role:Role": f"arn:{p}:iam::{account}:role/{name}",
            "aws:codebuild/project:Project": f"arn:{p}:codebuild:{region}:{account}:project/{name}",
            "aws:codepipeline/pipeline:Pipeline": f"arn:{p}:codepipeline:{region}:{account}:{name}",
            "aws:codestarconnections/connection:Connection": (
                f"arn:{p}:codestar-connections:{region}:{account}:connection/{stable_uuid('connection', name)}"
            ),
            "aws:cloudwatch/logGroup:LogGroup": f"arn:{p}:logs:{region}:{account}:log-group:{name}",
            "aws:ecr/repository:Repository": f"arn:{p}:ecr:{region}:{account}:repository/{name}",
            "aws:codedeploy/application:Application": f"arn:{p}:codedeploy:{region}:{account}:application:{name}",
            "aws:sns/topic:Topic": f"arn:{p}:sns:{region}:{account}:{name}",
            "aws:cloudwatch/metricAlarm:MetricAlarm": f"arn:{p}:cloudwatch:{region}:{account}:alarm:{name}",
            "aws:cloudwatch/compositeAlarm:CompositeAlarm": (
                f"arn:{p}:cloudwatch:{region}:{account}:alarm:{inputs.get('alarmName', resource_id)}"
            ),
            "aws:cloudwatch/eventBus:EventBus": f"arn:{p}:events:{region}:{account}:event-bus/{name}",
            "aws:cloudwatch/eventRule:EventRule": (
                f"arn:{p}:events:{region}:{account}:rule/"
                + (f"{inputs['eventBusName']}/" if inputs.get("eventBusName", "default") != "default" else "")
                + str(name)
            ),
            "aws:codebuild/reportGroup:ReportGroup": f"arn:{p}:codebuild:{region}:{account}:report-group/{name}",
            # A fleet's ARN carries a generated id after its name.
            "aws:codebuild/fleet:Fleet": f"arn:{p}:codebuild:{region}:{account}:fleet/{name}:{stable_uuid(name)}",
            "aws:lambda/function:Function": f"arn:{p}:lambda:{region}:{account}:function:{name}",
            # Secrets Manager appends six random characters to a secret's name in its ARN.
            "aws:secretsmanager/secret:Secret": (
                f"arn:{p}:secretsmanager:{region}:{account}:secret:{name}-{stable_id(typ, name)[:6]}"
            ),
            "aws:dynamodb/table:Table": f"arn:{p}:dynamodb:{region}:{account}:table/{name}",
            "aws:sqs/queue:Queue": f"arn:{p}:sqs:{region}:{account}:{name}",
            # Parameter names carry their leading slash; the ARN joins them without another.
            "aws:ssm/parameter:Parameter": f"arn:{p}:ssm:{region}:{account}:parameter{name}",
            "aws:chatbot/slackChannelConfiguration:SlackChannelConfiguration": (
                f"arn:{p}:chatbot::{account}:chat-configuration/slack-channel/{inputs.get('configurationName')}"
            ),
        }
        if typ == "aws:cfg/rule:Rule":
            # AWS Config names a rule's ARN by its generated rule id, not by its name.
            return f"arn:{p}:config:{region}:{account}:config-rule/{_config_rule_id(typ, name)}"
        if typ == "aws:codedeploy/deploymentGroup:DeploymentGroup":
            return (
                f"arn:{p}:codedeploy:{region}:{account}:deploymentgroup:"
                f"{inputs.get('appName')}/{inputs.get('deploymentGroupName')}"
            )
        return arns.get(typ)

    def _extra_state(
        self, typ: str, resource_id: str, inputs: dict[str, Any], account: str, region: str
    ) -> dict[str, Any]:
        if typ == "aws:kms/key:Key":
            return {"keyId": resource_id}
        if typ == "aws:s3/bucket:Bucket":
            return {"bucket": resource_id, "region": region}
        if typ == "aws:ecr/repository:Repository":
            return {
                "repositoryUrl": f"{account}.dkr.ecr.{region}.amazonaws.com/{inputs.get('name')}",
                "registryId": account,
            }
        if typ == "aws:iam/role:Role":
            return {"uniqueId": "AROA" + stable_id(typ, resource_id).upper()}
        if typ == "aws:codedeploy/application:Application":
            return {"applicationId": stable_uuid(typ, resource_id)}
        if typ == "aws:cfg/rule:Rule":
            return {"ruleId": _config_rule_id(typ, resource_id)}
        if typ == "aws:sqs/queue:Queue":
            return {"url": f"https://sqs.{region}.amazonaws.com/{account}/{resource_id}"}
        if typ == "aws:lambda/function:Function":
            arn = f"arn:{self.partition}:lambda:{region}:{account}:function:{resource_id}"
            invoke_path = f"lambda:path/2015-03-31/functions/{arn}/invocations"
            return {
                "qualifiedArn": f"{arn}:$LATEST",
                "version": "$LATEST",
                "invokeArn": f"arn:{self.partition}:apigateway:{region}:{invoke_path}",
            }
        return {}

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        # A provider reference is "<urn>::<id>"; record the URN, as resources do.
        provider = args.provider.rsplit("::", 1)[0] if args.provider else None
        self.invokes.append(RecordedInvoke(token=args.token, provider=provider, args=dict(args.args)))
        if args.token == github_mocks.GET_TEAM:
            return github_mocks.get_team(dict(args.args))
        if args.token == gcp_mocks.GET_PROJECT:
            project, _ = self._gcp_providers.get(self._provider_id(args.provider), ("", ""))
            return gcp_mocks.get_project(dict(args.args), project)
        account, region = self._location(args.provider)
        data_source = _DATA_SOURCES.get(args.token)
        if data_source is None:
            raise LookupError(
                f"offline plan has no mock for data source {args.token}; add one in offline_plan/mocks.py"
            )
        if args.token == _CALLER_IDENTITY and not args.provider and self.caller_account_id:
            account = self.caller_account_id
        return data_source(self.partition, account, region, dict(args.args))


def _config_rule_id(typ: str, name: str) -> str:
    return f"config-rule-{stable_id(typ, name)[:6]}"


def _decoded(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _caller_identity(p: str, account: str, _region: str, _args: dict[str, Any]) -> dict[str, Any]:
    arn = f"arn:{p}:sts::{account}:assumed-role/offline-plan/session"
    return {"accountId": account, "arn": arn, "userId": "AROAOFFLINEPLAN:session", "id": account}


def _region(_p: str, _account: str, region: str, _args: dict[str, Any]) -> dict[str, Any]:
    return {"name": region, "region": region, "id": region, "endpoint": f"ec2.{region}.amazonaws.com"}


def _partition(p: str, _account: str, _region: str, _args: dict[str, Any]) -> dict[str, Any]:
    return {"partition": p, "dnsSuffix": "amazonaws.com", "id": p}


def _load_balancer(p: str, account: str, region: str, args: dict[str, Any]) -> dict[str, Any]:
    name = str(args.get("name"))
    suffix = f"app/{name}/{stable_id(account, name)}"
    arn = f"arn:{p}:elasticloadbalancing:{region}:{account}:loadbalancer/{suffix}"
    return {"arn": arn, "arnSuffix": suffix, "name": name, "id": arn, "loadBalancerType": "application"}


def _target_group(p: str, account: str, region: str, args: dict[str, Any]) -> dict[str, Any]:
    name = str(args.get("name"))
    suffix = f"targetgroup/{name}/{stable_id(account, 'tg', name)}"
    arn = f"arn:{p}:elasticloadbalancing:{region}:{account}:{suffix}"
    return {"arn": arn, "arnSuffix": suffix, "name": name, "id": arn, "targetType": "ip", "protocol": "HTTP"}


def _listener(_p: str, _account: str, _region: str, args: dict[str, Any]) -> dict[str, Any]:
    lb_arn = str(args.get("loadBalancerArn"))
    port = args.get("port")
    arn = lb_arn.replace(":loadbalancer/", ":listener/") + f"/{stable_id(lb_arn, str(port))}"
    return {"arn": arn, "port": port, "loadBalancerArn": lb_arn, "protocol": "HTTPS", "id": arn}


_CALLER_IDENTITY = "aws:index/getCallerIdentity:getCallerIdentity"
STACK_REFERENCE = "pulumi:pulumi:StackReference"
_DATA_SOURCES = {
    _CALLER_IDENTITY: _caller_identity,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getPartition:getPartition": _partition,
    "aws:lb/getLoadBalancer:getLoadBalancer": _load_balancer,
    "aws:lb/getListener:getListener": _listener,
    "aws:lb/getTargetGroup:getTargetGroup": _target_group,
}
