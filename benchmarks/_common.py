"""Helpers shared by the benchmark scripts (not part of the package)."""
from __future__ import annotations

import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        sys.exit(f"{p} is absent: this benchmark reads ../shared")
    return p
