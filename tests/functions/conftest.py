"""Load Lambda handlers the way Lambda does: the package folder on the path, ``handler`` as the entry module.

Both packages vendor ``slack_client`` and ``delivery_ledger`` from
``functions/slack_notifier``, so that folder is on the path for every test here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"
SHARED_DIR = FUNCTIONS_DIR / "slack_notifier"
REGION = "eu-west-1"
ACCOUNT = "123456789012"

if str(SHARED_DIR) not in sys.path:
    sys.path.insert(0, str(SHARED_DIR))


def load_handler(package: str) -> ModuleType:
    name = f"{package}_handler"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, FUNCTIONS_DIR / package / "handler.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch):
    """Fake credentials and a region, so no test can reach a real account."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)


def create_ledger_table(dynamodb, name: str = "ledger") -> str:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
