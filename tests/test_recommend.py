"""The recommendation function: monotone the safe way, linked rules for any input, rounding on the safe side."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.config import load_policy
from oracle.domain.params import linked_rules_hold
from oracle.policy.calibrate import load_calibration
from oracle.policy.features import FEATURE_NAMES, AssetFeatures, tail_quantile
from oracle.policy.recommend import MarketConstants, recommend, recommend_matrix, to_params

POLICY = load_policy()
COEF = load_calibration(POLICY).coefficients
CONST = MarketConstants.from_policy(POLICY.risk, POLICY.market.close_factor_bps)
COL = {n: i for i, n in enumerate(FEATURE_NAMES)}

features = st.builds(
    AssetFeatures,
    sigma_1d=st.floats(0, 0.6),
    tail_q99=st.floats(tail_quantile(None), 8),
    regime=st.sampled_from([0.0, 0.5, 1.0]),
    staleness_h=st.floats(0, 48),
    liq_density_10=st.floats(0, 1),
    top10_share=st.floats(0, 1),
    depth_ratio=st.floats(0, 20),
    utilisation=st.floats(0, 1.2),
    gas_share=st.floats(0, 0.5),
)


@settings(max_examples=400, deadline=None)
@given(features)
def test_linked_rules_hold_for_any_input(f: AssetFeatures) -> None:
    raw, params = recommend(f, COEF, CONST)
    assert np.isfinite(raw).all()
    assert linked_rules_hold(params)
    assert params.liquidation_threshold >= POLICY.risk.lt_floor_bps
    assert POLICY.risk.lb_floor_bps <= params.liquidation_bonus <= POLICY.risk.lb_cap_bps
    # the integer parameters are never riskier than the raw ones
    assert params.ltv <= raw[0] + 1e-6 and params.liquidation_threshold <= raw[1] + 1e-6
    assert params.liquidation_bonus >= raw[2] - 1e-6


def _worse(f: AssetFeatures, name: str, factor: float) -> tuple[np.ndarray, np.ndarray]:
    x = f.vector()
    y = x.copy()
    y[COL[name]] = y[COL[name]] * factor + (0.01 if name != "regime" else 0.5)
    if name == "regime":
        y[COL[name]] = min(1.0, x[COL[name]] + 0.5)
    return recommend_matrix(x, COEF, CONST)[0], recommend_matrix(y, COEF, CONST)[0]


@settings(max_examples=300, deadline=None)
@given(features, st.floats(1.0, 3.0))
def test_more_volatility_never_raises_ltv_or_lt(f: AssetFeatures, factor: float) -> None:
    for name in ("sigma_1d", "tail_q99", "regime", "staleness_h"):
        before, after = _worse(f, name, factor)
        assert after[0] <= before[0] + 1e-9, name
        assert after[1] <= before[1] + 1e-9, name


@settings(max_examples=300, deadline=None)
@given(features, st.floats(1.0, 5.0))
def test_thinner_liquidity_never_lowers_lb_or_raises_lt(f: AssetFeatures, factor: float) -> None:
    before, after = _worse(f, "depth_ratio", factor)
    assert after[2] >= before[2] - 1e-9
    assert after[1] <= before[1] + 1e-9
    assert after[0] <= before[0] + 1e-9
    for name in ("liq_density_10", "top10_share", "gas_share", "utilisation"):
        before, after = _worse(f, name, factor)
        assert after[0] <= before[0] + 1e-9 and after[1] <= before[1] + 1e-9 and after[2] >= before[2] - 1e-9, name


def test_rounding_is_on_the_safe_side() -> None:
    p = to_params(np.array([7000.9, 8000.2, 500.1]))
    assert (p.ltv, p.liquidation_threshold, p.liquidation_bonus) == (7000, 8000, 501)


def test_calm_deep_market_is_looser_than_a_stressed_thin_one() -> None:
    calm = AssetFeatures(
        sigma_1d=0.02,
        tail_q99=2.6,
        regime=0,
        staleness_h=0.1,
        liq_density_10=0.02,
        top10_share=0.2,
        depth_ratio=0.02,
        utilisation=0.5,
        gas_share=0.001,
    )
    stressed = calm.model_copy(update={"sigma_1d": 0.09, "regime": 1.0, "depth_ratio": 0.3, "liq_density_10": 0.3})
    _, loose = recommend(calm, COEF, CONST)
    _, tight = recommend(stressed, COEF, CONST)
    assert tight.ltv < loose.ltv - 1000 and tight.liquidation_threshold < loose.liquidation_threshold - 500
    assert tight.liquidation_bonus > loose.liquidation_bonus
