"""Dataset formats (one module each), subject-independent folds."""
