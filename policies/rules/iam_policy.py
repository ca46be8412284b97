"""Reading IAM policy documents the way IAM evaluates them.

Shared by the IAM resource rules and the stack rules that reason about who
may do what (approval-restricted, role-separation, bootstrap-least-privilege,
s3-no-public, sns-hardening). What it follows, from the IAM User Guide:

- actions are case-insensitive globs; ``NotAction`` matches every action *but*
  the listed ones, and ``NotResource`` every resource but the listed ones ("IAM
  JSON policy elements: NotAction" / "NotResource"); an ``Allow`` with
  ``NotPrincipal`` grants every principal but the named ones, anonymous callers
  included ("NotPrincipal");
- an explicit ``Deny`` overrides any ``Allow`` ("Policy evaluation logic"), but
  only when its conditions hold: a conditioned Deny takes nothing back for
  certain, unless its condition is the negation of a narrowing the pack reads
  (a Deny of "unless tagged X" is an Allow of "only if tagged X");
- a condition key absent from the request makes a positive operator false and a
  negated one true, except ``...IfExists``, which is true when the key is absent
  ("IAM JSON policy elements: Condition operators"): so only positive, non-IfExists
  operators narrow an Allow;
- conditions the pack cannot evaluate never make an Allow look safe; the only
  narrowing it credits is a positive ``aws:ResourceTag``/``iam:ResourceTag``
  condition, and only while the same principal cannot set that tag itself.

Values not known yet (during preview) are never taken for proof: a statement
with an unknown element grants nothing for certain, and a Deny with one may
take back anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from .base import Props, as_list, as_mapping, derived, is_unknown, policy_document, statement_id, statements

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
GROUP_POLICY = "aws:iam/groupPolicy:GroupPolicy"
CUSTOMER_POLICY = "aws:iam/policy:Policy"
POLICY_PROPS = {ROLE_POLICY: "policy", CUSTOMER_POLICY: "policy", USER_POLICY: "policy", GROUP_POLICY: "policy"}
IDENTITY_POLICY_TYPES = frozenset({ROLE, *POLICY_PROPS})
ROLE_ATTACHMENT = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"
USER_ATTACHMENT = "aws:iam/userPolicyAttachment:UserPolicyAttachment"
GROUP_ATTACHMENT = "aws:iam/groupPolicyAttachment:GroupPolicyAttachment"
POLICY_ATTACHMENT = "aws:iam/policyAttachment:PolicyAttachment"

ALLOW, DENY = "Allow", "Deny"
POSITIVE_OPERATORS = frozenset({"stringequals", "stringequalsignorecase", "stringlike", "arnequals", "arnlike"})
"""Operators that hold only when the key is present with a listed value (no ``IfExists``, no ``ForAllValues``)."""
NEGATED_OPERATORS = frozenset(
    {"stringnotequals", "stringnotequalsignorecase", "stringnotlike", "arnnotequals", "arnnotlike"}
)
"""Operators that hold when the key is absent or has none of the listed values (``IfExists`` or not)."""
RESOURCE_TAG_KEYS = ("aws:resourcetag/", "iam:resourcetag/")


@dataclass(frozen=True)
class Statement:
    """One statement of a policy, as IAM reads it; what is not known yet is left out and flagged.

    ``actions``/``resources`` hold the known entries of ``Action``/``NotAction`` and
    ``Resource``/``NotResource``; ``*_known`` says whether the element and all its entries are known.
    ``effect`` is ``None`` while not known.
    """

    sid: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    condition: Mapping[str, Any]
    not_action: bool = False
    not_resource: bool = False
    effect: str | None = ALLOW
    actions_known: bool = True
    resources_known: bool = True
    condition_known: bool = True

    @property
    def known(self) -> bool:
        return self.effect is not None and self.actions_known and self.resources_known and self.condition_known

    def shown_resources(self) -> str:
        listed = ", ".join(self.resources)
        return f"every resource but {listed}" if self.not_resource else listed


Grant = Statement
"""An Allow statement of an identity policy (what ``grants`` yields)."""

UNKNOWN_STATEMENT = Statement(
    sid="(not known yet)",
    actions=(),
    resources=(),
    condition={},
    effect=None,
    actions_known=False,
    resources_known=False,
    condition_known=False,
)
"""A statement (or a whole document) not known yet: it may allow or deny anything."""


def _element(statement: Mapping[str, Any], name: str) -> tuple[tuple[str, ...], bool, bool]:
    """(known entries, negated, fully known) of ``Action``/``Resource`` or their ``Not`` form."""
    negated = f"Not{name}" in statement and name not in statement
    value = statement.get(f"Not{name}" if negated else name)
    known = not is_unknown(value) and not any(is_unknown(item) for item in as_list(value))
    return tuple(str(item) for item in as_list(value) if not is_unknown(item)), negated, known


def _condition_known(condition: Any) -> bool:
    if is_unknown(condition):
        return False
    for block in as_mapping(condition).values():
        if is_unknown(block) or any(
            is_unknown(values) or any(is_unknown(value) for value in as_list(values))
            for values in as_mapping(block).values()
        ):
            return False
    return True


def _statement(raw: Mapping[str, Any], index: int) -> Statement:
    actions, not_action, actions_known = _element(raw, "Action")
    resources, not_resource, resources_known = _element(raw, "Resource")
    effect = raw.get("Effect")
    return Statement(
        sid=statement_id(raw, index),
        actions=actions,
        resources=resources,
        condition=as_mapping(raw.get("Condition")),
        not_action=not_action,
        not_resource=not_resource,
        effect=None if is_unknown(effect) else str(effect),
        actions_known=actions_known,
        resources_known=resources_known,
        condition_known=_condition_known(raw.get("Condition")),
    )


def document_statements(value: Any) -> list[Statement]:
    """Every statement of a policy prop (JSON text, a dict, or not known yet), unknown ones as ``UNKNOWN_STATEMENT``."""
    if is_unknown(value):
        return [UNKNOWN_STATEMENT]
    document = policy_document(value)
    if document is None:
        return []
    raw = document.get("Statement")
    if is_unknown(raw):
        return [UNKNOWN_STATEMENT]
    parsed: list[Statement] = []
    for index, item in enumerate(as_list(raw)):
        if is_unknown(item):
            parsed.append(UNKNOWN_STATEMENT)
        elif isinstance(item, Mapping):
            parsed.append(_statement(item, index))
    return parsed


def identity_documents(resource_type: str, props: Props) -> Iterator[dict[str, Any]]:
    """The identity policy documents a resource declares (a role's inline policies, a policy's document)."""
    if resource_type == ROLE:
        for inline in as_list(props.get("inlinePolicies")):
            document = policy_document(as_mapping(inline).get("policy"))
            if document:
                yield document
        return
    prop = POLICY_PROPS.get(resource_type)
    if prop:
        document = policy_document(props.get(prop))
        if document:
            yield document


def identity_statements(resource_type: str, props: Props) -> list[Statement]:
    """Every statement a resource's identity policies hold, Allow and Deny, unknown ones included."""
    if resource_type == ROLE:
        inline = props.get("inlinePolicies")
        if is_unknown(inline):
            return [UNKNOWN_STATEMENT]
        found: list[Statement] = []
        for item in as_list(inline):
            found += [UNKNOWN_STATEMENT] if is_unknown(item) else document_statements(as_mapping(item).get("policy"))
        return found
    prop = POLICY_PROPS.get(resource_type)
    return document_statements(props.get(prop)) if prop else []


def grants(document: Mapping[str, Any] | None) -> Iterator[Grant]:
    """Allow statements with their actions and resources as strings; unknown entries are dropped."""
    for index, statement in enumerate(statements(document)):
        if statement.get("Effect") == ALLOW:
            yield _statement(statement, index)


def resource_grants(resource_type: str, props: Props) -> Iterator[Grant]:
    for document in identity_documents(resource_type, props):
        yield from grants(document)


def action_covers(pattern: str, action: str) -> bool:
    """Whether an IAM action pattern (``s3:Get*``, ``*``) covers an action; IAM compares case-insensitively."""
    return fnmatchcase(action.lower(), pattern.lower())


def grant_covers(grant: Grant, action: str) -> bool:
    if grant.not_action:
        return not any(action_covers(pattern, action) for pattern in grant.actions)
    return any(action_covers(pattern, action) for pattern in grant.actions)


def covered_actions(grant: Grant, actions: Iterable[str]) -> list[str]:
    return [action for action in actions if grant_covers(grant, action)]


def grant_reaches(grant: Grant, names: Any) -> bool:
    """Whether a grant's ``Resource`` (or ``NotResource``) reaches a resource, given ``names(pattern)``: whether a
    pattern names it. ``NotResource`` reaches everything its patterns do not name."""
    named = any(names(pattern) for pattern in grant.resources)
    return not named if grant.not_resource else named


def condition_keys(condition: Mapping[str, Any]) -> set[str]:
    """Lower-cased condition keys of a statement, across all operators."""
    keys: set[str] = set()
    for block in condition.values():
        if isinstance(block, Mapping):
            keys |= {str(key).lower() for key in block}
    return keys


def condition_values(condition: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    """(operator, value) pairs for a condition key (case-insensitive key match)."""
    found: list[tuple[str, str]] = []
    for operator, block in condition.items():
        if not isinstance(block, Mapping):
            continue
        for name, values in block.items():
            if str(name).lower() == key.lower():
                found += [(str(operator), str(value)) for value in as_list(values) if not is_unknown(value)]
    return found


def role_name_of(resource_type: str, props: Props) -> str | None:
    """Which role a policy belongs to: a role's own name, or a role policy's ``role``."""
    value = props.get("name") if resource_type == ROLE else props.get("role") if resource_type == ROLE_POLICY else None
    if isinstance(value, str) and not is_unknown(value):
        return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
    return None


def resource_matches(pattern: str, arn: str) -> bool:
    """Whether a Resource element (which may use ``*``/``?`` wildcards) covers an ARN."""
    return fnmatchcase(arn, pattern)


# Deciding whether a principal may act on resources it did not name


@dataclass(frozen=True)
class Reach:
    """What an action acts on, as "any resource of this kind": the ARN's service and resource part.

    ``resource`` holds a name no policy lists (``role/#``: ``#`` is in no IAM name), so a pattern
    names it only when it names every resource of the kind (``*``, ``arn:aws:iam::123456789012:*``,
    ``…:role/*``), whatever the account; a prefix (``role/cicd-*``) does not.
    """

    service: str
    resource: str

    def named_by(self, pattern: str) -> bool:
        if pattern == "*":
            return True
        parts = pattern.split(":", 5)
        return len(parts) == 6 and fnmatchcase(self.service, parts[2].lower()) and fnmatchcase(self.resource, parts[5])

    def excluded_by(self, pattern: str) -> bool:
        """A ``NotResource`` entry takes the resource out only when it names it in every account: IAM reads the
        statement in the principal's own account, which the pack does not know."""
        if pattern == "*":
            return True
        parts = pattern.split(":", 5)
        return self.named_by(pattern) and len(parts) == 6 and set(parts[4]) <= {"*"} and parts[4] != ""


ANY_ROLE = Reach("iam", "role/#")
ANY_USER = Reach("iam", "user/#")
ANY_GROUP = Reach("iam", "group/#")
ANY_POLICY = Reach("iam", "policy/#")
TAGGING_ACTIONS = {("iam", "role"): "iam:TagRole", ("iam", "user"): "iam:TagUser", ("iam", "policy"): "iam:TagPolicy"}
"""How a principal would put a tag on a resource of the kind (IAM groups carry no tags)."""


def _three_valued(patterns: Sequence[str], known: bool, names: Any, negated: bool) -> bool | None:
    """Whether an element covers something: True/False, or None when an unknown entry could decide it."""
    hit: bool | None = True if any(names(pattern) for pattern in patterns) else (False if known else None)
    if hit is None:
        return None
    return not hit if negated else hit


def statement_acts(statement: Statement, action: str) -> bool | None:
    return _three_valued(
        statement.actions,
        statement.actions_known,
        lambda pattern: action_covers(pattern, action),
        statement.not_action,
    )


def statement_reaches(statement: Statement, reach: Reach) -> bool | None:
    names = reach.excluded_by if statement.not_resource else reach.named_by
    return _three_valued(statement.resources, statement.resources_known, names, statement.not_resource)


def positive_values(condition: Mapping[str, Any], selects: Any) -> list[tuple[str, str]]:
    """(key, value) pairs under positive operators whose (lower-cased) key ``selects`` accepts."""
    found: list[tuple[str, str]] = []
    for operator, block in condition.items():
        if str(operator).lower() not in POSITIVE_OPERATORS:
            continue
        for key, values in as_mapping(block).items():
            if selects(str(key).lower()):
                found += [(str(key), str(value)) for value in as_list(values) if not is_unknown(value)]
    return found


def only_negations_of(condition: Mapping[str, Any], selects: Any) -> list[tuple[str, str]] | None:
    """The (key, value) pairs of a condition made only of negated operators on keys ``selects`` accepts, or None.

    Such a condition on a Deny denies every request but those carrying one of the values: the Deny is the
    positive condition written the other way round. Any other operator or key makes the Deny apply only
    sometimes, so it narrows nothing.
    """
    found: list[tuple[str, str]] = []
    for operator, block in condition.items():
        base = str(operator).lower().removesuffix("ifexists")
        if base not in NEGATED_OPERATORS or not isinstance(block, Mapping) or not block:
            return None
        for key, values in block.items():
            if not selects(str(key).lower()) or not as_list(values):
                return None
            found += [(str(key), str(value)) for value in as_list(values)]
    return found or None


def _tag_key(key: str) -> bool:
    return key.startswith(RESOURCE_TAG_KEYS)


def _narrow_tag_values(pairs: Iterable[tuple[str, str]]) -> bool:
    """Tag values that single out resources (``*`` alone would admit any value of the tag)."""
    values = [value for _, value in pairs]
    return bool(values) and all(value.strip("*?") for value in values)


def granted(
    statements_held: Sequence[Statement],
    action: str,
    reach: Reach,
    narrowed: Any = None,
) -> list[Statement]:
    """The Allow statements that, for certain, let the holder of ``statements_held`` do ``action`` on ``reach``.

    An Allow counts when it is known, names the action and reaches the resource, and ``narrowed(statement)``
    (which judges its condition) does not hold; nothing counts when a Deny (or a statement not known yet)
    may take it back: one that covers the action and resource unconditioned, or whose condition is not known,
    or which ``narrowed`` accepts (a Deny written as the negation of a narrowing).
    """
    narrowed = narrowed or (lambda _: False)
    for statement in statements_held:
        if statement.effect not in (DENY, None):
            continue  # Allow (an Effect IAM would refuse is no Deny either)
        acts, reaches = statement_acts(statement, action), statement_reaches(statement, reach)
        if acts is False or reaches is False:
            continue
        if statement.effect != DENY or acts is None or reaches is None or not statement.condition_known:
            return []  # may take everything back: nothing is certain
        if not statement.condition or narrowed(statement):
            return []
    return [
        statement
        for statement in statements_held
        if statement.effect == ALLOW
        and statement.condition_known
        and statement_acts(statement, action) is True
        and statement_reaches(statement, reach) is True
        and not narrowed(statement)
    ]


def tag_narrowed(statements_held: Sequence[Statement], reach: Reach) -> Any:
    """A ``narrowed`` for ``granted``: limited to resources carrying a tag the holder cannot set itself.

    An Allow narrows with a positive ``aws:ResourceTag/K`` or ``iam:ResourceTag/K`` condition, a Deny with
    only negated ones (deny unless tagged). Either is worth nothing when the same holder may tag any
    resource of the kind (IAM User Guide, "Controlling access to IAM users and roles using tags").
    """
    tagging = TAGGING_ACTIONS.get((reach.service, reach.resource.split("/", 1)[0]))
    can_tag = bool(tagging and granted(statements_held, tagging, reach))

    def narrowed(statement: Statement) -> bool:
        return not can_tag and tag_scoped(statement)

    return narrowed


def tag_scoped(statement: Statement) -> bool:
    """Limited to resources carrying a tag: a positive resource-tag condition on an Allow (not ``*`` alone), or
    only negated ones on a Deny (deny unless tagged)."""
    if statement.effect == ALLOW:
        return _narrow_tag_values(positive_values(statement.condition, _tag_key))
    return only_negations_of(statement.condition, _tag_key) is not None


def every_action(statement: Statement) -> bool | None:
    """Whether a statement covers every action (``*``), or every action but a few (``NotAction``)."""
    if statement.not_action:
        if "*" in statement.actions or "*:*" in statement.actions:
            return False
        return True if statement.actions_known else None
    if {"*", "*:*"} & set(statement.actions):
        return True
    return False if statement.actions_known else None


def every_resource(statement: Statement) -> bool | None:
    """Whether a statement reaches every resource (``*``), or every resource but a few (``NotResource``)."""
    if statement.not_resource:
        if "*" in statement.resources:
            return False
        return True if statement.resources_known else None
    if "*" in statement.resources:
        return True
    return False if statement.resources_known else None


def unlimited(statements_held: Sequence[Statement]) -> list[Statement]:
    """Allow statements of every action (but a few) on every resource (but a few) that no Deny takes back.

    A Deny of specific actions leaves "everything but those" (still an administrator, as PowerUserAccess is);
    only a Deny that is itself unconditioned and unlimited ("deny everything but ...") or not known yet does.
    """
    for statement in statements_held:
        if statement.effect not in (DENY, None):
            continue  # Allow (an Effect IAM would refuse is no Deny either)
        takes_back_all = every_action(statement) is not False and every_resource(statement) is not False
        always = statement.effect is None or not statement.condition_known or not statement.condition
        if takes_back_all and always:
            return []
    return [
        statement
        for statement in statements_held
        if statement.effect == ALLOW and every_action(statement) is True and every_resource(statement) is True
    ]


# Who holds which grants across a stack


@dataclass(frozen=True, order=True)
class Principal:
    """An IAM identity a policy can be attached to."""

    kind: str  # "role" | "user" | "group"
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name}"


def _principal_name(value: Any) -> str | None:
    if not isinstance(value, str) or is_unknown(value) or not value:
        return None
    return value.rsplit("/", 1)[-1] if value.startswith("arn:") else value


INLINE_HOLDERS = {ROLE_POLICY: ("role", "role"), USER_POLICY: ("user", "user"), GROUP_POLICY: ("group", "group")}
ATTACHMENT_HOLDERS = {
    ROLE_ATTACHMENT: ("role", "role"),
    USER_ATTACHMENT: ("user", "user"),
    GROUP_ATTACHMENT: ("group", "group"),
}
POLICY_ATTACHMENT_LISTS = (("roles", "role"), ("users", "user"), ("groups", "group"))


def statements_by_principal(
    resources: Iterable[Any], known_managed: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[Principal, list[tuple[str, Statement]]]:
    """Principal → (urn of the declaring resource, statement) across a stack, Deny and unknown statements included.

    Follows a role's inline policies, role/user/group policies, and policies attached to roles, users and
    groups (``RolePolicyAttachment``/``UserPolicyAttachment``/``GroupPolicyAttachment``,
    ``PolicyAttachment``, a role's ``managedPolicyArns``): customer policies of the stack by name, and
    AWS-managed policies the caller knows the documents of (``known_managed``: policy name → document).
    Other attached policies are not read here (codebuild-no-privileged reports those it must read).
    The result is shared between the rules judging one stack (``base.shared_derivations``): do not change it.
    """
    return derived(
        "statements by principal",
        (resources, known_managed),
        lambda: _statements_by_principal(resources, known_managed),
    )


def _statements_by_principal(
    resources: Iterable[Any], known_managed: Mapping[str, Mapping[str, Any]] | None
) -> dict[Principal, list[tuple[str, Statement]]]:
    resources = list(resources)
    known_managed = known_managed or {}
    held: dict[Principal, list[tuple[str, Statement]]] = {}
    customer = {
        str(r.props["name"]): r
        for r in resources
        if r.type == CUSTOMER_POLICY and isinstance(r.props.get("name"), str) and not is_unknown(r.props["name"])
    }

    def add(principal: Principal, urn: str, found: Iterable[Statement]) -> None:
        held.setdefault(principal, []).extend((urn, statement) for statement in found)

    def attach(principal: Principal, arn: Any, urn: str) -> None:
        if not isinstance(arn, str) or is_unknown(arn):
            return
        name = arn.rsplit("/", 1)[-1]
        if ":iam::aws:policy/" in arn and name in known_managed:
            add(principal, urn, document_statements(dict(known_managed[name])))
        elif name in customer:
            policy = customer[name]
            add(principal, policy.urn, identity_statements(policy.type, policy.props))

    for resource in resources:
        props = resource.props
        if resource.type == ROLE:
            name = _principal_name(props.get("name"))
            if name:
                principal = Principal("role", name)
                add(principal, resource.urn, identity_statements(resource.type, props))
                for arn in as_list(props.get("managedPolicyArns")):
                    attach(principal, arn, resource.urn)
        elif resource.type in INLINE_HOLDERS:
            kind, key = INLINE_HOLDERS[resource.type]
            name = _principal_name(props.get(key))
            if name:
                add(Principal(kind, name), resource.urn, identity_statements(resource.type, props))
        elif resource.type in ATTACHMENT_HOLDERS:
            kind, key = ATTACHMENT_HOLDERS[resource.type]
            name = _principal_name(props.get(key))
            if name:
                attach(Principal(kind, name), props.get("policyArn"), resource.urn)
        elif resource.type == POLICY_ATTACHMENT:
            for key, kind in POLICY_ATTACHMENT_LISTS:
                for holder in as_list(props.get(key)):
                    name = _principal_name(holder)
                    if name:
                        attach(Principal(kind, name), props.get("policyArn"), resource.urn)
    return held


def grants_by_principal(
    resources: Iterable[Any], known_managed: Mapping[str, Mapping[str, Any]] | None = None
) -> dict[Principal, list[tuple[str, Grant]]]:
    """Principal → (urn of the declaring resource, Allow statement): what each principal is granted."""
    return {
        principal: [(urn, statement) for urn, statement in found if statement.effect == ALLOW]
        for principal, found in statements_by_principal(resources, known_managed).items()
    }


def grants_by_role(resources: Iterable[Any]) -> dict[str, list[tuple[str, Grant]]]:
    """Role name → (urn of the declaring resource, grant): the roles of ``grants_by_principal``."""
    return {p.name: found for p, found in grants_by_principal(resources).items() if p.kind == "role"}


def statements_by_role(resources: Iterable[Any]) -> dict[str, list[tuple[str, Statement]]]:
    """Role name → (urn, statement): every statement its policies hold, Deny and unknown ones included."""
    return {p.name: found for p, found in statements_by_principal(resources).items() if p.kind == "role"}
