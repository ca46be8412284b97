"""How `make plan` scales with the fleet: wall time, memory, registrations per second, policy time.

For each size N (default 24, 200 and 1,000 services) a synthetic catalog with the reference
catalog's mix (``synthetic_catalog.py``; N=24 is the reference catalog itself) is planned by
``make plan`` in a subprocess, exactly as a user runs it. Measured from outside: wall time and the
peak resident memory of the process tree (``os.wait4``'s rusage: the largest of make and the
plan process). Read from the plan's summary: resources, components, resources per service, and
the plan's own phase timings (``phaseSeconds``: inputs, program, policy). Then the largest size is
planned once more under the profiler (``profile_plan.py``), and everything is written to
``docs/BENCHMARKS.md`` with the machine it ran on and its load.

Prints figures and writes the report; asserts nothing (timings never live in tests).

    make bench                                   # or:
    .venv/bin/python bench/plan_speed.py --sizes 24 200 --profile-size 0 --report /tmp/b.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # the project, for its YAML reader
from synthetic_catalog import (
    DEFAULT_PIPELINE_QUOTA,
    mix,
    reference_services,
    synthetic_catalog,
    synthetic_policy_config,
    team_shards,
)

from components.model.yaml_source import load_yaml_file, parse_yaml_text

PROJECT_DIR = Path(__file__).resolve().parent.parent
WORK_DIR = PROJECT_DIR / ".bench"
REPORT = PROJECT_DIR / "docs" / "BENCHMARKS.md"
SERVICE_COMPONENT = "cicd:service:ServicePipeline"
SHARED = "(shared)"
SERVICES_PER_SHARD = 100
"""Shard size for the sharded rows: one shard plans in about half a minute, well under the memory target."""
LINKED = ("Pulumi.yaml", "__main__.py", "components", "functions", "catalog", "policies", "bootstrap")
"""What a sharded row's project directory links from this one (its stack file is its own)."""

# Targets of issue 15 (this 2-core machine).
TARGET_SECONDS_AT_1000 = 180
TARGET_SHARDED_SECONDS_AT_200 = 30
TARGET_PEAK_GB = 2.5
TARGET_PER_RESOURCE_DRIFT = 0.15
TARGET_RESOURCES_PER_SERVICE = 60
ONE_STACK_PEAK_GB_AT_1000 = 5.4
"""The one-stack 1,000-service plan's resident set when it was stopped (docs/BENCHMARKS.md history, commit 5909277)."""

EVERY_FEATURE = {
    "configRules": True,
    "githubEnvironments": True,
    "githubProdReviewerTeams": ["release-managers"],
    "slackWorkspaceId": "T01ABCDEF",
    "slackChannelId": "C0123ABCD",
    "sonarqube": {"url": "https://sonar.bookwise.example", "tokenSecretName": "cicd/sonarqube-token"},
    "snyk": {"tokenSecretName": "cicd/snyk-token"},
}
"""The optional settings switched on (over prod's) for the per-service count "with every feature on"."""


REPEAT_UP_TO = 200
"""Rows of at most this many services are planned ``--repeat`` times; larger ones once (minutes each)."""


@dataclass
class Run:
    services: int
    exit_code: int
    wall_seconds: float
    peak_rss_mb: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    summary: dict[str, Any]
    cpu_seconds: float = float("nan")
    """User plus system CPU time of the whole process tree (every shard process included)."""
    shards: int = 0
    """0 for one whole stack; else how many shard stacks the fleet was split into (planned after its core)."""
    pipeline_quota: int | None = None
    """``quotas.maxPipelinesPerRegion`` where the run raised it above the pack's (``synthetic_policy_config``)."""
    wall_runs: list[float] = field(default_factory=list)
    """Wall seconds of every run of this row (``--repeat``); the row's figures are those of the median run."""

    @property
    def runs_text(self) -> str:
        """``3 (28.4-30.2)``: how many runs, and the range of their wall times."""
        walls = self.wall_runs or [self.wall_seconds]
        return f"{len(walls)} ({min(walls):.1f}-{max(walls):.1f})" if len(walls) > 1 else "1"

    @property
    def counted(self) -> bool:
        """Exit 0: no mandatory finding. A plan that exits 1 is not a fleet ``make plan`` accepts."""
        return self.exit_code == 0

    @property
    def resources(self) -> int:
        return self.summary["resourceCount"]

    @property
    def registrations(self) -> int:
        """Everything the program registers: cloud resources, components, providers and the stack."""
        return self.summary["resourceCount"] + self.summary["componentCount"]

    @property
    def phases(self) -> dict[str, float]:
        return self.summary.get("phaseSeconds", {})

    @property
    def per_service(self) -> dict[str, int]:
        return {name: n for name, n in self.summary["resourcesByService"].items() if name != SHARED}

    @property
    def ms_per_resource(self) -> float:
        return 1000 * self.wall_seconds / self.resources

    @property
    def cpu_ms_per_resource(self) -> float:
        """CPU time per cloud resource: comparable between a whole stack and a fleet planned in parallel."""
        return 1000 * self.cpu_seconds / self.resources

    @property
    def registrations_per_second(self) -> float:
        return self.registrations / self.phases["program"] if self.phases.get("program") else float("nan")


def median_run(attempts: list[Run]) -> Run:
    """The run of median wall time (the upper one of an even count), carrying every run's wall time."""
    ordered = sorted(attempts, key=lambda run: run.wall_seconds)
    median = ordered[len(ordered) // 2]
    median.wall_runs = [run.wall_seconds for run in attempts]
    return median


def write_inputs(size: int, stack: str = "dev") -> tuple[Path, Path]:
    raw = synthetic_catalog(size)
    catalog = WORK_DIR / f"services-{size}.yaml"
    catalog.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    config = WORK_DIR / f"policy-config-{size}.json"
    pipelines = size * len(stack_settings(stack)["environments"])
    config.write_text(json.dumps(synthetic_policy_config(raw["services"], pipelines), indent=2), encoding="utf-8")
    return catalog, config


def raised_pipeline_quota(config: Path) -> int | None:
    """The pipeline quota a synthetic pack configuration raised, if it did."""
    quota = json.loads(config.read_text(encoding="utf-8")).get("quotas", {}).get("maxPipelinesPerRegion")
    return int(quota) if quota is not None else None


def stack_settings(stack: str) -> dict[str, Any]:
    stack_file = load_yaml_file(PROJECT_DIR / f"Pulumi.{stack}.yaml", f"Pulumi.{stack}.yaml")
    return stack_file["config"]["cicd-platform:settings"]


def measure(size: int, stack: str) -> Run:
    catalog, config = write_inputs(size, stack)
    out = WORK_DIR / f"out-{size}"
    command = ["make", "--no-print-directory", "plan", f"STACK={stack}", f"CATALOG={catalog}"]
    command += [f"POLICY_CONFIG={config}", f"OUT={out}"]
    run = run_plan_command(command, size, stack, out)
    run.pipeline_quota = raised_pipeline_quota(config)
    return run


def measure_sharded(size: int, stack: str, services_per_shard: int) -> Run:
    """``size`` services split by team into shards of about ``services_per_shard``, planned as ``make plan`` does.

    The project is a directory of its own whose code links to this one and whose stack file is
    ``stack``'s with a ``shards`` section: the command is the one ``make plan`` runs, pointed at it.
    """
    catalog, config = write_inputs(size, stack)
    raw = parse_yaml_text(catalog.read_text(encoding="utf-8"), catalog.name)
    shards = team_shards(raw["services"], services_per_shard)
    project = project_with_settings(WORK_DIR / f"sharded-{size}", stack, {"shards": shards})
    out = WORK_DIR / f"out-{size}-sharded"
    command = [str(PROJECT_DIR / ".venv" / "bin" / "python"), "-m", "offline_plan", "--project-dir", str(project)]
    command += ["--stack", stack, "--catalog", str(catalog), "--policy-config", str(config), "--out", str(out)]
    run = run_plan_command(command, size, stack, out)
    run.shards = len(shards)
    run.pipeline_quota = raised_pipeline_quota(config)
    return run


def run_plan_command(command: list[str], size: int, stack: str, out: Path) -> Run:
    load_before = os.getloadavg()
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # wait4 reports this child's own rusage: ru_maxrss is the largest peak among the child and what it waited for
    # (make, the plan process, each shard process), its CPU times their sum.
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode() if process.stderr else ""
    if process.returncode not in (0, 1):
        raise SystemExit(f"the plan of {size} services failed:\n{stderr}")
    summary = json.loads((out / f"plan-{stack}.json").read_text(encoding="utf-8"))["summary"]
    return Run(
        size,
        process.returncode,
        wall,
        usage.ru_maxrss / 1024,
        load_before,
        os.getloadavg(),
        summary,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )


def project_with_settings(directory: Path, stack: str, settings: dict[str, Any]) -> Path:
    """A project whose code links to this one and whose ``stack`` has ``settings`` laid over its own."""
    directory.mkdir(exist_ok=True)
    for name in LINKED:
        link = directory / name
        if link.exists() and not link.is_symlink():
            link.unlink()  # a copy an older bench wrote
        if not link.is_symlink():
            link.symlink_to(PROJECT_DIR / name)
    stack_file = load_yaml_file(PROJECT_DIR / f"Pulumi.{stack}.yaml", f"Pulumi.{stack}.yaml")
    stack_file["config"]["cicd-platform:settings"].update(settings)
    (directory / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump(stack_file, sort_keys=False), encoding="utf-8")
    return directory


def every_feature_plan() -> dict[str, Any]:
    """The reference catalog planned by prod with every optional feature on (a project linked to this one)."""
    project = project_with_settings(WORK_DIR / "every-feature", "prod", EVERY_FEATURE)
    command = [sys.executable, "-m", "offline_plan", "--project-dir", str(project), "--stack", "prod"]
    command += ["--catalog", str(PROJECT_DIR / "catalog" / "services.yaml"), "--out", str(project / "out")]
    done = subprocess.run(command, cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
    if done.returncode not in (0, 1):
        raise SystemExit(f"the every-feature plan failed:\n{done.stderr}")
    plan = json.loads((project / "out" / "plan-prod.json").read_text(encoding="utf-8"))
    plan["summary"]["typesByService"] = types_by_service(plan["resources"])
    return plan["summary"]


def types_by_service(resources: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    """Service → cloud resource type → count, owners found as the plan's summary finds them (parent chain)."""
    by_urn = {resource["urn"]: resource for resource in resources}
    found: dict[str, Counter[str]] = {}
    for resource in resources:
        if resource["type"].startswith(("cicd:", "pulumi:")):
            continue  # components, providers and the stack are not cloud resources
        current: dict[str, Any] | None = resource
        while current is not None and current["type"] != SERVICE_COMPONENT:
            current = by_urn.get(current["parent"]) if current["parent"] else None
        if current is not None:
            found.setdefault(current["name"], Counter())[resource["type"]] += 1
    return {service: dict(counts) for service, counts in found.items()}


def profile(size: int, stack: str, top: int, sharded: bool) -> dict[str, Any]:
    """The plan of ``size`` services under the profiler; of a sharded fleet, its first shard (after its sharded run)."""
    catalog, config = write_inputs(size, stack)
    target = WORK_DIR / f"profile-{size}.json"
    command = [sys.executable, str(PROJECT_DIR / "bench" / "profile_plan.py"), "--stack", stack]
    command += ["--catalog", str(catalog), "--policy-config", str(config), "--out", str(WORK_DIR / "profile")]
    command += ["--top", str(top), "--json", str(target)]
    if sharded:
        command[command.index("--stack") + 1] = f"{stack}-s1"
        command += ["--project-dir", str(WORK_DIR / f"sharded-{size}")]
        command += ["--core-plan", str(WORK_DIR / f"out-{size}-sharded" / f"plan-{stack}.core.json")]
    load_before = os.getloadavg()
    started = time.perf_counter()
    subprocess.run(command, cwd=PROJECT_DIR, check=True, stdout=subprocess.DEVNULL)
    figures = json.loads(target.read_text(encoding="utf-8"))
    figures.update(
        size=size, sharded=sharded, wallSeconds=time.perf_counter() - started, load=(load_before, os.getloadavg())
    )
    return figures


def machine() -> dict[str, str]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if "model name" in line), cpu
        )
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = next(int(line.split()[1]) for line in meminfo.read_text().splitlines() if line.startswith("MemTotal"))
        memory = f"{kb / 1024 / 1024:.1f} GB"
    packages = ("pulumi", "pulumi-aws", "pulumi-gcp", "pulumi-azure-native", "pulumi-github", "protobuf")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, check=False
    ).stdout.strip()
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "SDKs": ", ".join(f"{name} {metadata.version(name)}" for name in packages),
        "commit": commit or "unknown",
    }


def load_text(load: tuple[float, float, float]) -> str:
    return "/".join(f"{value:.1f}" for value in load)


def render(runs: list[Run], features: dict[str, Any], profiled: dict[str, Any] | None, stack: str) -> str:
    info = machine()
    lines = [
        "# Benchmarks: `make plan` as the fleet grows",
        "",
        f"Written by `make bench` ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {info['commit']}); "
        "regenerate it rather than editing it. Method: `bench/plan_speed.py`.",
        "",
        "## Machine",
        "",
        *[f"- {key}: {value}" for key, value in info.items() if key != "commit"],
        "- load: the machine is shared with other engineers, whose tests and plans run at the same time as the "
        "benchmark; each row gives the 1/5/15-minute load average before and after its run. "
        f"On {info['cores']} cores a load above {info['cores']} means the plan waited for the CPU, "
        "so its wall time is longer than on an idle machine: read the wall times as upper bounds, and "
        "compare sizes by *CPU ms/resource* (in both tables, one stack or sharded) rather than by wall time.",
        "",
        f"## Figures (stack `{stack}`, one stack, one `make plan` process per row)",
        "",
        "| services | resources | per service (mean / max) | shared | registrations | wall s | CPU s | program s "
        "| policy s | registrations/s | ms/resource | CPU ms/resource | peak MB | exit | runs (wall s) "
        "| load before -> after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for run in (run for run in runs if not run.shards):
        per = run.per_service
        lines.append(
            f"| {run.services} | {run.resources} | {statistics.mean(per.values()):.1f} / {max(per.values())} "
            f"| {run.summary['resourcesByService'].get(SHARED, 0)} | {run.registrations} | {run.wall_seconds:.1f} "
            f"| {run.cpu_seconds:.1f} | {run.phases.get('program', float('nan')):.1f} "
            f"| {run.phases.get('policy', float('nan')):.1f} | {run.registrations_per_second:.0f} "
            f"| {run.ms_per_resource:.2f} | {run.cpu_ms_per_resource:.2f} | {run.peak_rss_mb:.0f} "
            f"| {run.exit_code} | {run.runs_text} | {load_text(run.load_before)} -> {load_text(run.load_after)} |"
        )
    sharded = [run for run in runs if run.shards]
    if sharded:
        lines += [
            "",
            f"## Figures (stack `{stack}` split into shards by team, about {SERVICES_PER_SHARD} services each)",
            "",
            "The fleet's core is planned first (the first shards' processes start meanwhile and wait for its "
            "plan), then its shards in parallel processes (one per core), then the merge runs the stack rules "
            "over the union: the command `make plan` runs for a sharded stack. "
            f"Every shard uses the stack's tooling account, so a fleet of more than "
            f"{DEFAULT_PIPELINE_QUOTA // len(stack_settings(stack)['environments'])} services (one pipeline per "
            "service and environment) runs with the pipeline quota raised to what it needs (`quotas."
            "maxPipelinesPerRegion` in its pack configuration; CodePipeline's quota is adjustable), and the "
            "`quotas` rule still counts every pipeline.",
            "",
            "| services | shards | resources | wall s | CPU s | core s | shards s | merge s | ms/resource "
            "| CPU ms/resource | peak MB per process | exit | runs (wall s) | load before -> after |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        ]
        for run in sharded:
            lines.append(
                f"| {run.services} | {run.shards} | {run.resources} | {run.wall_seconds:.1f} | {run.cpu_seconds:.1f} "
                f"| {run.phases.get('core', float('nan')):.1f} | {run.phases.get('shards', float('nan')):.1f} "
                f"| {run.phases.get('merge', float('nan')):.1f} | {run.ms_per_resource:.2f} "
                f"| {run.cpu_ms_per_resource:.2f} | {run.peak_rss_mb:.0f} | {run.exit_code} | {run.runs_text} "
                f"| {load_text(run.load_before)} -> {load_text(run.load_after)} |"
            )
    lines += [
        "",
        "Columns: *wall s* is the whole `make plan` process from start to exit (imports, inputs, program, "
        "policy, writing the plan); *CPU s* the user and system time of every process it ran; *program s* "
        "and *policy s* are the plan's own `summary.phaseSeconds` (for a sharded fleet: *core s*, *shards s*, "
        "*merge s*); *registrations* counts everything the program registers (cloud resources, components, "
        "providers, the stack); *ms/resource* is wall time per cloud resource, *CPU ms/resource* CPU time per "
        "cloud resource (the fair comparison between one process and several in parallel); *peak MB* is the "
        "largest resident set of any one process (not the sum of those alive at once: a sharded fleet's parent "
        "and its shard processes run together); *exit* 0 means no mandatory finding, 1 a mandatory finding "
        "(such a row is marked in the targets, never counted as met); *runs (wall s)* how many times the row "
        f"was planned and the range of their wall times: rows of at most {REPEAT_UP_TO} services are planned "
        "`--repeat` times (default 3) on a machine whose speed drifts, and every figure of the row is that of "
        "its median run (by wall time), never the fastest.",
        "",
        *render_targets(runs, features),
        "",
        *render_mix(runs),
        "",
        *render_per_service(runs, features),
    ]
    if profiled:
        lines += ["", *render_profile(profiled)]
    return "\n".join(lines) + "\n"


def render_targets(runs: list[Run], features: dict[str, Any]) -> list[str]:
    whole = {run.services: run for run in runs if not run.shards}
    sharded = {run.services: run for run in runs if run.shards}
    lines = [
        "## Against the targets",
        "",
        "The 1,000-service fleet is planned in shards only because one process would exceed the memory target: "
        f"planned as one stack it had reached {ONE_STACK_PEAK_GB_AT_1000} GB when it was stopped (a one-stack row "
        "is still available: `--sizes 24 200 1000`). Linearity is judged on CPU time per cloud resource, not "
        "wall time: a sharded fleet spends its wall time on two cores at once, which would flatter it. A row "
        "whose plan exits non-zero has a mandatory finding: it is named as such below, never counted as met.",
        "",
    ]
    for run in (whole.get(1000), sharded.get(1000)):
        if run is not None:
            how = f"in {run.shards} shards" if run.shards else "as one stack"
            if run.pipeline_quota is not None:
                how += f", with `quotas.maxPipelinesPerRegion` raised to {run.pipeline_quota}"
            lines.append(
                f"- 1,000 services under {TARGET_SECONDS_AT_1000 // 60} minutes ({how}): {run.wall_seconds:.0f} s, "
                f"{verdict(run, run.wall_seconds < TARGET_SECONDS_AT_1000)}."
            )
    if 200 in sharded:
        run = sharded[200]
        lines.append(
            f"- 200 services under {TARGET_SHARDED_SECONDS_AT_200} s with shards in parallel ({run.shards} shards): "
            f"{run.wall_seconds:.1f} s, {verdict(run, run.wall_seconds < TARGET_SHARDED_SECONDS_AT_200)}."
        )
    peak = max(runs, key=lambda run: run.peak_rss_mb)
    lines.append(
        f"- At most {TARGET_PEAK_GB} GB per process: largest {peak.peak_rss_mb / 1024:.2f} GB at {peak.services} "
        f"services{' (sharded)' if peak.shards else ''}, {verdict(peak, peak.peak_rss_mb < TARGET_PEAK_GB * 1024)}."
    )
    largest = max(runs, key=lambda run: (run.services, -run.shards))
    if 24 in whole and largest.services > 24:
        small = whole[24]
        # The target is linearity: a resource must not cost more in a larger fleet. CPU time, not wall time, so a
        # fleet planned in parallel is not flattered by its second core; cheaper is met too (fixed costs spread).
        drift = largest.cpu_ms_per_resource / small.cpu_ms_per_resource - 1
        how = f", {largest.shards} shards" if largest.shards else ""
        lines.append(
            f"- CPU ms per resource at {largest.services}{how} within {TARGET_PER_RESOURCE_DRIFT:.0%} of that at 24: "
            f"{largest.cpu_ms_per_resource:.2f} vs {small.cpu_ms_per_resource:.2f} ({drift:+.0%}), "
            f"{verdict(largest, drift <= TARGET_PER_RESOURCE_DRIFT, small)}."
        )
    every = {name: n for name, n in features["resourcesByService"].items() if name != SHARED}
    over = sorted(name for name, count in every.items() if count > TARGET_RESOURCES_PER_SERVICE)
    mean = statistics.mean(every.values())
    # The issue measures "cloud resources per service" as the fleet's mean of the services' own resources (its
    # "53 per service" for a catalog of 1,464 resources leaves the shared ones out): the verdict is on the mean,
    # and the services above it are named, never hidden.
    lines.append(
        f"- At most {TARGET_RESOURCES_PER_SERVICE} cloud resources per service with every feature on (reference "
        f"catalog; per service as the issue counts it, the mean of the services' own resources): {mean:.1f}, "
        f"{'met' if mean <= TARGET_RESOURCES_PER_SERVICE else 'not met'}. "
        + (
            f"No single service is over it (max {max(every.values())})."
            if not over
            else f"Single services above it: {len(over)} of {len(every)}, max {max(every.values())} "
            f"({', '.join(over)})."
        )
    )
    return lines


def verdict(run: Run, met: bool, *others: Run) -> str:
    """ "met" or "not met"; a figure from a plan that exits non-zero (a mandatory finding) is not met whatever it is."""
    failed = [other for other in (run, *others) if not other.counted]
    if failed:
        where = ", ".join(f"{other.services}{' sharded' if other.shards else ''}" for other in failed)
        return f"not met: the plan exits {failed[0].exit_code} with a mandatory finding (at {where} services)"
    return "met" if met else "not met"


def render_mix(runs: list[Run]) -> list[str]:
    lines = [
        "## The synthetic fleets",
        "",
        "Each size repeats the reference catalog as whole replicas (renamed services, teams, repositories and "
        "AWS targets; the reference's dependency edges inside each replica), so the mix is the reference's:",
        "",
    ]
    sizes = sorted({run.services for run in runs if run.services != 24})
    lines.append("| share of services | reference (24) | " + "".join(f"{size} | " for size in sizes))
    lines.append("|---|---:|" + "---:|" * len(sizes))
    mixes = {24: mix(reference_services())}
    mixes.update({size: mix(synthetic_catalog(size)["services"]) for size in sizes})
    for dimension, shares in mixes[24].items():
        for value in shares:
            cells = [f"{mixes[size][dimension].get(value, 0):.0%}" for size in [24, *sizes]]
            lines.append(f"| {dimension} {value} | " + " | ".join(cells) + " |")
    return lines


def render_per_service(runs: list[Run], features: dict[str, Any]) -> list[str]:
    reference = next((run for run in runs if run.services == 24), runs[0])
    every = {name: n for name, n in features["resourcesByService"].items() if name != SHARED}
    switched_on = ", ".join(f"`{key}`" for key in EVERY_FEATURE)
    lines = [
        f"## Cloud resources per service (reference catalog, target at most {TARGET_RESOURCES_PER_SERVICE})",
        "",
        f"*dev* is the row-24 plan above. *Every feature* is the prod stack with {switched_on} switched on "
        f"({features['resourceCount']} resources). Shared resources for the whole stack (artifact store, "
        f"coordination, release news, cloud footholds): {reference.summary['resourcesByService'].get(SHARED, 0)} "
        f"(dev), {features['resourcesByService'].get(SHARED, 0)} (every feature). From `summary.resourcesByService`.",
        "",
        f"Every feature: mean {statistics.mean(every.values()):.1f}, median {statistics.median(every.values()):.0f}, "
        f"max {max(every.values())}; {sum(n > TARGET_RESOURCES_PER_SERVICE for n in every.values())} of "
        f"{len(every)} services over {TARGET_RESOURCES_PER_SERVICE}.",
        "",
        "| service | dev | every feature | |",
        "|---|---:|---:|---|",
    ]
    for name, count in sorted(every.items(), key=lambda item: (-item[1], item[0])):
        flag = "over" if count > TARGET_RESOURCES_PER_SERVICE else ""
        lines.append(f"| {name} | {reference.per_service.get(name, 0)} | {count} | {flag} |")
    largest = max(every, key=lambda name: (every[name], name))
    types = sorted(features["typesByService"][largest].items(), key=lambda item: (-item[1], item[0]))
    lines += ["", f"What the largest ({largest}, {every[largest]}) is made of, with every feature on:", ""]
    lines += ["| resource type | count |", "|---|---:|"]
    lines += [f"| `{kind}` | {count} |" for kind, count in types]
    return lines


def render_profile(profiled: dict[str, Any]) -> list[str]:
    low, high = profiled["load"]
    lines = [
        f"## Profile of the {profiled['size']}-service plan"
        + (" (its first shard)" if profiled.get("sharded") else ""),
        "",
        (
            "The first shard of the sharded fleet above, planned again in one process as its worker plans it (the "
            "core's outputs read from the core plan), under cProfile (`bench/profile_plan.py`; "
            if profiled.get("sharded")
            else "A separate in-process run of the same catalog under cProfile (`bench/profile_plan.py`; "
        )
        + f"{profiled['wallSeconds']:.0f} s wall with the profiler's overhead, load {load_text(low)} -> "
        f"{load_text(high)}). Main thread on the wall clock, the monitor's worker threads on their own CPU clock, "
        "merged. Cumulative leaves out event-loop and thread-pool plumbing, which nests everything.",
        "",
        "By cumulative time:",
        "",
        "| cumulative s | own s | calls | function |",
        "|---:|---:|---:|---|",
    ]
    lines += [
        f"| {e['cumulative']:.1f} | {e['own']:.1f} | {e['calls']} | `{e['function']}` |" for e in profiled["cumulative"]
    ]
    lines += ["", "By own time:", "", "| own s | cumulative s | calls | function |", "|---:|---:|---:|---|"]
    lines += [
        f"| {e['own']:.1f} | {e['cumulative']:.1f} | {e['calls']} | `{e['function']}` |" for e in profiled["tottime"]
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(
        description="Benchmark make plan on synthetic fleets and write docs/BENCHMARKS.md."
    )
    parser.add_argument("--sizes", nargs="*", type=int, default=[24, 200], help="sizes planned as one stack")
    parser.add_argument(
        "--sharded-sizes", nargs="*", type=int, default=[200, 1000], help="sizes planned as a fleet of shards"
    )
    parser.add_argument("--services-per-shard", type=int, default=SERVICES_PER_SHARD)
    parser.add_argument("--stack", default="dev")
    parser.add_argument(
        "--profile-size",
        type=int,
        default=None,
        help="size to profile (default: the largest; a sharded size profiles its first shard; 0: none)",
    )
    parser.add_argument("--top", type=int, default=15, help="profile entries per table")
    parser.add_argument(
        "--repeat", type=int, default=3, help=f"runs of each row of at most {REPEAT_UP_TO} services (median shown)"
    )
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args()
    WORK_DIR.mkdir(exist_ok=True)

    runs = []
    print(
        f"{'services':>8} {'shards':>6} {'resources':>9} {'wall s':>8} {'CPU s':>8} {'ms/res':>7} {'CPU ms/res':>10} "
        f"{'peak MB':>8} load"
    )
    plans = [(size, False) for size in sorted(args.sizes)] + [(size, True) for size in sorted(args.sharded_sizes)]
    for size, sharded in plans:
        attempts = [
            measure_sharded(size, args.stack, args.services_per_shard) if sharded else measure(size, args.stack)
            for _ in range(max(1, args.repeat) if size <= REPEAT_UP_TO else 1)
        ]
        run = median_run(attempts)
        runs.append(run)
        print(
            f"{run.services:>8} {run.shards:>6} {run.resources:>9} {run.wall_seconds:>8.1f} {run.cpu_seconds:>8.1f} "
            f"{run.ms_per_resource:>7.2f} {run.cpu_ms_per_resource:>10.2f} {run.peak_rss_mb:>8.0f} "
            f"{load_text(run.load_before)} -> {load_text(run.load_after)}",
            flush=True,
        )
    features = every_feature_plan()
    args.report.parent.mkdir(parents=True, exist_ok=True)
    # Written before the profile too: the profiled run is the longest, and the figures above stand without it.
    args.report.write_text(render(runs, features, None, args.stack), encoding="utf-8")
    profile_size = max(size for size, _ in plans) if args.profile_size is None else args.profile_size
    if profile_size:
        sharded = profile_size in args.sharded_sizes and profile_size not in args.sizes
        profiled = profile(profile_size, args.stack, args.top, sharded)
        args.report.write_text(render(runs, features, profiled, args.stack), encoding="utf-8")
    print(f"-> {args.report}")


if __name__ == "__main__":
    main()
