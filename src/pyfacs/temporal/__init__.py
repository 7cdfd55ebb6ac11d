"""Per-person state over time: smoothing, calibration, the AU sequence model."""
