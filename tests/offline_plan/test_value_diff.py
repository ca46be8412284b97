"""Input values compared as a reviewer reads them: documents as documents, named elements by name, secrets never."""

from __future__ import annotations

import json

from offline_plan.value_diff import MAX_VALUE_CHARS, diff_values, render_change


def lines(old, new) -> list[str]:
    return [line for change in diff_values(old, new) for line in render_change(change)]


def test_named_elements_are_matched_by_name_so_an_insertion_is_one_line_and_a_reorder_is_said():
    stages = [{"name": "Build"}, {"name": "Deploy", "onFailure": {"result": "ROLLBACK"}}]
    inserted = [stages[0], {"name": "Scan"}, stages[1]]
    assert lines({"stages": stages}, {"stages": inserted}) == ['+ stages["Scan"]: {"name": "Scan"}']
    assert lines({"stages": stages}, {"stages": stages[::-1]}) == [
        '~ stages (order): ["Build", "Deploy"] → ["Deploy", "Build"]'
    ]


def test_an_event_pattern_is_compared_as_json_and_a_value_added_to_a_list_is_one_line():
    before = json.dumps({"source": ["aws.codepipeline"], "detail-type": ["CodePipeline Stage Execution State Change"]})
    after = json.dumps(
        {"source": ["aws.codepipeline", "aws.codedeploy"], "detail-type": ["CodePipeline Stage Execution State Change"]}
    )
    assert lines({"eventPattern": before}, {"eventPattern": after}) == ['+ eventPattern.source[]: "aws.codedeploy"']


def test_a_key_policy_statement_changed_in_place_without_sid_is_compared_by_position():
    before = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "kms:*"}]}
    after = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "kms:*"}]}
    assert lines({"policy": json.dumps(before)}, {"policy": json.dumps(after)}) == [
        '~ policy.Statement[0].Principal.AWS: "arn:aws:iam::1:root" → "*"'
    ]


def test_keys_that_are_not_identifiers_are_quoted():
    assert lines({"tags": {"managed-by": "x"}}, {"tags": {"managed-by": "y"}}) == ['~ tags["managed-by"]: "x" → "y"']


def test_a_value_that_stops_being_secret_shows_only_its_new_value():
    assert lines({"value": "[secret]"}, {"value": "now-public"}) == ['~ value: no longer secret → "now-public"']


def test_a_whole_secret_document_replacing_a_plain_one_shows_neither():
    plain = json.dumps({"Statement": [{"Sid": "Leaked", "Action": "s3:*"}]})
    assert lines({"policy": plain}, {"policy": "[secret]"}) == ["~ policy: now secret (neither value shown)"]


def test_a_changed_script_shows_the_lines_that_changed():
    before = "version: 0.2\nphases:\n  build:\n    commands:\n      - make test\n"
    after = "version: 0.2\nphases:\n  build:\n    commands:\n      - make test\n      - make scan\n"
    assert lines({"buildspec": before}, {"buildspec": after}) == [
        "~ buildspec: text changed (+1 -0 lines)",
        "    + - make scan",
    ]


def test_a_changed_asset_is_reported_as_its_content():
    before = {"code": {"assets": {"handler.py": {"path": "functions/gate/handler.py", "sha256": "a" * 64}}}}
    after = {"code": {"assets": {"handler.py": {"path": "functions/gate/handler.py", "sha256": "b" * 64}}}}
    assert lines(before, after) == ['~ code.assets["handler.py"]: content changed']


def test_long_values_are_clipped_to_one_readable_line():
    (line,) = lines({"description": "x"}, {"description": "y" * 500})
    assert len(line) < MAX_VALUE_CHARS + 40 and line.endswith("…")


def test_a_long_one_line_condition_is_shown_around_what_changed():
    before = "assertion.repository in ['bookwise/pricing', 'bookwise/reporting'] && assertion.environment == 'prod'"
    after = "assertion.repository in ['bookwise/pricing', 'bookwise/reporting', 'bookwise/search'] && " + (
        "assertion.environment == 'prod'"
    )
    assert lines({"attributeCondition": before}, {"attributeCondition": after}) == [
        "~ attributeCondition: \"…'bookwise/reporting'] && assertion.envir…\" → "
        "\"…'bookwise/reporting', 'bookwise/search'] && assertion.envir…\""
    ]
