"""The shape of each pipeline: approval before prod, scans before deploy, gates, artifact flow, triggers, quotas.

No Checkov check, Config rule or Security Hub control looks at a pipeline as
a sequence of stages; these rules do. They read the conventions of
``pipeline_model`` (what counts as a scan, an approval, a deploy) and say
nothing about a pipeline whose stages are not known yet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import groupby

from .base import (
    PROD_ENVIRONMENTS_SCHEMA,
    Config,
    PolicyResource,
    as_list,
    dig,
    is_unknown,
    json_value,
    number,
    shown,
    stack_rule,
)
from .pipeline_model import Pipeline, pipelines, prod_pipelines

Findings = Iterator[tuple[str | None, str]]
PROD = {"prodEnvironments": PROD_ENVIRONMENTS_SCHEMA}
GLOB_CHARACTERS = set("*?[]{}!")


# prod-manual-approval


def check_prod_manual_approval(resources: Sequence[PolicyResource], config: Config) -> Findings:
    for pipeline in prod_pipelines(resources, config):
        if not pipeline.shape_known():
            continue
        first_deploy = pipeline.first_deploy_stage()
        if first_deploy is None:
            continue
        if not any(a.is_approval and a.stage_index < first_deploy for a in pipeline.actions()):
            stage = pipeline.stage_names()[first_deploy]
            yield pipeline.urn, f"prod pipeline {pipeline.name} reaches stage {stage} with no manual approval before it"


PROD_MANUAL_APPROVAL = stack_rule(
    name="prod-manual-approval",
    description="Every prod pipeline has a manual approval in a stage before its first deploy stage.",
    level="mandatory",
    check=check_prod_manual_approval,
    remediation="Give the prod environment approval: true (an Approve stage with a Manual action before Deploy).",
    config_schema=PROD,
)


# scan-before-deploy


def check_scan_before_deploy(resources: Sequence[PolicyResource], config: Config) -> Findings:
    required = list(config["requiredScanKinds"])
    for pipeline in pipelines(resources):
        if not pipeline.shape_known():
            continue
        actions = list(pipeline.actions())
        deploys = [a for a in actions if a.is_deploy]
        if not deploys:
            continue
        first = min(deploys, key=lambda a: (a.stage_index, a.run_order))
        before = [
            a
            for a in actions
            if a.stage_index < first.stage_index
            or (a.stage_index == first.stage_index and a.run_order < first.run_order)
        ]
        if any(a.provider == "CodeBuild" and is_unknown(a.configuration("EnvironmentVariables")) for a in before):
            continue  # any of these could be a scanner whose kind is not known yet
        found = {a.scan_kind for a in before}
        missing = [kind for kind in required if kind not in found]
        if missing:
            yield (
                pipeline.urn,
                f"pipeline {pipeline.name} deploys ({first.stage}/{first.name}) without a {', '.join(missing)} "
                "scan before it",
            )


SCAN_BEFORE_DEPLOY = stack_rule(
    name="scan-before-deploy",
    description="Security scans (SAST, SCA, IaC by default) run before any deploy action of a pipeline.",
    level="mandatory",
    check=check_scan_before_deploy,
    remediation="Add CodeBuild scan actions in a Scan stage between Build and Deploy, one per kind "
    "(set SCANNER=sast|sca|iac|secrets|licenses|dast in the action's EnvironmentVariables).",
    config_schema={
        "requiredScanKinds": {
            "type": "array",
            "items": {"type": "string", "enum": ["sast", "sca", "iac", "secrets", "licenses", "dast"]},
            "default": ["sast", "sca", "iac"],
            "description": "Scan kinds that must run before the first deploy action.",
        }
    },
)


# deploy-gates


def _gate_providers(pipeline: Pipeline, index: int) -> list[object] | None:
    """Rule providers checked before a stage starts: its entry condition and the previous stage's success
    condition (where the platform holds the deployment window); ``None`` when not known yet."""
    stages = pipeline.stages()
    conditions = [dig(stages[index], "beforeEntry", "condition")]
    if index > 0:
        conditions.append(dig(stages[index - 1], "onSuccess", "condition"))
    providers: list[object] = []
    for condition in conditions:
        rules = dig(condition, "rules")
        if is_unknown(condition) or is_unknown(rules):
            return None
        providers += [dig(rule, "ruleTypeId", "provider") for rule in as_list(rules)]
    return None if any(is_unknown(p) for p in providers) else providers


def _rules(stage: object, phase: str) -> list[object] | None:
    """The rules of a stage's ``beforeEntry``/``onSuccess`` condition; ``None`` when not known yet."""
    condition = dig(stage, phase, "condition")
    rules = dig(condition, "rules")
    if is_unknown(condition) or is_unknown(rules):
        return None
    return as_list(rules)


def _alarm_rule_role(pipeline: Pipeline, rule: object) -> str | None:
    """Why a ``CloudWatchAlarm`` rule reads its alarm in an undocumented way (None: the documented way).

    AWS documents a rule's ``roleArn`` as "the pipeline role ARN associated with
    the rule" (API reference, ``RuleDeclaration``) and the rule's configuration
    names only an alarm (CodePipeline user guide, "CloudWatchAlarm rule
    reference"): without a role, or with the pipeline's, it reads the alarm where
    the pipeline runs. A rule with another account's role relies on reading an
    alarm in another account, which AWS does not document.
    Unknown values are not judged (an empty answer).
    """
    role, own = dig(rule, "roleArn"), pipeline.props.get("roleArn")
    if role is None or is_unknown(role) or is_unknown(own) or role == own:
        return None
    return str(role)


def _checks_health(pipeline: Pipeline, rule: object) -> bool | None:
    """The rule checks a health alarm in a documented way; ``None`` when unknown values decide it."""
    provider, configuration = dig(rule, "ruleTypeId", "provider"), dig(rule, "configuration")
    if is_unknown(provider) or is_unknown(configuration):
        return None
    if provider == "LambdaInvoke":
        parameters = json_value(dig(configuration, "UserParameters"))
        alarm = parameters.get("healthAlarm") if isinstance(parameters, dict) else None
        if is_unknown(parameters) or is_unknown(alarm):
            return None
        return isinstance(alarm, str) and bool(alarm)
    if provider == "CloudWatchAlarm":
        deciding = (dig(rule, "roleArn"), pipeline.props.get("roleArn"), dig(configuration, "AlarmName"))
        if any(is_unknown(value) for value in deciding):
            return None
        return bool(deciding[2]) and _alarm_rule_role(pipeline, rule) is None
    return False


def _health_on_entry(pipeline: Pipeline, rules: list[object]) -> bool | None:
    """Some entry rule checks the service's health alarm; ``None`` when unknown values could be one."""
    verdicts = [_checks_health(pipeline, rule) for rule in rules]
    if any(verdicts):
        return True
    return None if None in verdicts else False


def _bake_findings(pipeline: Pipeline, index: int, stage: object, minimum: float) -> Iterator[str]:
    """The stage watches the health alarm for ``minimum`` minutes after its deploys, or says what is missing."""
    where = f"prod deploy stage {pipeline.name}/{dig(stage, 'name')}"
    actions = [a for a in pipeline.actions() if a.stage_index == index]
    if any(a.is_lambda_invoke and is_unknown(a.user_parameters()) for a in actions):
        return  # an action whose parameters are not known yet may be the bake
    bakes = [a for a in actions if a.is_bake]
    last_deploy = max((a.run_order for a in actions if not a.is_bake), default=0)
    for bake in bakes:
        parameters = bake.user_parameters()
        minutes, alarm = parameters.get("bakeMinutes"), parameters.get("healthAlarm")
        if is_unknown(minutes) or is_unknown(alarm):
            return
        if not (isinstance(alarm, str) and alarm):
            yield f"{where}: bake {bake.name} names no healthAlarm to watch"
        elif not isinstance(minutes, (int, float)) or isinstance(minutes, bool) or minutes < minimum:
            yield f"{where}: bake {bake.name} watches {alarm} for {minutes} min, less than {minimum:g}"
        elif bake.run_order <= last_deploy:
            yield f"{where}: bake {bake.name} (run order {bake.run_order}) does not run after every action of the stage"
        else:
            return
    if bakes:
        return
    success = _rules(stage, "onSuccess")
    if success is None or is_unknown(dig(stage, "onSuccess", "condition", "result")):
        return
    if dig(stage, "onSuccess", "condition", "result") == "ROLLBACK":
        for rule in success:
            provider, wait = dig(rule, "ruleTypeId", "provider"), dig(rule, "configuration", "WaitTime")
            deciding = (provider, wait, dig(rule, "roleArn"), pipeline.props.get("roleArn"))
            if any(is_unknown(value) for value in deciding):
                return
            documented = _alarm_rule_role(pipeline, rule) is None
            if provider == "CloudWatchAlarm" and documented and str(wait).isdigit() and int(str(wait)) >= minimum:
                return
    yield (
        f"{where} does not bake: no action watches the service's health alarm for {minimum:g} min after its deploys "
        "(a Lambda invoke action whose UserParameters name healthAlarm and bakeMinutes, last in the stage)"
    )


def check_deploy_gates(resources: Sequence[PolicyResource], config: Config) -> Findings:
    required = list(config["requiredEntryRules"])
    minimum = float(config["minimumBakeMinutes"])
    for pipeline in prod_pipelines(resources, config):
        if not pipeline.shape_known():
            continue
        for index, stage in pipeline.deploy_stages():
            where = f"prod deploy stage {pipeline.name}/{dig(stage, 'name')}"
            providers = _gate_providers(pipeline, index)
            if providers is not None:
                missing = [provider for provider in required if provider not in providers]
                if missing:
                    yield (
                        pipeline.urn,
                        f"{where} is not gated by a {', '.join(missing)} rule "
                        "(on its entry or on the success of the stage before it)",
                    )
            entry = _rules(stage, "beforeEntry") if dig(stage, "beforeEntry") is not None else []
            if entry is not None and _health_on_entry(pipeline, entry) is False:
                yield (
                    pipeline.urn,
                    f"{where} does not check the service's health alarm on entry (a LambdaInvoke rule whose "
                    "UserParameters name healthAlarm, or a CloudWatchAlarm rule in the pipeline's own account)",
                )
            for phase in ("beforeEntry", "onSuccess"):
                for rule in _rules(stage, phase) or []:
                    if dig(rule, "ruleTypeId", "provider") != "CloudWatchAlarm":
                        continue
                    role = _alarm_rule_role(pipeline, rule)
                    if role:
                        alarm = dig(rule, "configuration", "AlarmName")
                        yield (
                            pipeline.urn,
                            f"{where}: CloudWatchAlarm rule {dig(rule, 'name')} reads {shown(alarm)} through role "
                            f"{role}, not the pipeline's: AWS documents a rule's roleArn as the pipeline role",
                        )
            if minimum > 0:
                for message in _bake_findings(pipeline, index, stage, minimum):
                    yield pipeline.urn, message


DEPLOY_GATES = stack_rule(
    name="deploy-gates",
    description="Prod deploy stages are entered only through a DeploymentWindow rule and a check of the service's "
    "health alarm, and end by watching that alarm for a bake time; no CloudWatchAlarm rule reads an alarm "
    "through another account's role.",
    level="mandatory",
    check=check_deploy_gates,
    remediation="Give prod a deployWindow (held on the stage before Deploy), the deploy gate's LambdaInvoke rule "
    "naming the service's healthAlarm on Deploy's entry, and a bakeMinutes (the bake action, last in Deploy).",
    anchors=("CodePipeline user guide: CloudWatchAlarm rule, LambdaInvoke rule, AWS Lambda invoke action",),
    config_schema={
        **PROD,
        "requiredEntryRules": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["DeploymentWindow"],
            "description": "Rule providers that must gate every prod deploy stage, besides the health check.",
        },
        "minimumBakeMinutes": {
            "type": "integer",
            "default": 1,
            "description": "Minutes a prod deploy stage must watch the health alarm after its deploys (0: no bake).",
        },
    },
)


# artifact-flow


def check_artifact_flow(resources: Sequence[PolicyResource], _: Config) -> Findings:
    for pipeline in pipelines(resources):
        if not pipeline.shape_known():
            continue
        actions = list(pipeline.actions())
        if any(
            is_unknown(dig(a.props, key)) or any(is_unknown(x) for x in as_list(dig(a.props, key)))
            for a in actions
            for key in ("inputArtifacts", "outputArtifacts")
        ):
            continue
        outputs = Counter(str(o) for a in actions for o in as_list(dig(a.props, "outputArtifacts")))
        for name, count in sorted(outputs.items()):
            if count > 1:
                yield pipeline.urn, f"pipeline {pipeline.name}: artifact {name} is produced by {count} actions"
        produced: set[str] = set()
        ordered = sorted(actions, key=lambda a: (a.stage_index, a.run_order))
        for _, group in groupby(ordered, key=lambda a: (a.stage_index, a.run_order)):
            group = list(group)
            for action in group:
                for artifact in as_list(dig(action.props, "inputArtifacts")):
                    if str(artifact) not in produced:
                        yield (
                            pipeline.urn,
                            f"pipeline {pipeline.name}: {action.stage}/{action.name} reads {artifact}, "
                            "which no earlier action produces",
                        )
            produced |= {str(o) for a in group for o in as_list(dig(a.props, "outputArtifacts"))}
        first = [a for a in actions if a.stage_index == 0]
        if any(a.category != "Source" for a in first):
            yield pipeline.urn, f"pipeline {pipeline.name}: the first stage holds non-source actions"
        late = [a for a in actions if a.stage_index > 0 and a.category == "Source"]
        for action in late:
            yield pipeline.urn, f"pipeline {pipeline.name}: source action {action.name} outside the first stage"


ARTIFACT_FLOW = stack_rule(
    name="artifact-flow",
    description="Every input artifact comes from an earlier action, artifact names are unique, and the first "
    "stage is source only.",
    level="mandatory",
    check=check_artifact_flow,
    remediation="Name each output artifact once and read only artifacts produced by earlier stages "
    "(or lower run orders); keep Source actions in the first stage.",
)


# prod-branch-literal


def _literal(branch: str) -> bool:
    return bool(branch) and not (set(branch) & GLOB_CHARACTERS)


def check_prod_branch_literal(resources: Sequence[PolicyResource], config: Config) -> Findings:
    for pipeline in prod_pipelines(resources, config):
        triggers = pipeline.props.get("triggers")
        if is_unknown(triggers):
            continue
        includes = [
            branch
            for trigger in as_list(triggers)
            for push in as_list(dig(trigger, "gitConfiguration", "pushes"))
            for branch in as_list(dig(push, "branches", "includes"))
        ]
        if any(is_unknown(branch) for branch in includes):
            continue
        globs = [branch for branch in includes if not _literal(str(branch))]
        if globs:
            yield pipeline.urn, f"prod pipeline {pipeline.name} triggers on the glob(s) {', '.join(globs)}"
        elif len(set(includes)) > 1:
            yield pipeline.urn, f"prod pipeline {pipeline.name} triggers on several branches: {', '.join(includes)}"


PROD_BRANCH_LITERAL = stack_rule(
    name="prod-branch-literal",
    description="Prod pipelines trigger on one literal branch, never on a glob other branches can match.",
    level="mandatory",
    check=check_prod_branch_literal,
    remediation="Give the prod environment one literal branch (e.g. main).",
    config_schema=PROD,
)


# prod-queued


def check_prod_queued(resources: Sequence[PolicyResource], config: Config) -> Findings:
    for pipeline in prod_pipelines(resources, config):
        mode = pipeline.props.get("executionMode")
        if not is_unknown(mode) and mode != "QUEUED":
            yield (
                pipeline.urn,
                f"prod pipeline {pipeline.name} runs in {mode or 'SUPERSEDED (default)'} mode, not QUEUED",
            )


PROD_QUEUED = stack_rule(
    name="prod-queued",
    description="Prod pipelines run in QUEUED mode, so a newer commit never overtakes one being approved or deployed.",
    level="advisory",
    check=check_prod_queued,
    remediation="Set executionMode: QUEUED on the prod environment.",
    config_schema=PROD,
)


# quotas

PROJECT = "aws:codebuild/project:Project"


def _arn_part(value: object, index: int) -> str | None:
    """One field of an ARN (3 region, 4 account), or None when the value is not a known ARN with that field."""
    if not isinstance(value, str) or is_unknown(value) or not value.startswith("arn:"):
        return None
    parts = value.split(":")
    return parts[index] if len(parts) > index and parts[index] else None


def _stack_of(urn: str) -> str:
    return urn.split("::", 1)[0].removeprefix("urn:pulumi:")


def _tooling_location(resource: PolicyResource, account: str | None, region: str | None) -> str:
    """Where a pipeline or project lives, so quotas count per account and region across every stack judged.

    A sharded fleet's stacks share one tooling account and region; their merged plan must count
    them together. When the account or region is not known yet, the resource's provider stands in
    (the stack's default provider: one account and region per stack).
    """
    if account and region:
        return f"account {account} in {region}"
    if resource.provider:
        return resource.provider
    return f"the default provider's account and region (stack {_stack_of(resource.urn)})"


def pipeline_location(resource: PolicyResource) -> str:
    """A pipeline's account is its service role's (CodePipeline assumes a role of its own account); its region is
    its one artifact store's, whose key must be in the pipeline's region."""
    stores = as_list(resource.props.get("artifactStores"))
    key = dig(stores[0], "encryptionKey", "id") if len(stores) == 1 else None
    region = dig(stores[0], "region") if len(stores) == 1 else None
    return _tooling_location(
        resource,
        _arn_part(resource.props.get("roleArn"), 4),
        region if isinstance(region, str) and not is_unknown(region) else _arn_part(key, 3),
    )


def project_location(resource: PolicyResource) -> str:
    """A build project lives where its service role's account is and in its encryption key's region."""
    return _tooling_location(
        resource, _arn_part(resource.props.get("serviceRole"), 4), _arn_part(resource.props.get("encryptionKey"), 3)
    )


def _stage_findings(pipeline: Pipeline, config: Config) -> Findings:
    stages = pipeline.props.get("stages")
    if is_unknown(stages):
        return
    if len(as_list(stages)) > config["maxStagesPerPipeline"]:
        yield (
            pipeline.urn,
            (
                f"pipeline {pipeline.name} has {len(as_list(stages))} "
                f"stages (quota {number(config['maxStagesPerPipeline'])})"
            ),
        )
    for stage in as_list(stages):
        actions = dig(stage, "actions")
        if not is_unknown(actions) and len(as_list(actions)) > config["maxActionsPerStage"]:
            yield (
                pipeline.urn,
                (
                    f"pipeline {pipeline.name} stage {dig(stage, 'name')} has {len(as_list(actions))} actions "
                    f"(quota {number(config['maxActionsPerStage'])})"
                ),
            )


def _on_demand(project: PolicyResource) -> bool:
    """Known to build on on-demand capacity: its environment names no fleet (one not known yet may be a fleet)."""
    environment = project.props.get("environment")
    fleet = dig(environment, "fleet")
    if is_unknown(environment) or is_unknown(fleet) or is_unknown(dig(fleet, "fleetArn")):
        return False
    return not dig(fleet, "fleetArn")


def _build_limit_findings(resources: Sequence[PolicyResource], config: Config) -> Findings:
    """On-demand build limits must fit the account's concurrent-build quota, or they promise builds AWS refuses.

    A project's ``concurrentBuildLimit`` must be below the account's limit (the provider's documentation), and the
    limits of a location's projects together must fit it: only then does every limited queue find room while the
    others build ("Builds in AWS CodeBuild": a project at its limit refuses builds, the others queue at the
    account's). Projects on a reserved fleet do not draw on on-demand capacity and are not counted.
    """
    limit = config["maxConcurrentBuilds"]
    promised: Counter[str] = Counter()
    projects: Counter[str] = Counter()
    for resource in resources:
        if resource.type != PROJECT:
            continue
        cap = resource.props.get("concurrentBuildLimit")
        if not isinstance(cap, (int, float)) or isinstance(cap, bool) or not _on_demand(resource):
            continue
        name = resource.props.get("name")
        if cap >= limit:
            yield (
                resource.urn,
                f"build project {name} may run {number(cap)} builds at once, not below the account's "
                f"{number(limit)} concurrent builds",
            )
        location = project_location(resource)
        promised[location] += int(cap)
        projects[location] += 1
    for location, total in sorted(promised.items()):
        if total > limit:
            yield (
                None,
                f"{projects[location]} build projects in {location} may run {total} builds at once by their "
                f"build queues' concurrentBuildLimit, more than the account's {number(limit)} concurrent builds",
            )


def check_quotas(resources: Sequence[PolicyResource], config: Config) -> Findings:
    per_location: Counter[str] = Counter()
    for resource in resources:
        if resource.type != "aws:codepipeline/pipeline:Pipeline":
            continue
        per_location[pipeline_location(resource)] += 1
        yield from _stage_findings(Pipeline(resource.urn, resource.props), config)
    for location, count in sorted(per_location.items()):
        if count > config["maxPipelinesPerRegion"]:
            yield None, f"{count} pipelines in {location} (quota {number(config['maxPipelinesPerRegion'])})"
    yield from _build_limit_findings(resources, config)


QUOTAS = stack_rule(
    name="quotas",
    description="Actions per stage, stages per pipeline and pipelines per account and region stay under "
    "CodePipeline quotas, counted across every stack of a sharded fleet; build queues' concurrent-build limits "
    "fit the account's CodeBuild quota.",
    level="mandatory",
    check=check_quotas,
    remediation="Split the stage or pipeline, or shard the fleet over regions/accounts; lower build queues' "
    "concurrentBuildLimit or move a queue onto a fleet; request a quota increase where AWS allows it and raise "
    "the rule's limit to match.",
    anchors=("AWS CodePipeline quotas", "Quotas for AWS CodeBuild"),
    config_schema={
        "maxActionsPerStage": {"type": "integer", "default": 50, "description": "Actions per stage."},
        "maxStagesPerPipeline": {"type": "integer", "default": 50, "description": "Stages per pipeline."},
        "maxPipelinesPerRegion": {
            "type": "integer",
            "default": 1000,
            "description": "Pipelines per account and region (counted over every stack the pack sees at once).",
        },
        "maxConcurrentBuilds": {
            "type": "integer",
            "default": 20,
            "description": "The account's concurrently running CodeBuild builds (on demand). AWS: the default is 20 "
            "for some platforms and compute types and can be as low as 5 for a new account; set the account's "
            "actual quota.",
        },
    },
)

RULES = (
    PROD_MANUAL_APPROVAL,
    SCAN_BEFORE_DEPLOY,
    DEPLOY_GATES,
    ARTIFACT_FLOW,
    PROD_BRANCH_LITERAL,
    PROD_QUEUED,
    QUOTAS,
)
