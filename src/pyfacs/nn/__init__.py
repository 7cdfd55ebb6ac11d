"""Network building blocks written here (torchvision does not run beside the project's torch).
Needs the ``train`` extra: ``pip install 'pyfacs[train]'``."""


def check_sizes(owner: str, minimum: int = 1, **sizes: int) -> None:
    """Each size a whole number of at least ``minimum``, else a ValueError naming it (torch would fail
    later, deep in a layer, or build zero-size layers without a word)."""
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{owner}: {name} must be a whole number of at least {minimum}, not {value!r}")
