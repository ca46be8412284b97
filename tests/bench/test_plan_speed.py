"""What the benchmark report claims against the targets (bench/plan_speed.py), from made-up runs."""

from __future__ import annotations

from bench import plan_speed
from bench.plan_speed import Run

LOAD = (1.0, 1.0, 1.0)
FEATURES = {"resourcesByService": {"auth": 50, "billing": 55, plan_speed.SHARED: 10}}


def run(services: int, wall: float, *, exit_code: int = 0, shards: int = 0, quota: int | None = None) -> Run:
    summary = {"resourceCount": services * 58, "componentCount": services * 20, "resourcesByService": {"a": 58}}
    return Run(
        services,
        exit_code,
        wall,
        1500.0,
        LOAD,
        LOAD,
        summary,
        cpu_seconds=wall * 1.5,
        shards=shards,
        pipeline_quota=quota,
    )


def targets(*runs: Run) -> str:
    return "\n".join(plan_speed.render_targets(list(runs), FEATURES))


def test_a_plan_with_a_mandatory_finding_is_never_counted_as_met():
    """The bench accepts exit 1 (the plan ran); its figures then describe a fleet ``make plan`` refuses."""
    text = targets(run(24, 10), run(1000, 150, exit_code=1, shards=10))
    line = next(line for line in text.splitlines() if line.startswith("- 1,000 services"))
    assert "150 s, not met: the plan exits 1 with a mandatory finding" in line
    linearity = next(line for line in text.splitlines() if line.startswith("- CPU ms per resource"))
    assert "not met: the plan exits 1" in linearity
    assert "met." not in line.replace("not met", "")


def test_the_1000_row_names_the_pipeline_quota_it_ran_with():
    text = targets(run(24, 10), run(1000, 150, shards=10, quota=4000))
    assert (
        "- 1,000 services under 3 minutes (in 10 shards, with `quotas.maxPipelinesPerRegion` raised to 4000): "
        "150 s, met." in text
    )


def test_the_targets_say_why_the_fleet_is_sharded_and_what_linearity_is_judged_on():
    text = targets(run(24, 10), run(1000, 150, shards=10, quota=4000))
    assert f"{plan_speed.ONE_STACK_PEAK_GB_AT_1000} GB" in text and "memory target" in text
    assert "CPU time per cloud resource" in text and "two cores" in text


def test_a_clean_run_is_judged_on_its_figures_alone():
    text = targets(run(24, 10), run(200, 20, shards=2))
    assert "- 200 services under 30 s with shards in parallel (2 shards): 20.0 s, met." in text
    assert "mandatory" not in text.split("\n\n", 2)[2]


def test_a_repeated_row_shows_its_median_run_and_the_range():
    """A drifting machine: the row is the median run's (never the fastest), and the spread is shown beside it."""
    fast, median, slow = run(200, 28.0, shards=2), run(200, 30.5, shards=2), run(200, 41.0, shards=2)
    chosen = plan_speed.median_run([slow, fast, median])
    assert chosen is median
    assert chosen.wall_runs == [41.0, 28.0, 30.5]
    assert chosen.runs_text == "3 (28.0-41.0)"
    assert "30.5 s, not met" in targets(run(24, 10), chosen)
    assert run(1000, 150, shards=10).runs_text == "1"
