"""Stage conditions of CodePipeline V2: the rules a stage checks before entry or after success.

CodePipeline evaluates native rules (``DeploymentWindow``, ``CloudWatchAlarm``,
``LambdaInvoke``, ``VariableCheck``; category ``Rule``, owner ``AWS``) without
any Lambda of ours, so gates are declared as data here. A stage has at most one
entry condition (the API fixes ``conditions`` at one item), so every gate
contributes a *rule* and this module folds them into that single condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..model.settings import DeployWindow

Rule = Mapping[str, object]
"""One rule declaration as pulumi-aws takes it: name, rule_type_id, configuration, optional role_arn/region."""

RULE_PROVIDERS = frozenset({"DeploymentWindow", "CloudWatchAlarm", "LambdaInvoke", "VariableCheck", "Commands"})
"""The rule providers AWS offers; the SDK accepts any string, so ours are checked against this set."""


def rule(name: str, provider: str, configuration: Mapping[str, object], **extra: object) -> dict[str, object]:
    """A rule declaration, refusing provider names AWS does not have (a typo would only fail at ``pulumi up``)."""
    if provider not in RULE_PROVIDERS:
        raise ValueError(
            f"unknown CodePipeline rule provider {provider!r}; AWS has {', '.join(sorted(RULE_PROVIDERS))}"
        )
    return {
        "name": name,
        "rule_type_id": {"category": "Rule", "owner": "AWS", "provider": provider, "version": "1"},
        "configuration": dict(configuration),
        **extra,
    }


def deployment_window_rule(window: DeployWindow) -> dict[str, object]:
    """Entry only inside the environment's deployment window."""
    return rule("DeploymentWindow", "DeploymentWindow", {"Cron": window.cron, "TimeZone": window.timezone})


MAX_RULES_PER_CONDITION = 5
"""CodePipeline API: ``Condition.rules`` holds 1 to 5 rules."""


def condition(rules: Sequence[Rule], result: str) -> dict[str, object]:
    """One condition holding every rule; all must pass, otherwise ``result`` applies."""
    if not 1 <= len(rules) <= MAX_RULES_PER_CONDITION:
        raise ValueError(f"a stage condition holds 1 to {MAX_RULES_PER_CONDITION} rules, not {len(rules)}")
    return {"result": result, "rules": list(rules)}
