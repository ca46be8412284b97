"""What the Coordination component packages: each handler with the shared ledger code, stdlib and boto3 only."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from components.coordination.coordination import FUNCTIONS_DIR, function_code

ALLOWED = set(sys.stdlib_module_names) | {"boto3", "botocore", "deploy_ledger"}


@pytest.mark.parametrize("function", ["coordinator", "deploy_gate"])
def test_each_archive_holds_its_handler_and_the_shared_ledger_package(function):
    assets = function_code(function).assets
    shared = {f"deploy_ledger/{path.name}" for path in (FUNCTIONS_DIR / "deploy_ledger").glob("*.py")}
    assert set(assets) == {"handler.py", *shared}
    assert assets["handler.py"].path.endswith(f"functions/{function}/handler.py")


@pytest.mark.parametrize(
    "source",
    sorted(
        [
            *(FUNCTIONS_DIR / "deploy_ledger").glob("*.py"),
            FUNCTIONS_DIR / "coordinator" / "handler.py",
            FUNCTIONS_DIR / "deploy_gate" / "handler.py",
        ]
    ),
    ids=lambda path: f"{Path(path).parent.name}/{Path(path).name}",
)
def test_lambda_code_imports_only_the_standard_library_boto3_and_the_shared_package(source):
    tree = ast.parse(Path(source).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert imported <= ALLOWED, imported - ALLOWED
