"""CodeBuild's phase semantics, so a buildspec's shell can run for real in a test.

A buildspec's shell is only half of its behaviour; the other half is what CodeBuild does
between phases, and a test that runs one phase by hand cannot see a change there (an
``on-failure: ABORT`` on ``build`` silently skips ``post_build``). The runner follows what
the AWS CodeBuild User Guide documents:

- *Build specification reference*, ``phases``: a phase's ``commands`` run one at a time, in
  order; the first that fails skips the rest; the ``finally`` commands run even then, and
  the phase fails if a command of either block failed. ``on-failure: ABORT`` ends the build
  at a failed phase, ``on-failure: CONTINUE`` goes on to the next phase; without
  ``on-failure`` the failure follows the phase transitions:
- *Build phase transitions*: a failed INSTALL or PRE_BUILD ends the build (neither BUILD nor
  POST_BUILD runs); a failed BUILD still runs POST_BUILD.
- *Environment variables in build environments*: ``CODEBUILD_BUILD_SUCCEEDING`` is ``1``, and
  ``0`` from the first failed phase on; ``CODEBUILD_SRC_DIR`` is the source directory.
- Precedence of variables: the start-build override (what a CodePipeline action's
  ``EnvironmentVariables`` are) over the project's over the buildspec's ``env.variables``;
  ``env.secrets-manager`` entries are read from the secret store the test hands over.

Each command runs in a bash of its own: the platform's buildspecs keep a phase's shell in one
command, so nothing depends on state carried from one command to the next.

Absolute paths the shell writes (``/tmp/scan``, ``/opt``, ``/usr/local/bin``) are moved into
the test's sandbox by plain replacement, line for line, so the xtrace line numbers the
runner records are the buildspec's own: ``Build.traced`` feeds a line-coverage check.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PHASES = ("install", "pre_build", "build", "post_build")
ENDS_THE_BUILD_WHEN_FAILED = frozenset({"install", "pre_build"})
"""Build phase transitions: after these fail, CodeBuild goes straight to FINALIZING."""
TRACE_PREAMBLE = "PS4='+${LINENO}: '; exec {trace_fd}>>\"$CODEBUILD_TEST_TRACE\"; BASH_XTRACEFD=$trace_fd; set -x\n"
"""Prepended to every command: one line, so a traced line number minus one is the command's own line."""
TRACED_LINE = re.compile(r"^\++(\d+): ")

CommandKey = tuple[str, str, int]
"""(phase, block, index): ``("build", "commands", 0)`` is the first command of the build phase."""


@dataclass
class PhaseRun:
    name: str
    status: str = "NOT_RUN"
    """SUCCEEDED, FAILED or NOT_RUN (CodeBuild's phase statuses, plus 'never reached')."""
    exit_codes: list[int] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""


@dataclass
class Build:
    phases: dict[str, PhaseRun]
    traced: dict[CommandKey, set[int]]
    """Per command, the line numbers (1-based, in the command's text) of the shell commands bash ran."""

    @property
    def succeeded(self) -> bool:
        return all(phase.status != "FAILED" for phase in self.phases.values())

    def ran(self, phase: str) -> bool:
        return self.phases[phase].status != "NOT_RUN"

    @property
    def stdout(self) -> str:
        return "".join(phase.stdout for phase in self.phases.values())

    @property
    def stderr(self) -> str:
        return "".join(phase.stderr for phase in self.phases.values())

    @property
    def log(self) -> str:
        return "\n".join(f"[{p.name} {p.status}]\n{p.stdout}{p.stderr}" for p in self.phases.values())


def relocated(command: str, moves: Mapping[str, str]) -> str:
    """The command with each absolute path in ``moves`` (a whole path component, never a prefix) moved."""
    for original, sandboxed in moves.items():
        pattern = rf"(?<![\w./-]){re.escape(original)}(?![\w.-])"
        command = re.sub(pattern, lambda _match, target=sandboxed: target, command)
        if re.search(pattern, command):
            raise AssertionError(f"{original} is still in the command after moving it")
    return command


def build_environment(
    spec: Mapping[str, Any],
    project_variables: Mapping[str, str],
    action_variables: Mapping[str, str],
    secrets: Mapping[str, str],
) -> dict[str, str]:
    """The variables a build sees, in CodeBuild's order of precedence (later wins)."""
    env_section = spec.get("env", {})
    variables = {name: str(value) for name, value in env_section.get("variables", {}).items()}
    for name, secret_id in env_section.get("secrets-manager", {}).items():
        if secret_id not in secrets:
            raise AssertionError(f"the buildspec reads secret {secret_id!r} ({name}), which the test did not provide")
        variables[name] = secrets[secret_id]
    return {**variables, **project_variables, **action_variables}


def run_buildspec(
    spec: Mapping[str, Any],
    *,
    sandbox: Path,
    variables: Mapping[str, str],
    moves: Mapping[str, str],
    path: list[Path],
    timeout: float = 60,
) -> Build:
    """Run the phases of ``spec`` with bash the way CodeBuild would, in ``sandbox``."""
    if spec.get("env", {}).get("shell", "bash") != "bash":
        raise AssertionError("the runner only knows env.shell: bash")
    source = sandbox / "src"
    source.mkdir(parents=True, exist_ok=True)
    trace_dir = sandbox / "trace"
    trace_dir.mkdir(exist_ok=True)
    phases = {name: PhaseRun(name) for name in PHASES}
    traced: dict[CommandKey, set[int]] = {}
    succeeding = True
    for name in PHASES:
        phase = spec.get("phases", {}).get(name)
        if phase is None:
            continue
        env = {
            "PATH": os.pathsep.join([*(str(entry) for entry in path), os.environ["PATH"]]),
            "HOME": os.environ.get("HOME", str(sandbox)),
            "CODEBUILD_SRC_DIR": str(source),
            "CODEBUILD_BUILD_SUCCEEDING": "1" if succeeding else "0",
            **variables,
        }
        run = phases[name]
        failed = False
        for block in ("commands", "finally"):
            for index, command in enumerate(phase.get(block) or []):
                if block == "commands" and failed:
                    break  # the first failed command skips the rest of the block, not the finally block
                trace = trace_dir / f"{name}-{block}-{index}.trace"
                done = subprocess.run(
                    ["bash", "-c", TRACE_PREAMBLE + relocated(command, moves)],
                    cwd=source,
                    env={**env, "CODEBUILD_TEST_TRACE": str(trace)},
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                    check=False,
                )
                run.exit_codes.append(done.returncode)
                run.stdout += done.stdout
                run.stderr += done.stderr
                traced[(name, block, index)] = _traced_lines(trace)
                failed = failed or done.returncode != 0
        run.status = "FAILED" if failed else "SUCCEEDED"
        if failed:
            succeeding = False
            on_failure = phase.get("on-failure")
            if on_failure == "ABORT" or (on_failure != "CONTINUE" and name in ENDS_THE_BUILD_WHEN_FAILED):
                break
    return Build(phases, traced)


def _traced_lines(trace: Path) -> set[int]:
    if not trace.exists():
        return set()
    lines = set()
    for entry in trace.read_text(errors="replace").splitlines():
        match = TRACED_LINE.match(entry)
        if match and int(match.group(1)) > 1:
            lines.add(int(match.group(1)) - 1)
    return lines


_NOT_A_COMMAND = re.compile(
    r"""^\s*(
        \#.*                                  # a comment
      | (fi|esac|done|then|else|do|\}|;;|\)|[;&|]+)\s*(;;)?\s*(\#.*)?  # closers and keywords alone
      | [A-Za-z_][A-Za-z0-9_]*\(\)\s*\{\s*(\#.*)?   # a function header
      | [^()\s]+\)\s*(\#.*)?                   # a case pattern alone on its line
    )?$""",
    re.VERBOSE,
)
_HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")


def command_lines(command: str) -> dict[int, set[int]]:
    """Where a shell command starts in a command's text (line number → the lines it spans).

    This is what line coverage counts. Blank lines, comments, closers (``fi``, ``esac``, ``;;``,
    ``}``), function headers, case patterns alone on their line and here-document bodies are
    not commands. A command continued with ``\\`` spans its continuation lines (bash traces a
    command with a ``$(...)`` at its last line); a continuation that starts with ``||`` or ``&&``
    is a command of its own (the other arm of a list).
    """
    starts: dict[int, set[int]] = {}
    current: set[int] | None = None
    heredoc_end: str | None = None
    continued = False
    for number, line in enumerate(command.splitlines(), start=1):
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        stripped = line.strip()
        if continued and not stripped.startswith(("||", "&&")):
            if current is not None:
                current.add(number)
        elif not _NOT_A_COMMAND.match(line):
            current = starts.setdefault(number, {number})
        else:
            current = None
        continued = stripped.endswith("\\") and not stripped.startswith("#")
        heredoc = _HEREDOC.search(line)
        if heredoc and not stripped.startswith("#"):
            heredoc_end = heredoc.group(1)
    return starts
