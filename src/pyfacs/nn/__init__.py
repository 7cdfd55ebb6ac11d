"""Network building blocks written here (torchvision does not run beside the project's torch).
Needs the ``train`` extra: ``pip install 'pyfacs[train]'``."""
