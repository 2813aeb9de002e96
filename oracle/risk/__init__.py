"""Risk engine: liquidation-cascade simulation and the risk metrics computed from it."""
