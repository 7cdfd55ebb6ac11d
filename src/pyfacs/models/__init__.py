"""Model registry (names, pinned files), weight hub (cache, mirror, verify) and runtimes."""
from pyfacs.models.registry import ModelFile, ModelSpec, get_model, list_models

__all__ = ["ModelFile", "ModelSpec", "get_model", "list_models"]
