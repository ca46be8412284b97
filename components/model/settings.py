"""Stack settings: which accounts, environments and people one platform instance serves.

Each Pulumi stack (``dev`` is the platform team's sandbox, ``prod`` runs the
real pipelines) holds one structured value, ``cicd-platform:settings``, in its
``Pulumi.<stack>.yaml``. It is read once, here, into a frozen model: the
environments the pipelines target (with the branch → environment defaults),
the tooling account that hosts the pipelines, and who may approve releases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from .branch_pattern import branch_pattern_problem
from .build_queues import BuildQueue, QueueName
from .catalog import AccountId, Catalog, EnvironmentName, Service, ServiceName
from .cloud_targets import AzureTarget, GcpTarget
from .credentials import DEFAULT_GITHUB_CREDENTIALS, MAX_ROTATION_DAYS, GitHubCredentials
from .deploy_window import cron_problem, timezone_problem
from .errors import PlatformInputError, dotted_field, first_problem
from .failure_digest import FailureDigestSettings
from .github_run_timeout import DEFAULT_RUN_TIMEOUT_MINUTES, PRODUCTION_RUN_TIMEOUT_MINUTES, run_timeout_problem
from .scan_policy import ScanPolicy, Snyk, SonarQube, UrlPattern, default_scan_policy, expand_url_pattern

CONFIG_KEY = "settings"
PROJECT_CONFIG_KEYS = frozenset({CONFIG_KEY})
"""Every ``cicd-platform:*`` key the program reads; anything else in a stack file is a typo."""

DEFAULT_BRANCHES: dict[str, str] = {
    "dev": "feature/**",
    "qa": "develop",
    "staging": "release/**",
    "prod": "main",
}
APPROVAL_BY_DEFAULT = frozenset({"staging", "prod"})
PRODUCTION_BAKE_MINUTES = 10
"""Default alarm bake after a production deploy; other environments do not bake unless they ask."""
MAX_BAKE_MINUTES = 180
"""A bake holds the execution (and, in QUEUED mode, the queue behind it); three hours is already long."""

Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d$")]
RoleArn = Annotated[str, StringConstraints(pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$")]
OrganizationId = Annotated[str, StringConstraints(pattern=r"^o-[a-z0-9]{10,32}$")]
SlackWorkspaceId = Annotated[str, StringConstraints(pattern=r"^T[A-Z0-9]+$")]
SlackChannelId = Annotated[str, StringConstraints(pattern=r"^C[A-Z0-9]+$")]
SecretName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9/_+=.@-]{1,512}$")]


def _checked_by(problem_of: Callable[[Any], str | None]) -> AfterValidator:
    """A validator from a ``problem_of(value)`` function, so each check keeps its own message."""

    def check(value: Any) -> Any:
        problem = problem_of(value)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


BranchPattern = Annotated[str, _checked_by(branch_pattern_problem)]
Cron = Annotated[str, _checked_by(cron_problem)]
TimeZone = Annotated[str, _checked_by(timezone_problem)]


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        populate_by_name=True,
        alias_generator=AliasGenerator(validation_alias=to_camel, serialization_alias=to_camel),
    )


class DeployWindow(_Frozen):
    """When deploys may start: a DeploymentWindow cron in a time zone."""

    cron: Cron
    timezone: TimeZone = "UTC"


class Environment(_Frozen):
    """A deploy target of every pipeline: an account, a region and a branch filter."""

    name: EnvironmentName
    account_id: AccountId
    branch: BranchPattern
    region: Region
    approval: bool
    production: bool = False
    deploy_window: DeployWindow | None = None
    execution_mode: Literal["QUEUED", "SUPERSEDED", "PARALLEL"]
    scan: ScanPolicy
    bake_minutes: int = Field(
        default=0,
        ge=0,
        le=MAX_BAKE_MINUTES,
        description="Minutes the Deploy stage watches the service's health alarm after success; 0 skips the bake.",
    )
    github_run_timeout_minutes: Annotated[int, _checked_by(run_timeout_problem)] = Field(
        default=DEFAULT_RUN_TIMEOUT_MINUTES,
        description="Minutes a GitHub dispatch action waits for its workflow run before it cancels the run and "
        "fails (README: Deploying to GCP and Azure).",
    )
    gcp: GcpTarget | None = None
    """The GCP project services with ``also_deploy_to: [gcp]`` deploy into in this environment."""
    azure: AzureTarget | None = None
    """The Azure subscription services with ``also_deploy_to: [azure]`` deploy into in this environment."""

    def cloud(self, name: str) -> GcpTarget | AzureTarget | None:
        """The block for ``gcp`` or ``azure`` (the catalog's ``also_deploy_to`` values)."""
        return {"gcp": self.gcp, "azure": self.azure}[name]


ShardName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$"),
    Field(description="The shard stack is <stack>-<name>; lower-case letters, digits and '-'."),
]
TeamName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,62}$")]
RESERVED_SHARD_NAMES = frozenset({"core"})
"""``plan-<stack>.core.json`` holds the core's own plan; a shard of that name would read as the core."""


class Shard(_Frozen):
    """A slice of the catalog planned and deployed as a stack of its own (README: Scaling to a large fleet)."""

    name: ShardName
    teams: tuple[TeamName, ...] = Field(default=(), description="Catalog owners whose services this shard holds.")
    services: tuple[ServiceName, ...] = Field(default=(), description="Services this shard holds, by name.")
    tooling_account_id: AccountId | None = Field(
        default=None, description="Where the shard's pipelines live; only the stack's own tooling account for now."
    )
    region: Region | None = Field(
        default=None, description="The shard's tooling region; only the stack's own region for now."
    )

    @model_validator(mode="after")
    def _names_members(self) -> Shard:
        if self.name in RESERVED_SHARD_NAMES:
            raise ValueError(f"'{self.name}' is reserved (the core's own plan is plan-<stack>.core.json)")
        if not self.teams and not self.services:
            raise ValueError("name the shard's teams, services or both")
        for field, values in (("teams", self.teams), ("services", self.services)):
            repeated = sorted({value for value in values if values.count(value) > 1})
            if repeated:
                raise ValueError(f"{field} lists {', '.join(repeated)} more than once")
        return self


class StackSettings(_Frozen):
    """Everything one platform stack needs besides the catalog."""

    tooling_account_id: AccountId
    region: Region
    organization_id: OrganizationId = Field(
        description="Cross-account deploy roles trust the pipeline only from inside this organization."
    )
    environments: tuple[Environment, ...] = Field(min_length=1)
    github_owner: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")]
    slack_channel: Annotated[str, StringConstraints(pattern=r"^#[a-z0-9][a-z0-9._-]{0,79}$")]
    release_managers: tuple[RoleArn, ...] = Field(min_length=1)
    slack_workspace_id: SlackWorkspaceId | None = Field(
        default=None,
        description="Slack workspace (team) id: release news goes through an AWS Chatbot channel configuration.",
    )
    slack_channel_id: SlackChannelId | None = Field(
        default=None,
        description="The stack channel's id (C...), not its #name: required with the workspace (Chatbot) and with "
        "a bot token (Web API).",
    )
    slack_webhook_secret_name: SecretName = Field(
        default="cicd-platform/slack-webhook",
        description="Secrets Manager secret holding the Slack incoming-webhook URL (used without Chatbot).",
    )
    slack_bot_token_secret_name: SecretName | None = Field(
        default=None,
        description="Secrets Manager secret holding a Slack bot token (xoxb-..., scope chat:write): release news and "
        "failure digests then go through the Web API, so digests can reply in the execution's thread and reach "
        "the teams' own channels. Not with Chatbot.",
    )
    failure_digest: FailureDigestSettings = Field(
        default_factory=FailureDigestSettings,
        description="Teams' own channels for failure digests, and the optional Bedrock summary.",
    )
    catalog_path: str = "catalog/services.yaml"
    bootstrap_role_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+=,.@_-]{1,64}$")] = (
        "cicd-platform-bootstrap"
    )
    permissions_boundary_name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+=,.@_-]{1,128}$")] = Field(
        default="cicd-platform-boundary",
        description="The managed policy the bootstrap creates in each environment account (its BoundaryPolicyName); "
        "every role the platform creates there carries it as permissions boundary.",
    )
    use_service_accounts: bool = Field(
        default=True,
        description="Honour the catalog's per-service accounts; a sandbox stack turns this off.",
    )
    artifact_retention_days: int = Field(
        default=90,
        ge=7,
        le=3650,
        description="Days pipeline artifacts (sources, build outputs) live in the artifact bucket "
        "(README: Artifact retention).",
    )
    security_report_retention_days: int = Field(
        default=400,
        ge=30,
        le=3650,
        description="Days scan reports and SBOMs (security_reports/) live: audit evidence, kept past a year's audit.",
    )
    lambda_release_retention_days: int = Field(
        default=7,
        ge=1,
        le=3650,
        description="Days a Lambda release package lives; at most artifactRetentionDays (it sits in the pipeline's "
        "artifacts, whose rule S3 would apply first).",
    )
    access_log_retention_days: int = Field(
        default=365, ge=30, le=3650, description="Days the artifact bucket's server access logs live."
    )
    release_images_per_environment: int = Field(
        default=20,
        ge=2,
        le=1000,
        description="Release images each ECR repository keeps per environment (every build counts, deployed or "
        "not); a rollback needs the last deployed one.",
    )
    github_environments: bool = Field(
        default=False,
        description="Create the GitHub environments of services that deploy to GCP/Azure and write their variables.",
    )
    github_per_key_variables: bool = Field(
        default=False,
        description="With githubEnvironments, also write the per-key variables (GCP_PROJECT_ID, SERVICE_NAME, ...) "
        "that templates from before CICD_DEPLOY_TARGET read, under their former resource names: on during the "
        "rollout of the new templates, then off (README: Upgrading to one deploy-target variable).",
    )
    github_prod_reviewer_teams: tuple[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,99}$")], ...] = (
        Field(default=(), description="Team slugs whose approval production deploys on GCP/Azure wait for.")
    )
    build_timeout_minutes: int = Field(default=30, ge=5, le=480)
    config_rules: bool = Field(
        default=False,
        description="Deploy the AWS Config managed rules that twin the policy pack in the tooling account "
        "(needs a configuration recorder there, which the landing zone owns).",
    )
    github_credentials: GitHubCredentials = Field(
        default=DEFAULT_GITHUB_CREDENTIALS,
        description="How the dispatch function authenticates to GitHub: mode 'app' (recommended: a GitHub App whose "
        "key lives in KMS) or 'token' (a personal access token in a secret, rotation-exempt and watched).",
    )
    rotation_days: int = Field(
        default=MAX_ROTATION_DAYS,
        ge=1,
        le=MAX_ROTATION_DAYS,
        description="Days between rotations of the secrets the platform rotates (scanner tokens).",
    )
    sonarqube: SonarQube | None = Field(default=None, description="SAST by this server instead of Semgrep.")
    snyk: Snyk | None = Field(default=None, description="Snyk beside OSV-Scanner for dependencies.")
    service_url_pattern: UrlPattern | None = Field(
        default=None,
        description="Where DAST finds a service, e.g. https://{service}.{environment}.example.com; "
        "a catalog entry's urls override it.",
    )
    shards: tuple[Shard, ...] = Field(
        default=(),
        description="Split the fleet into shard stacks <stack>-<shard>, each owning its services' pipelines; this "
        "stack becomes the core that owns the shared pieces (README: Scaling to a large fleet).",
    )
    build_queues: dict[QueueName, BuildQueue] = Field(
        default_factory=dict,
        description="Build queues services name in the catalog (build_queue); 'standard' is on demand unless "
        "redefined here.",
    )

    @model_validator(mode="before")
    @classmethod
    def _environment_defaults(cls, data: Any) -> Any:
        """Fill the documented per-environment defaults before field validation."""
        if not isinstance(data, dict) or not isinstance(data.get("environments"), list):
            return data
        region = data.get("region")
        filled = []
        for entry in data["environments"]:
            if isinstance(entry, dict) and isinstance(entry.get("name"), str):
                name = entry["name"]
                entry = dict(entry)
                if "branch" not in entry and name in DEFAULT_BRANCHES:
                    entry["branch"] = DEFAULT_BRANCHES[name]
                entry.setdefault("approval", name in APPROVAL_BY_DEFAULT)
                entry.setdefault("production", name == "prod")
                entry.setdefault(
                    "executionMode", "QUEUED" if entry["production"] or entry["approval"] else "SUPERSEDED"
                )
                entry.setdefault("bakeMinutes", PRODUCTION_BAKE_MINUTES if entry["production"] is True else 0)
                entry.setdefault(
                    "githubRunTimeoutMinutes",
                    PRODUCTION_RUN_TIMEOUT_MINUTES if entry["production"] is True else DEFAULT_RUN_TIMEOUT_MINUTES,
                )
                if region is not None:
                    entry.setdefault("region", region)
                if isinstance(entry.get("scan", {}), dict):
                    entry["scan"] = {**default_scan_policy(entry["production"] is True), **entry.get("scan", {})}
            filled.append(entry)
        return {**data, "environments": filled}

    @model_validator(mode="after")
    def _consistent(self) -> StackSettings:
        names = [environment.name for environment in self.environments]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"environment {repeated[0]!r} is defined more than once")
        branches = [environment.branch for environment in self.environments]
        shared = sorted({branch for branch in branches if branches.count(branch) > 1})
        if shared:
            raise ValueError(f"branch pattern {shared[0]!r} is used by two environments; a push must reach one")
        self._check_slack()
        foreign = [arn for arn in self.release_managers if arn.split(":")[4] != self.tooling_account_id]
        if foreign:
            raise ValueError(
                f"release manager {foreign[0]} is not in the tooling account {self.tooling_account_id}; approvals "
                "happen there, and the platform grants them only to roles of that account"
            )
        for environment in self.environments:
            if environment.region != self.region:
                raise ValueError(
                    f"environment {environment.name!r} is in {environment.region} but the artifact store is in "
                    f"{self.region}; cross-region deploys need a regional artifact store, which the platform "
                    "does not create yet"
                )
        self._check_shards()
        if self.github_environments and not self.github_prod_reviewer_teams:
            raise ValueError(
                "githubEnvironments needs githubProdReviewerTeams: production environments get required reviewers"
            )
        if self.github_per_key_variables and not self.github_environments:
            raise ValueError(
                "githubPerKeyVariables needs githubEnvironments: without it the platform writes no variable at all, "
                "so there are no per-key variables to keep (on the manual path the team keeps or deletes its own)"
            )
        pools = [
            (env.gcp.project_id, env.gcp.workload_identity_pool_id) for env in self.environments if env.gcp is not None
        ]
        reused = sorted({pool for pool in pools if pools.count(pool) > 1})
        if reused:
            project, pool = reused[0]
            raise ValueError(
                f"GCP workload identity pool '{pool}' in project '{project}' is named by two environments; "
                "each environment needs its own pool (its provider pins that environment's repositories), "
                "so give one a different workloadIdentityPoolId"
            )
        return self

    @model_validator(mode="after")
    def _retention_consistent(self) -> StackSettings:
        if self.lambda_release_retention_days > self.artifact_retention_days:
            raise ValueError(
                f"lambdaReleaseRetentionDays ({self.lambda_release_retention_days}) exceeds artifactRetentionDays "
                f"({self.artifact_retention_days}): release packages sit among the pipeline's artifacts, and S3 "
                "applies the shorter of two overlapping expirations, so they could not live longer; lower it or "
                "raise artifactRetentionDays"
            )
        return self

    def _check_slack(self) -> None:
        """One way to Slack per stack: the webhook (default), AWS Chatbot, or the Web API with a bot token."""
        chatbot, bot = self.slack_workspace_id is not None, self.slack_bot_token_secret_name is not None
        if chatbot and bot:
            raise ValueError(
                "slackWorkspaceId (AWS Chatbot) and slackBotTokenSecretName (the Web API) are two ways to deliver "
                "release news; choose one"
            )
        if chatbot and self.slack_channel_id is None:
            raise ValueError(
                "slackWorkspaceId and slackChannelId go together: AWS Chatbot needs both the workspace and the "
                "channel id (the C... id from the channel's details, not its #name)"
            )
        if bot and self.slack_channel_id is None:
            raise ValueError(
                "slackBotTokenSecretName needs slackChannelId: the Web API posts to a channel id (the C... id from "
                "the channel's details, not its #name)"
            )
        if self.slack_channel_id is not None and not (chatbot or bot):
            raise ValueError(
                "slackWorkspaceId and slackChannelId go together for AWS Chatbot, or slackChannelId goes with "
                "slackBotTokenSecretName for the Web API; an incoming webhook posts to the channel it was made for "
                "(slackChannelId is the C... id, not its #name)"
            )
        if self.failure_digest.team_channels and not bot:
            raise ValueError(
                "failureDigest.teamChannels needs slackBotTokenSecretName: only the Web API posts to a channel of "
                "its choosing (a webhook posts to its one channel, Chatbot to its configuration's)"
            )

    def _check_shards(self) -> None:
        names = [shard.name for shard in self.shards]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"shard '{repeated[0]}' is defined more than once")
        for shard in self.shards:
            # A shard elsewhere needs location-bound pieces of its own, which the core cannot lend it: a
            # LambdaInvoke rule names its function in the pipeline's account and region, an artifact store must
            # be in the pipeline's region, approvals are granted to roles of the pipeline's account, and pipeline
            # events reach the coordinator only on the bus of the account and region they happen in.
            for field, own, stack_value in (
                ("toolingAccountId", shard.tooling_account_id, self.tooling_account_id),
                ("region", shard.region, self.region),
            ):
                if own is not None and own != stack_value:
                    raise ValueError(
                        f"shard '{shard.name}' sets {field} {own}, but a shard can only live where the core does "
                        f"({stack_value}) for now: its pipelines would need their own artifact store, GitHub "
                        "connection, release managers and a route to the deploy gate and the coordinator there "
                        "(README: Scaling to a large fleet); remove the key"
                    )

    def environment(self, name: str) -> Environment:
        return next(environment for environment in self.environments if environment.name == name)

    def service_url(self, service: Service, environment: str) -> str | None:
        """Where the service answers in an environment: the catalog's URL, else the stack's pattern."""
        if environment in service.urls:
            return service.urls[environment]
        if self.service_url_pattern:
            return expand_url_pattern(self.service_url_pattern, service.name, environment)
        return None


_LISTED_SUBJECTS = {"environments": "environment", "shards": "shard"}
"""Settings lists whose entries have a name: an error inside one names it as its subject."""


def parse_settings(raw: Any, display_name: str) -> StackSettings:
    """Validate the ``settings`` config object; failures name the environment and field."""
    if not isinstance(raw, dict):
        raise PlatformInputError(display_name, "must be a mapping", field=f"cicd-platform:{CONFIG_KEY}")
    try:
        settings = StackSettings.model_validate(raw)
    except ValidationError as error:
        location, message = first_problem(error)
        if len(location) >= 2 and location[0] == "githubCredentials" and location[1] in ("app", "token"):
            location = (location[0], *location[2:])  # the union's tag is the ``mode`` the user wrote, not a key
        subject = None
        if len(location) >= 2 and location[0] in _LISTED_SUBJECTS and isinstance(location[1], int):
            entries = raw.get(location[0])
            entry = entries[location[1]] if isinstance(entries, list) and location[1] < len(entries) else None
            name = entry.get("name") if isinstance(entry, dict) else None
            kind = _LISTED_SUBJECTS[location[0]]
            subject = f"{kind} '{name}'" if isinstance(name, str) else f"{kind} #{location[1] + 1}"
            location = location[2:]
        elif len(location) >= 2 and location[0] == "buildQueues" and isinstance(location[1], str):
            subject = f"build queue '{location[1]}'"
            location = location[2:]
        field = ".".join(filter(None, [f"cicd-platform:{CONFIG_KEY}", dotted_field(location)]))
        raise PlatformInputError(display_name, message, subject=subject, field=field) from None
    for environment in settings.environments:
        if environment.production and environment.scan.dast:
            raise PlatformInputError(
                display_name,
                "DAST crawls the running service, so it runs only outside production",
                subject=f"environment '{environment.name}'",
                field=f"cicd-platform:{CONFIG_KEY}.scan.dast",
            )
    return settings


def check_catalog_against_stack(catalog: Catalog, settings: StackSettings, catalog_name: str) -> None:
    """Cross-checks that need both inputs: environments exist, repositories are reachable, teams are owners."""
    owners = {service.owner for service in catalog.services}
    for team in settings.failure_digest.team_channels:
        if team not in owners:
            raise PlatformInputError(
                catalog_name,
                f"failureDigest.teamChannels names '{team}', but no service here is owned by it "
                f"(owners: {', '.join(sorted(owners))})",
                subject=f"team '{team}'",
                field=f"cicd-platform:{CONFIG_KEY}.failureDigest.teamChannels",
            )
    defined_in_order = [environment.name for environment in settings.environments]
    defined = set(defined_in_order)
    for service in catalog.services:
        named = [(f"environments[{i}]", env) for i, env in enumerate(service.environments or ())]
        named += [(f"accounts.{env}", env) for env in service.accounts]
        named += [(f"urls.{env}", env) for env in service.urls]
        for field, environment in named:
            if environment not in defined:
                raise PlatformInputError(
                    catalog_name,
                    f"environment '{environment}' is not defined by this stack "
                    f"(it defines {', '.join(sorted(defined))})",
                    subject=f"service '{service.name}'",
                    field=field,
                )
        for environment in placements_of(service, settings):
            if environment.scan.dast and settings.service_url(service, environment.name) is None:
                raise PlatformInputError(
                    catalog_name,
                    f"environment '{environment.name}' runs DAST but the service has no URL there: add "
                    f"urls.{environment.name}, set serviceUrlPattern in the stack, or turn scan.dast off",
                    subject=f"service '{service.name}'",
                    field=f"urls.{environment.name}",
                )
        if service.repository_owner.lower() != settings.github_owner.lower():
            raise PlatformInputError(
                catalog_name,
                f"repository owner '{service.repository_owner}' differs from the stack's GitHub owner "
                f"'{settings.github_owner}'; the GitHub connection only reaches that owner",
                subject=f"service '{service.name}'",
                field="repository",
            )
        for cloud in service.also_deploy_to:
            for environment in defined_in_order if service.environments is None else service.environments:
                if settings.environment(environment).cloud(cloud) is None:
                    raise PlatformInputError(
                        catalog_name,
                        f"deploys to {cloud} in environment '{environment}', but the stack gives that environment "
                        f"no '{cloud}' block; add one to its settings (see README: Stack settings) "
                        "or drop the cloud",
                        subject=f"service '{service.name}'",
                        field="also_deploy_to",
                    )


def placements_of(service: Service, settings: StackSettings) -> tuple[Environment, ...]:
    """The environments a service deploys to, in the stack's order, in the service's accounts."""
    wanted = set(service.environments) if service.environments is not None else None
    return tuple(
        env.model_copy(update={"account_id": service.accounts[env.name]})
        if settings.use_service_accounts and env.name in service.accounts
        else env
        for env in settings.environments
        if wanted is None or env.name in wanted
    )
