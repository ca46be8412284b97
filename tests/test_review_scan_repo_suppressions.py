"""Review: the platform's scans read the scanned repository's own scanner configuration, so a repository can
switch its mandatory scans off without the platform, Security Hub or a release manager seeing it.

Each scanner runs in the repository's checkout (``.``) without a config of the platform's own, and each
documents that it then loads one from the scanned directory:

- gitleaks: config precedence ``--config``, then ``GITLEAKS_CONFIG``, then ``<source>/.gitleaks.toml``
  (gitleaks v8.2.0 release notes, the scan pins 8.x); a ``.gitleaks.toml`` with an empty rule set finds nothing;
- Checkov: reads ``.checkov.yaml``/``.checkov.yml`` from the directory it runs on (Checkov docs,
  "CLI Command Reference" / configuration file), where ``skip-check`` or ``soft-fail-on`` silence checks;
- OSV-Scanner: loads ``osv-scanner.toml`` next to what it scans, whose ``[[IgnoredVulns]]`` drop findings,
  unless ``--config`` names another (OSV-Scanner docs, "Configuration");
- Semgrep: honours ``# nosemgrep`` comments unless run with ``--disable-nosem`` (Semgrep docs, "Ignore code").

The scan role, not the build, runs the scan "so it cannot change what it vets" (README, security model); the
repository it vets still can, from one committed file. The test reads the buildspec the scan project deploys.
"""

from __future__ import annotations

import re

import pytest

from components.governance import scans

BUILDSPEC = scans.SCAN_BUILDSPEC.read_text()


def invocation(tool: str) -> str:
    lines = [line for line in BUILDSPEC.splitlines() if re.search(rf"(^|[\s;(]){tool} ", line.strip() + " ")]
    commands = [line for line in lines if not line.strip().startswith("#")]
    assert commands, f"{tool} is not run by the scan buildspec"
    return " ".join(commands)


@pytest.mark.parametrize(
    ("tool", "platform_owned"),
    [
        ("gitleaks dir", ("--config", "-c ", "GITLEAKS_CONFIG=")),
        ("checkov", ("--config-file",)),
        ("osv-scanner scan", ("--config",)),
        ("semgrep scan", ("--disable-nosem",)),
    ],
)
def test_each_scanner_ignores_the_scanned_repositorys_own_suppressions(tool, platform_owned):
    command = invocation(tool)
    exported = " ".join(line for line in BUILDSPEC.splitlines() if "GITLEAKS_CONFIG" in line)
    assert any(flag in command or flag in exported for flag in platform_owned), (
        f"{tool} runs as `{command.strip()}`: a file committed to the repository decides what it reports"
    )
