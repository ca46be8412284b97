"""What a shard worker process looks like from inside (``test_lean_run``): imported by spawned processes."""

from __future__ import annotations

import gc
from pathlib import Path


class _TornDown:
    """Writes ``path`` when the interpreter tears its module down (never, if the process skips teardown)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __del__(self) -> None:
        self.path.write_text("torn down")


_kept: list[_TornDown] = []


def collector_enabled_and_watch_teardown(marker: str) -> bool:
    """Whether the worker collects cycles; ``marker`` is written if its interpreter is later torn down."""
    _kept.append(_TornDown(Path(marker)))
    return gc.isenabled()
