"""Helpers shared by the benchmark scripts (not part of the package)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def arguments(doc: str, *options: tuple[tuple, dict]) -> argparse.Namespace:
    """The script's command line: ``--help`` prints its docstring instead of starting the benchmark."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for names, kwargs in options:
        parser.add_argument(*names, **kwargs)
    return parser.parse_args()


def shared(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        sys.exit(f"{p} is absent: this benchmark reads ../shared")
    return p
