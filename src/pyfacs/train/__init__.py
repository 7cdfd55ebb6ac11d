"""Training: typed configs → run directories (config, metrics.json, checkpoints, provenance).
Needs the ``train`` extra."""
