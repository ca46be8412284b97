"""The change-freeze switch of an environment: an SSM parameter operators flip, read so that it fails closed.

Only a switch that is plainly off lets deploys in. "Plainly off" is exactly
this: the text before the first ``:`` is the word ``off`` (any letter case,
surrounding blanks ignored), so ``off``, ``OFF`` and ``off: lifted after
INC-4711`` are off. Everything else freezes the environment:

- ``on`` and ``on: <reason>`` (the documented values) freeze it with the reason;
- any other value (``yes``, ``true``, ``frozen``, ``0``, a typo such as ``of``
  or ``0ff``) freezes it too, and the message quotes what the switch reads. A
  switch is flipped by hand at the worst possible moment; a value nobody
  meant as "off" must never open an environment;
- a switch that does not exist freezes it: ``pulumi up`` creates one ``off``
  for every environment of the stack before any pipeline of that
  environment can reach its Deploy stage, so a missing switch was deleted
  out of band, and deleting the switch must not be a way to lift a freeze;
- a switch that cannot be read (access denied, KMS, throttling that outlasted
  the backoff, any other error) freezes it, naming the error: the gate
  records the deploy as held, and the coordinator restarts it once the
  switch reads ``off`` again.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from .aws import Aws
from .retry import error_code

OFF = "off"
ON = "on"
QUOTED_VALUE_LIMIT = 60
"""An unrecognised value is quoted in the hold message, clipped: the message ends up in the console and in Slack."""


def switch_reason(value: str) -> str | None:
    """None when the switch's value is plainly off; otherwise why the environment is frozen."""
    switch, _, note = value.partition(":")
    word = switch.strip().casefold()
    if word == OFF:
        return None
    if word == ON:
        return note.strip() or "no reason given"
    shown = value.strip()
    if len(shown) > QUOTED_VALUE_LIMIT:
        shown = shown[: QUOTED_VALUE_LIMIT - 1] + "…"
    return f"the switch reads {shown!r}, and only 'off' lets deploys in"


def freeze_reason(aws: Aws, environment: str) -> str | None:
    """The reason of a change freeze in the environment, or None when its switch is plainly off."""
    name = f"{aws.settings.freeze_parameter_prefix}{environment}"
    try:
        value = aws.call("ssm", "get_parameter", Name=name)["Parameter"]["Value"]
    except ClientError as error:
        code = error_code(error) or "error"
        if code == "ParameterNotFound":
            return f"the switch {name} does not exist (pulumi up creates it 'off'; create it to let deploys in)"
        return f"the switch {name} cannot be read: {code}"
    return switch_reason(str(value))
