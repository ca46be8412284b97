"""``make test`` runs ``--dist loadgroup``: the tests of one ``xdist_group`` must land on one worker.

The groups exist so an expensive module or session fixture runs once (``tests/test_sharded_fleet.py``, the
release-day simulation, ``make plan``'s own tests). pytest 9.2 with pytest-xdist 3.8 dropped the groups
without a word (pytest-xdist issue #1386); ``tests/conftest.py`` puts them back, and this run of a tiny
suite under two workers says so.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

GROUPED = """
import pytest

pytestmark = pytest.mark.xdist_group("together")


@pytest.mark.parametrize("case", range(6))
def test_grouped(case):
    pass
"""

LOOSE = """
import pytest


@pytest.mark.parametrize("case", range(6))
def test_loose(case):
    pass
"""


@pytest.mark.skipif(sys.platform == "win32", reason="forks workers")
def test_the_tests_of_a_group_run_on_one_worker_under_loadgroup(tmp_path: Path):
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_loose.py").write_text(LOOSE)
    environment = {**os.environ, "PYTHONPATH": str(PROJECT_DIR)}
    command = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadgroup", "-v", "-p", "no:cacheprovider"]
    command += ["-p", "tests.conftest"]  # the suite's own hooks, as they run under `make test`
    result = subprocess.run(command, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    ran = re.findall(r"\[(gw\d)\] \[ *\d+%\] PASSED (\S+)", result.stdout)
    grouped = {worker for worker, test in ran if test.startswith("test_grouped.py")}
    assert len([test for _, test in ran if test.startswith("test_grouped.py")]) == 6, result.stdout
    assert len(grouped) == 1, f"the group ran on {sorted(grouped)}:\n{result.stdout}"
    assert all(test.endswith("@together") for _, test in ran if test.startswith("test_grouped.py")), result.stdout
