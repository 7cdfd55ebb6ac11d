"""Expression heads: ESR ensembles (seed 003)."""
