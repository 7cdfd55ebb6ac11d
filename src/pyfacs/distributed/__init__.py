"""Work beyond one process: corpus processing (local processes or Ray)."""
