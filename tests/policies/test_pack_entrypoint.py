"""The pack as `pulumi preview --policy-pack policies` loads it: from inside policies/, every rule registered."""

from __future__ import annotations

import json
import subprocess
import sys

from policies.rules import RESOURCE_RULES, STACK_RULES
from tests.conftest import PROJECT_DIR

# PolicyPack() would start the policy server and block; the stand-in records what the pack hands it.
LOAD_PACK = """
import json, runpy, pulumi_policy
seen = {}
pulumi_policy.PolicyPack = lambda **kwargs: seen.update(kwargs)
runpy.run_path("__main__.py", run_name="__main__")
print(json.dumps({"name": seen["name"], "policies": [p.name for p in seen["policies"]]}))
"""


def test_pack_entrypoint_registers_every_rule_from_its_own_directory():
    result = subprocess.run(
        [sys.executable, "-c", LOAD_PACK],
        cwd=PROJECT_DIR / "policies",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    pack = json.loads(result.stdout)
    assert pack["name"] == "cicd-platform"
    assert sorted(pack["policies"]) == sorted(rule.name for rule in (*RESOURCE_RULES, *STACK_RULES))
