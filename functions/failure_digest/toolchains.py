"""Which lines of a failed build say why: heuristics for the toolchains service builds run.

A build log is mostly noise (downloads, passing tests, CodeBuild's own
``[Container]`` lines); the lines an engineer scrolls for have shapes each tool
documents and keeps stable across versions: pytest's ``E`` lines and its short
test summary (``FAILED path::test - reason``), jest's ``FAIL path`` and its
bullet per failed test (``Suite`` and test joined by jest's right-pointing angle
quotation mark), Maven Surefire's ``<<< FAILURE!`` and its ``Failures:`` list,
Gradle's ``Class > test FAILED``, ``go test``'s ``--- FAIL: Test`` and
``go build``'s ``file.go:line:col:``, compilers' ``file:line:col: error:`` (C, C++,
Rust, Swift), ``file(line,col): error TS…`` (tsc), ``file.java:line: error:`` and
Kotlin's ``e:``, npm's ``npm ERR!`` (``npm error`` since npm 10), BuildKit's
``#n ERROR:`` and ``ERROR: failed to solve:`` (and the classic builder's ``returned
a non-zero code``), Terraform's ``Error:`` box and Checkov's ``Check: CKV…`` with
``FAILED for resource:``.

Every line is matched as text, never interpreted: the log is attacker-controlled
(a test can print anything), so what comes out is only ever quoted, escaped,
inside a code block (``messages``). A log whose tool is not known here still
yields its lines that say error/failed/fatal, or else its last lines.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

MAX_LINES = 15
"""Enough for the first error and its message; the build's console page holds the rest."""
MAX_TESTS = 20
LINE_LIMIT = 400
"""One log line, as quoted: a minified bundle or a base64 blob on one line must not fill the message."""
CODEBUILD_AGENT = re.compile(r"^\[Container\] \d{4}/\d{2}/\d{2} ")
"""CodeBuild's own lines (phases, commands): the phase and exit code come from BatchGetBuilds instead."""
BUILDKIT_STEP = re.compile(r"^#\d+ (\d+\.\d+ )?")
"""BuildKit prefixes every line of a ``RUN`` step with ``#<step> <seconds>``: a test run inside ``docker build``."""
GENERIC_ERROR = re.compile(r"\b(error|errors|failed|failure|fatal|exception|panic)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Toolchain:
    name: str
    error: re.Pattern[str]
    """A line that states an error (or a failure) of this tool."""
    test: re.Pattern[str] | None = None
    """A line that names a failed test, in group ``name``."""
    follow: re.Pattern[str] | None = None
    """Lines right after an error line that continue its message (an indented reason, a Terraform box)."""
    raw: bool = False
    """Match the line as logged; otherwise with a BuildKit step prefix taken off first."""


TOOLCHAINS: tuple[Toolchain, ...] = (
    Toolchain(
        "pytest",
        error=re.compile(r"^(FAILED|ERROR) \S+\.py(::\S+)?|^E {2,}\S"),
        test=re.compile(r"^FAILED (?P<name>\S+\.py::\S+?)(?: - |$)"),
    ),
    Toolchain(
        "jest",
        error=re.compile(r"^\s*FAIL\s+\S+\.[cm]?[jt]sx?\b|^\s*● \S|^\s*(Expected|Received): "),
        test=re.compile(r"^\s*● (?!Console\b|Test suite failed to run\b)(?P<name>.+?)\s*$"),
    ),
    Toolchain(
        "junit",
        error=re.compile(
            r"^\[ERROR\] (Tests run: .*<<< (FAILURE|ERROR)!|\S+ -- Time elapsed: .*<<< (FAILURE|ERROR)!"
            r"|Failures: ?$|Errors: ?$| {2}\S+:\d+ |Failed to execute goal )"
            r"|^\S+ > .+ FAILED$"
        ),
        test=re.compile(
            r"^\[ERROR\] (?P<name>[\w$.]+\.[\w$]+) -- Time elapsed: .*<<< (FAILURE|ERROR)!$"
            r"|^(?P<gradle>\S+ > .+?) FAILED$"
        ),
        follow=re.compile(r"^(\s+)?[\w$.]+(Error|Exception|Failure)\b"),
    ),
    Toolchain(
        "go",
        error=re.compile(r"^--- FAIL: \S+|^\S+\.go:\d+(:\d+)?: \S|^FAIL\t\S+|^# \S+"),
        test=re.compile(r"^--- FAIL: (?P<name>\S+)"),
        follow=re.compile(r"^\s+\S+_test\.go:\d+: "),
    ),
    Toolchain(
        "compiler",
        error=re.compile(
            r"^\S+\(\d+,\d+\): error TS\d+: "  # tsc
            r"|^\S+:\d+:\d+: (fatal )?error: "  # gcc, clang, swiftc
            r"|^\S+\.java:\d+: error: "  # javac
            r"|^e: \S"  # kotlinc
            r"|^error(\[E\d{4}\])?: "  # rustc
        ),
        follow=re.compile(r"^\s{2,}\S"),
    ),
    Toolchain("npm", error=re.compile(r"^npm (ERR!|error) +\S")),
    Toolchain(
        "docker",
        error=re.compile(
            r"^#\d+ (\d+\.\d+ )?ERROR:? |^ERROR: failed to (solve|build)|^ERROR \[|returned a non-zero code: \d+"
        ),
        raw=True,
    ),
    Toolchain(
        "terraform",
        error=re.compile(r"^[│|]? ?Error: \S"),
        follow=re.compile(r"^[│|]"),
    ),
    Toolchain(
        "checkov",
        error=re.compile(r"^Check: CKV2?_[A-Z]+_\d+: "),
        follow=re.compile(r"^\s+(FAILED for resource|File): "),
    ),
)


@dataclass(frozen=True)
class Excerpt:
    """What a log says went wrong: the tool (or ``unknown``), its error lines, the tests it names as failed."""

    toolchain: str
    lines: tuple[str, ...]
    failed_tests: tuple[str, ...] = field(default_factory=tuple)


def excerpt(lines: Sequence[str]) -> Excerpt:
    """The error lines of ``lines`` (in log order), the toolchain that wrote most of them, and the failed tests."""
    hits: list[tuple[int, Toolchain]] = []
    tests: list[str] = []
    for index, line in enumerate(lines):
        if CODEBUILD_AGENT.match(line):
            continue
        for toolchain in TOOLCHAINS:
            text = line if toolchain.raw else BUILDKIT_STEP.sub("", line, count=1)
            if toolchain.test is not None and (named := toolchain.test.search(text)):
                name = next(value for value in named.groupdict().values() if value)
                if name not in tests:
                    tests.append(name)
            if toolchain.error.search(text):
                hits.append((index, toolchain))
                break
    if not hits:
        return Excerpt("unknown", _generic(lines))
    counts: dict[str, int] = {}
    for _, toolchain in hits:
        counts[toolchain.name] = counts.get(toolchain.name, 0) + 1
    # The tool with most error lines failed the build; on a tie, the one that spoke first.
    winner = max(counts, key=lambda name: (counts[name], -next(i for i, t in hits if t.name == name)))
    chosen: list[str] = []
    blocks: set[tuple[str, ...]] = set()
    for index, toolchain in hits:
        if toolchain.name != winner:
            continue
        block = [lines[index]]
        while toolchain.follow is not None and index + len(block) < len(lines):
            following = lines[index + len(block)]
            if not toolchain.follow.search(following):
                break
            block.append(following)
        shown = tuple(_shown(line) for line in block if _shown(line))
        # go build and BuildKit repeat the same error for each target that includes it: once is enough.
        if shown in blocks:
            continue
        blocks.add(shown)
        chosen.extend(shown)
        if len(chosen) >= MAX_LINES:
            break
    return Excerpt(winner, tuple(chosen[:MAX_LINES]), tuple(tests[:MAX_TESTS]))


def _shown(line: str) -> str:
    """A line as quoted: clipped, and empty when it says nothing (a blank line of a Terraform box)."""
    clipped = line.rstrip()[:LINE_LIMIT]
    return "" if not clipped.strip("│| \t") else clipped


def _generic(lines: Sequence[str]) -> tuple[str, ...]:
    """An unknown tool: its lines that say error or failed, else the last lines before CodeBuild gave up."""
    chosen: list[str] = []
    own = [line for line in lines if not CODEBUILD_AGENT.match(line) and line.strip()]
    for line in own:
        if GENERIC_ERROR.search(line) and _shown(line) not in chosen:
            chosen.append(_shown(line))
            if len(chosen) >= MAX_LINES:
                break
    return tuple(chosen) if chosen else tuple(_shown(line) for line in own[-MAX_LINES:])
