"""Write ``catalog/services.schema.json`` from the catalog model (``make schema``).

The schema is generated, never edited: a test fails when it no longer
matches the model, so editors never validate against a stale contract.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .catalog import catalog_json_schema


def render_schema() -> str:
    return json.dumps(catalog_json_schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "catalog/services.schema.json")
    target.write_text(render_schema(), encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
