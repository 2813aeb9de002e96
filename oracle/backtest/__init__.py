"""``risk-oracle backtest``: real history through the real contracts, every strategy side by side."""
