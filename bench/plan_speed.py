"""How long the offline plan takes as the fleet grows.

Prints figures; asserts nothing. Synthetic fleets reuse the real catalog's
services as templates (renamed, with dependencies on earlier services), so
every platform type and feature stays represented at each size.

    make bench            # or: .venv/bin/python bench/plan_speed.py --sizes 24 100 200
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
warnings.filterwarnings("ignore", category=DeprecationWarning)

from components.model.catalog import parse_catalog  # noqa: E402
from offline_plan.runner import run_plan  # noqa: E402


def synthetic_catalog(size: int) -> dict:
    base = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())["services"]
    services = []
    for index in range(size):
        service = copy.deepcopy(base[index % len(base)])
        name = f"svc{index:03d}-{service['name']}"[:28].rstrip("-")
        service["name"] = name
        service["repository"] = f"bookwise/{name}"
        # Each replica deploys its own workload: the catalog refuses two services naming the same one.
        aws = service["aws"]
        for key in ("service", "function", "instance_role", "task_role", "execution_role"):
            if key in aws:
                aws[key] = f"{name}-{key.replace('_', '-')}"
        for key in ("target_groups", "autoscaling_groups"):
            if key in aws:
                aws[key] = [f"{name}-{index}" for index, _ in enumerate(aws[key])]
        service["depends_on"] = [services[j]["name"] for j in range(max(0, index - 3), index) if (index + j) % 2 == 0]
        service.pop("environments", None)
        services.append(service)
    return {"services": services}


def measure(stack: str, catalog: Path | None, repeats: int) -> tuple[float, float, int]:
    seconds = []
    resources = 0
    for _ in range(repeats):
        started = time.perf_counter()
        plan = run_plan(PROJECT_DIR, stack, str(catalog) if catalog else None)
        seconds.append(time.perf_counter() - started)
        resources = sum(1 for r in plan.resources if r.custom)
    return statistics.median(seconds), min(seconds), resources


def row(label: str, services: int, figures: tuple[float, float, int]) -> None:
    median, fastest, resources = figures
    per_resource = 1000 * median / resources
    print(f"{label:<28} {services:>8} {resources:>9} {median:>9.2f} {fastest:>7.2f} {per_resource:>11.2f}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="*", type=int, default=[50, 100, 200])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"{'catalog':<28} {'services':>8} {'resources':>9} {'median s':>9} {'min s':>7} {'ms/resource':>11}")
    repository = yaml.safe_load((PROJECT_DIR / "catalog" / "services.yaml").read_text())
    row("repository (dev)", len(repository["services"]), measure("dev", None, args.repeats))
    with tempfile.TemporaryDirectory() as scratch:
        for size in args.sizes:
            raw = synthetic_catalog(size)
            started = time.perf_counter()
            parse_catalog(raw, "synthetic")
            validation_ms = 1000 * (time.perf_counter() - started)
            path = Path(scratch) / f"services-{size}.yaml"
            path.write_text(yaml.safe_dump(raw))
            row(f"synthetic ({validation_ms:.0f} ms validation)", size, measure("dev", path, args.repeats))


if __name__ == "__main__":
    main()
