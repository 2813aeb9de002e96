"""VaR and ES of bad debt against hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from oracle.risk.cascade import CascadeResult
from oracle.risk.metrics import expected_shortfall, risk_metrics, value_at_risk


def test_var_and_es_hand_computed() -> None:
    losses = np.arange(1, 101, dtype=float)  # 1 … 100
    assert value_at_risk(losses, 0.95) == 95
    assert value_at_risk(losses, 0.99) == 99
    assert expected_shortfall(losses, 0.95) == pytest.approx(np.mean([96, 97, 98, 99, 100]))
    assert expected_shortfall(losses, 0.99) == 100
    assert expected_shortfall(np.array([0.0, 0, 0, 7]), 0.99) == 7  # at least one path in the tail


def test_risk_metrics_summary() -> None:
    bad = np.zeros(200)
    bad[-2:] = [10.0, 30.0]
    result = CascadeResult(bad, np.linspace(0, 199, 200), np.ones(200), np.ones(200))
    m = risk_metrics(result, supplied_usd=10_000.0)
    assert m.bad_debt_es99_usd == 20.0 and m.bad_debt_var99_usd == 0 and m.bad_debt_var95_usd == 0  # 198 zeros
    assert m.es99_share == pytest.approx(0.002)
    assert m.liquidated_p99_usd == 197 and m.paths_with_bad_debt == 0.01
