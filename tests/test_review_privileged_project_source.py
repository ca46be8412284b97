"""Review: codebuild-no-privileged accepts a privileged project that is not the platform's image build.

The rule says it allows privileged mode "by what a project is": the pinned buildspec, the variables it reads,
no Docker state, a role that pushes to one repository, and only a pipeline's role may start it. It never looks
at where the build's input comes from or what runs the build:

- ``source.type: GITHUB`` with a repository location (and a ``codebuild.Webhook``): CodeBuild starts builds
  itself on pushes and pull requests, so no IAM principal ``StartBuild``s it and the "who may start it" check
  has nothing to find; the pinned spec then runs ``docker build`` privileged on whatever that repository (or a
  pull request to it) holds, and pushes the result with the role's credentials (CodeBuild User Guide,
  "GitHub webhook events");
- ``environment.image`` of anyone's choosing: the build container itself (not only the Dockerfile) is then
  arbitrary code with every device of the host (CodeBuild API Reference, ``ProjectEnvironment.privilegedMode``).

The platform's image build has ``source.type: CODEPIPELINE`` and a CodeBuild-managed image; the rule should
require both. Cases run through the pack's real CrossGuard adapter (``policies.testing``).
"""

from __future__ import annotations

import pytest

from policies.rules.codebuild import CODEBUILD_NO_PRIVILEGED
from policies.testing import Resource, check

from .policies.test_codebuild_rules import IMAGE_BUILDSPEC, image_build, image_build_stack

UNREVIEWED_SOURCE = {
    "type": "GITHUB",
    "location": "https://github.com/bookwise/booking.git",
    "buildspec": IMAGE_BUILDSPEC,
}
WEBHOOK = Resource(
    "aws:codebuild/webhook:Webhook",
    {
        "projectName": "booking-image-build",
        "filterGroups": [{"filters": [{"type": "EVENT", "pattern": "PULL_REQUEST_CREATED"}]}],
    },
    "booking-image-build-webhook",
)


def changed(**props) -> Resource:
    """The platform's image build of booking with some props replaced."""
    build = image_build(variables={"IMAGE_TAG": "webhook"})  # the one other variable the pinned spec reads
    return Resource(build.type, {**build.props, **props}, build.name)


def messages(*resources):
    reports = check(CODEBUILD_NO_PRIVILEGED, *resources)
    assert not reports.skipped, reports.items
    return reports.messages


def test_control_the_platforms_image_build_is_quiet():
    assert messages(*image_build_stack()) == []


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(changed(source=UNREVIEWED_SOURCE), id="pinned-spec-on-a-github-source-with-a-webhook"),
        pytest.param(
            changed(
                environment={
                    **image_build().props["environment"],
                    "image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/anything:latest",
                    "imagePullCredentialsType": "SERVICE_ROLE",
                }
            ),
            id="pinned-spec-in-a-build-image-of-anyones-choosing",
        ),
    ],
)
def test_a_privileged_project_that_is_not_the_platforms_image_build_is_reported(build):
    assert messages(*image_build_stack(build=build, extra=(WEBHOOK,))) != []
