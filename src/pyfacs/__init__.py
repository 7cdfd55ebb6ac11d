"""pyfacs: facial action units, expressions, landmarks and head pose from images and videos.

Public surface: :func:`analyze`, :class:`Analyzer`, :class:`FaceTable`, :func:`list_models`.
Nothing heavy is imported until it is used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Analyzer", "FaceTable", "analyze", "list_models", "__version__"]

if TYPE_CHECKING:
    from pyfacs.models.registry import list_models
    from pyfacs.pipeline import Analyzer, analyze
    from pyfacs.table import FaceTable


def __getattr__(name: str):
    if name in ("Analyzer", "analyze"):
        from pyfacs import pipeline

        return getattr(pipeline, name)
    if name == "FaceTable":
        from pyfacs.table import FaceTable

        return FaceTable
    if name == "list_models":
        from pyfacs.models.registry import list_models

        return list_models
    raise AttributeError(f"module 'pyfacs' has no attribute {name!r}")
