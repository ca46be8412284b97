"""``make simulate``: a release day of the reference catalog through the real coordinator and gate."""

from __future__ import annotations

import pytest

from simulation.release_day import report, simulate


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
    assert simulate(honour_gate=False).violations


def test_make_simulate_prints_the_timeline_and_succeeds(day, capsys):
    assert report(day) == 0
    out = capsys.readouterr().out
    assert "booking/prod" in out and "invariant held" in out


def test_held_deploys_also_resume_where_codepipeline_retries_a_stage_its_entry_rule_stopped():
    day = simulate(strict_retry=False)
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
