"""How the pack reads a CodePipeline V2 declaration: stages, actions, and what each action is for.

pulumi-aws 7 hands a pipeline over as ``stages[].actions[]`` with flat action
keys (``category``, ``owner``, ``provider``, ``configuration``,
``inputArtifacts``, ``outputArtifacts``, ``roleArn``, ``runOrder``) and stage
conditions as ``beforeEntry``/``onSuccess``/``onFailure``. The conventions
that give actions a purpose (documented in ``policies/README.md``):

- **scan**: a CodeBuild action in a stage named ``Scan``, or any CodeBuild
  action whose ``EnvironmentVariables`` set ``SCANNER``; its kind is the
  ``SCANNER`` value, else the first of sast/sca/iac/secrets/licenses/dast found in
  the action name (``SastSemgrep`` → sast).
- **approval**: category ``Approval``.
- **bake**: a Lambda invoke action (category ``Invoke``, provider ``Lambda``)
  whose ``UserParameters`` are a JSON object with ``bakeMinutes``: it watches a
  health alarm (``healthAlarm``) after the deploys of its stage and deploys nothing.
- **deploy**: category ``Deploy``, or a CodeBuild/Lambda-invoke action (not a
  scanner, not a bake) in a stage whose name starts with ``Deploy`` (the
  platform's Lambda release project, GitHub Actions dispatches).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .base import Config, PolicyResource, Props, as_list, derived, dig, is_prod, is_unknown, json_value

PIPELINE = "aws:codepipeline/pipeline:Pipeline"
SCAN_KINDS = ("sast", "sca", "iac", "secrets", "licenses", "dast")


@dataclass(frozen=True)
class Action:
    stage_index: int
    stage: str
    name: str
    props: Any

    @property
    def category(self) -> Any:
        return dig(self.props, "category")

    @property
    def provider(self) -> Any:
        return dig(self.props, "provider")

    @property
    def run_order(self) -> int:
        value = dig(self.props, "runOrder")
        return int(value) if isinstance(value, (int, float)) else 1

    def configuration(self, key: str) -> Any:
        return dig(self.props, "configuration", key)

    def environment_variables(self) -> dict[str, Any]:
        """A CodeBuild action's ``EnvironmentVariables`` (JSON text) as name → value (shared: do not change it)."""

        def parse() -> dict[str, Any]:
            parsed = json_value(self.configuration("EnvironmentVariables"))
            return {
                str(dig(item, "name")): dig(item, "value")
                for item in as_list(parsed)
                if isinstance(dig(item, "name"), str)
            }

        return derived("environment variables", (self.props,), parse)

    def user_parameters(self) -> Any:
        """A Lambda invoke action's ``UserParameters`` parsed as JSON: ``UNKNOWN`` before it is known, else None
        when it is not JSON."""
        return derived("user parameters", (self.props,), lambda: json_value(self.configuration("UserParameters")))

    @property
    def is_lambda_invoke(self) -> bool:
        return self.category == "Invoke" and self.provider == "Lambda"

    @property
    def is_bake(self) -> bool:
        parameters = self.user_parameters()
        return self.is_lambda_invoke and isinstance(parameters, dict) and "bakeMinutes" in parameters

    @property
    def is_approval(self) -> bool:
        return self.category == "Approval"

    @property
    def is_deploy(self) -> bool:
        if self.category == "Deploy":
            return True
        if "SCANNER" in self.environment_variables():
            return False  # a scanner placed in the deploy stage is still a scan
        if self.is_bake:
            return False  # a bake watches what the stage deployed
        return self.stage.lower().startswith("deploy") and self.provider in ("CodeBuild", "Lambda")

    @property
    def scan_kind(self) -> str | None:
        if self.provider != "CodeBuild":
            return None
        scanner = self.environment_variables().get("SCANNER")
        if isinstance(scanner, str) and scanner.lower() in SCAN_KINDS:
            return scanner.lower()
        if self.stage.lower() != "scan" and scanner is None:
            return None
        lowered = self.name.lower()
        return next((kind for kind in SCAN_KINDS if kind in lowered), "unclassified")


@dataclass(frozen=True)
class Pipeline:
    urn: str | None
    props: Props

    @property
    def name(self) -> str:
        name = self.props.get("name")
        return name if isinstance(name, str) and not is_unknown(name) else "(name not known yet)"

    def stages(self) -> list[Any]:
        return as_list(self.props.get("stages"))

    def stage_names(self) -> list[str]:
        return [str(dig(stage, "name")) for stage in self.stages()]

    def actions(self) -> Iterator[Action]:
        for index, stage in enumerate(self.stages()):
            stage_name = dig(stage, "name")
            for action in as_list(dig(stage, "actions")):
                yield Action(index, str(stage_name), str(dig(action, "name")), action)

    def first_deploy_stage(self) -> int | None:
        return next((action.stage_index for action in self.actions() if action.is_deploy), None)

    def deploy_stages(self) -> list[tuple[int, Any]]:
        indexes = sorted({action.stage_index for action in self.actions() if action.is_deploy})
        return [(index, self.stages()[index]) for index in indexes]

    @property
    def environment(self) -> Any:
        return dig(self.props, "tags", "environment")

    def is_prod(self, config: Config) -> bool:
        return is_prod(self.props, config)

    def shape_known(self) -> bool:
        """Stages, actions and what classifies them (category, provider, run order, CodeBuild variables) are known."""
        return derived("pipeline shape known", (self.props,), self._shape_known)

    def _shape_known(self) -> bool:
        stages = self.props.get("stages")
        if is_unknown(stages):
            return False
        return all(
            not is_unknown(stage) and not is_unknown(dig(stage, "actions")) and not is_unknown(dig(stage, "name"))
            for stage in as_list(stages)
        ) and all(
            not is_unknown(action.props)
            and not is_unknown(action.category)
            and not is_unknown(action.provider)
            and not is_unknown(dig(action.props, "runOrder"))
            and not (action.provider == "CodeBuild" and is_unknown(action.configuration("EnvironmentVariables")))
            for action in self.actions()
        )


def pipelines(resources: list[PolicyResource] | tuple[PolicyResource, ...] | Any) -> Iterator[Pipeline]:
    for resource in resources:
        if resource.type == PIPELINE:
            yield Pipeline(resource.urn, resource.props)


def prod_pipelines(resources: Any, config: Config) -> Iterator[Pipeline]:
    for pipeline in pipelines(resources):
        if pipeline.is_prod(config):
            yield pipeline
