"""The pack's copy of the pinned image buildspec's hash stays the hash of the program's file.

The pack never imports the program, so ``PINNED_IMAGE_BUILDS`` in ``policies/rules/codebuild.py``
is a deliberate copy, like ``BOOTSTRAP_ACTIONS`` of ``bootstrap/permissions.py``. Editing the
buildspec without the copy would make every container service's image build a mandatory finding;
editing the copy alone would let the old text run privileged.
"""

from __future__ import annotations

import hashlib
import re

import yaml

from components.aws.service_pipeline import IMAGE_BUILD_BUILDSPEC
from policies.rules.codebuild import PINNED_IMAGE_BUILDS, pinned_variables

SET_BY_CODEBUILD = {"AWS_REGION"}
"""CodeBuild's own build environment variables (CodeBuild user guide, "Environment variables in build environments")."""


def variables_read(buildspec: str) -> set[str]:
    """Upper-case variables the buildspec's commands expand (``$NAME``, ``${NAME}``, ``${NAME:?}``, ``${NAME%%…}``)."""
    spec = yaml.safe_load(buildspec)
    commands = "\n".join(command for phase in spec["phases"].values() for command in phase.get("commands", []))
    return set(re.findall(r"\$\{?([A-Z][A-Z0-9_]*)", commands))


def test_the_pack_knows_the_programs_image_buildspec_by_its_hash():
    digest = hashlib.sha256(IMAGE_BUILD_BUILDSPEC.encode("utf-8")).hexdigest()
    assert list(PINNED_IMAGE_BUILDS) == [digest], (
        "components/aws/buildspecs/image_build.yml changed: put its new SHA-256 in PINNED_IMAGE_BUILDS "
        f"(policies/rules/codebuild.py): {digest}"
    )


def test_the_pack_lets_through_exactly_the_variables_the_buildspec_reads():
    assert pinned_variables(IMAGE_BUILD_BUILDSPEC) == variables_read(IMAGE_BUILD_BUILDSPEC) - SET_BY_CODEBUILD
    assert pinned_variables(IMAGE_BUILD_BUILDSPEC) == {"IMAGE_REPOSITORY_URI", "IMAGE_TAG"}


def test_any_other_text_is_not_the_pinned_build():
    assert pinned_variables(IMAGE_BUILD_BUILDSPEC + "\n") is None
    assert pinned_variables(IMAGE_BUILD_BUILDSPEC.replace("--pull ", "")) is None
    assert pinned_variables("buildspec.yml") is None
