"""Errors a user can act on. The CLI prints them as one line and exits with code 2."""
from __future__ import annotations


class PyfacsError(Exception):
    """Base class: the message says what was wrong and how to fix it."""


class InputError(PyfacsError):
    """The input (file, folder, option value) cannot be used as given."""


class ModelUnavailableError(PyfacsError):
    """A model's files cannot be found, fetched or verified."""


class MissingExtraError(PyfacsError):
    """An optional dependency is not installed; the message names the extra."""


def require_extra(module: str, extra: str):
    """Import an optional dependency or fail naming the pip extra that provides it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module} is needed for this; install it with: pip install 'pyfacs[{extra}]'"
        ) from exc
