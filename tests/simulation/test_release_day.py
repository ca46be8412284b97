"""``make simulate``: a release day of the reference catalog through the real coordinator and gate."""

from __future__ import annotations

import pytest

from simulation.release_day import report, simulate

# make test distributes whole files (--dist loadfile): each simulated day is computed once.


@pytest.fixture(scope="module")
def day():
    return simulate()


def test_no_service_starts_deploying_while_a_dependency_is_unhealthy_or_mid_deploy(day):
    assert day.violations == []
    assert day.events_delivered > 100 and day.duplicates_dropped > 0


def test_booking_waits_for_auth_in_prod_then_is_restarted_and_deployed(day):
    assert "booking/prod" in day.held
    assert "booking/prod" in day.restarted
    assert "booking/prod" in day.deployed


def test_a_failed_dependency_that_is_fixed_releases_its_held_dependent(day):
    assert "loyalty/prod" in day.restarted and "loyalty/prod" in day.deployed


def test_a_dependency_that_stays_broken_gets_its_dependents_aborted_with_the_reason(day):
    assert sorted(day.aborted) == ["invoicing/staging", "payments/staging"]
    rendered = day.timeline.render()
    assert (
        "ABORTED by coordinator: aborted after 60 min on hold: waiting for ledger in staging: last deploy failed"
        in (rendered)
    )


def test_a_dependency_in_alarm_in_its_own_account_holds_its_dependent_until_it_clears(day):
    lines = [line for line in day.timeline.render().splitlines() if "/prod" in line]
    assert any("cicd-payments-prod-health (account 455555555555) -> ALARM" in line for line in lines)
    held = [line for line in lines if "loyalty/prod" in line and "HELD at Deploy" in line]
    assert any(
        line.endswith("HELD at Deploy: waiting for payments in prod: alarm cicd-payments-prod-health is in ALARM")
        for line in held
    )
    after = lines[next(i for i, line in enumerate(lines) if "cicd-payments-prod-health" in line and "-> OK" in line) :]
    assert any("loyalty/prod" in line and "deployed" in line for line in after)


def test_the_change_freeze_holds_prod_until_it_is_lifted(day):
    rendered = day.timeline.render()
    held = [line for line in rendered.splitlines() if "web-frontend/prod" in line and "HELD at Deploy" in line]
    assert held and held[0].endswith("HELD at Deploy: change freeze in prod: end-of-day change freeze")
    assert "web-frontend/prod" in day.restarted and "web-frontend/prod" in day.deployed


def test_downstream_actions_follow_on_upstream_deploy(day):
    assert "redeploy mobile-bff in prod" in day.actions
    assert "test partner-api in prod" in day.actions
    assert "test invoicing in prod" in day.actions


def test_the_invariant_check_catches_deploys_that_ignore_the_gate():
    # Only whether the check can fail is asked: the day may end at its first violation.
    assert simulate(honour_gate=False, until_first_violation=True, dora=False).violations


def test_make_simulate_prints_the_timeline_and_succeeds(day, capsys):
    assert report(day) == 0
    out = capsys.readouterr().out
    assert "booking/prod" in out and "invariant held" in out


def test_held_deploys_also_resume_where_codepipeline_retries_a_stage_its_entry_rule_stopped():
    day = simulate(strict_retry=False, dora=False)  # DORA's numbers are the default day's tests
    assert day.violations == []
    assert "booking/prod" in day.restarted and "booking/prod" in day.deployed


def test_a_throttled_restart_stays_held_and_the_next_tick_restarts_it(day):
    (refused,) = day.restarts_refused
    lines = [line for line in day.timeline.render().splitlines() if refused in line]
    at = next(i for i, line in enumerate(lines) if "restart refused by CodePipeline: ThrottlingException" in line)
    assert any("restarted by coordinator" in line for line in lines[at:])
    assert refused in day.restarted and refused in day.deployed


def test_an_event_of_a_same_named_pipeline_in_an_environment_account_is_ignored(day):
    assert day.ignored == ["event from account 444444444444, not the tooling account 123456789012"]
    forged = next(line for line in day.timeline.render().splitlines() if "in account 444444444444 SUCCEEDED" in line)
    same_moment = [line for line in day.timeline.render().splitlines() if line[:8] == forged[:8]]
    assert len(same_moment) == 2  # the forged success and its rejection: nothing announced, started or restarted


# --- DORA metrics of the day, through the real DORA function ---------------------------------------------


def test_the_dora_function_records_every_deploy_outcome_of_the_day_once(day):
    dora = day.dora
    assert dora.ignored == []
    assert dora.duplicates > 0  # EventBridge delivered some outcomes twice: recorded once
    deployments = sum(numbers.deployments for numbers in dora.by_placement.values())
    assert deployments == sum(numbers.deployments for numbers in dora.by_environment.values())
    assert sum(numbers.successes for numbers in dora.by_placement.values()) == len(day.deployed)


def test_a_failed_deploy_fixed_later_is_a_change_failure_restored_when_the_fix_deployed(day):
    from simulation.release_day import CHANGES

    payments = day.dora.by_placement[("payments", "prod")]
    assert (payments.deployments, payments.failed_changes, payments.change_failure_rate) == (2, 1, 50.0)
    failed, fix = (c.minute for c in CHANGES if (c.service, c.environment) == ("payments", "prod"))
    # Both runs build and deploy for as long: the fix lands as much later as it was pushed.
    assert payments.time_to_restore_seconds == (fix - failed) * 60


def test_lead_time_runs_from_the_commit_to_its_deployment(day):
    from simulation.release_day import BUILD_MINUTES, COMMIT_BEFORE_PUSH_MINUTES, DEPLOY_MINUTES

    auth = day.dora.by_placement[("auth", "prod")]  # pushed, built and deployed without a hold
    assert auth.lead_time_seconds == (COMMIT_BEFORE_PUSH_MINUTES + BUILD_MINUTES + DEPLOY_MINUTES) * 60


def test_a_deploy_that_never_succeeded_is_a_failure_not_yet_restored(day):
    ledger = day.dora.by_placement[("ledger", "staging")]
    assert (ledger.change_failure_rate, ledger.time_to_restore_seconds) == (100.0, None)
    # Its dependents were held at the gate and aborted: they never deployed, so they count for nothing.
    assert day.dora.by_placement[("invoicing", "staging")].deployments == 0


def test_make_simulate_prints_the_four_numbers_and_writes_the_dashboards_data(day, capsys, tmp_path):
    from simulation.release_day import write_dora_table

    report(day)
    out = capsys.readouterr().out
    assert "DORA metrics of the day" in out
    prod = next(line for line in out.splitlines() if line.startswith("  prod: deployments per day"))
    assert all(name in prod for name in ("lead time for changes", "change failure rate", "time to restore"))
    path = write_dora_table(day, "prod", tmp_path)
    table = path.read_text(encoding="utf-8")
    assert path.name == "dora-prod.md"
    assert "| payments | prod | 2 | 1 | " in table and "| 50 % | 30 min |" in table


def test_a_failed_build_gets_one_digest_naming_the_failing_test_and_the_repeat_says_so(day):
    """The issue's "done when": the real failure digest, fed by the day's failed build of recommendations in dev."""
    first, second = day.digests
    for digest in (first, second):
        assert digest.startswith("recommendations-dev: Build / BuildAndUnitTest failed")
        assert "tests.test_ranking.test_recently_viewed_items_rank_first" in digest
        assert "BUILD, exit code 1" in digest and "owner team-discovery" in digest
    assert "Same failure as the last one" not in first
    assert "Same failure as the last one" in second
    statuses = [outcome["status"] for outcome in day.digest_outcomes]
    assert statuses == ["posted", "duplicate", "posted"], "the event delivered twice is posted once"


def test_make_simulate_prints_the_digest(day, capsys):
    report(day)
    out = capsys.readouterr().out
    assert "Failure digest posted to Slack:" in out
    assert "failure digest posted to Slack: tests.test_ranking.test_recently_viewed_items_rank_first" in out
