"""Volatility forecasting: baselines (EWMA, GARCH-t, HAR), the torch model, walk-forward evaluation."""
