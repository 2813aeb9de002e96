"""The risk gate blocks dangerous updates and lets safe ones through, on common random numbers."""

from __future__ import annotations

import numpy as np

from oracle.config import load_policy
from oracle.domain.params import RiskParams
from oracle.risk.cascade import CascadeMarket, sample_shocks
from oracle.risk.gate import liquidatable_share, risk_gate

APPETITE = load_policy().risk


def _market() -> CascadeMarket:
    rng = np.random.default_rng(11)
    n = 600
    coll = rng.lognormal(np.log(2e4), 1.0, (n, 1))
    hf = np.where(rng.random(n) < 0.3, rng.uniform(1.01, 1.06, n), rng.uniform(1.2, 2.5, n))
    return CascadeMarket(coll, coll[:, 0] * 0.8 / hf, np.array([coll.sum() * 3]), 5.0, 0.5)


CURRENT = RiskParams(ltv=7500, liquidation_threshold=8000, liquidation_bonus=500)
SHOCKS = sample_shocks(np.array([0.06]), np.array([4.0]), np.eye(1), paths=1000, steps=24, seed=5)


def test_lt_cut_that_liquidates_many_at_once_is_gated() -> None:
    market = _market()
    cut = RiskParams(ltv=7000, liquidation_threshold=7700, liquidation_bonus=500)
    assert liquidatable_share(market, [cut]) > APPETITE.max_liquidated_at_once_share
    decision = risk_gate(market, SHOCKS, ["X"], [CURRENT], {"X": cut}, APPETITE)["X"]
    assert not decision.passed and "liquidatable at once" in decision.reason


def test_loosening_into_bad_debt_is_gated() -> None:
    market = _market()
    # LT 93 % with a 7 % bonus leaves 0.5 % of buffer: gaps and the cascade turn into bad debt
    loose = RiskParams(ltv=9000, liquidation_threshold=9300, liquidation_bonus=700)
    decision = risk_gate(market, SHOCKS, ["X"], [CURRENT], {"X": loose}, APPETITE)["X"]
    assert decision.proposed.es99_share > APPETITE.es99_max_share
    assert decision.proposed.bad_debt_es99_usd > decision.current.bad_debt_es99_usd
    assert not decision.passed and "ES99" in decision.reason


def test_a_small_safe_step_passes() -> None:
    market = _market()
    safer = RiskParams(ltv=7400, liquidation_threshold=7990, liquidation_bonus=550)
    decision = risk_gate(market, SHOCKS, ["X"], [CURRENT], {"X": safer}, APPETITE)["X"]
    assert decision.passed and decision.reason == ""
    assert decision.proposed.bad_debt_es99_usd <= decision.current.bad_debt_es99_usd + 1e-6
