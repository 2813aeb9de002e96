"""The recommendation function: monotone the safe way, linked rules for any input, rounding on the safe side."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.config import load_policy
from oracle.domain.params import linked_rules_hold
from oracle.policy.calibrate import load_calibration
from oracle.policy.features import FEATURE_NAMES, FEATURE_NAMES_V2, AssetFeatures, tail_quantile
from oracle.policy.recommend import MarketConstants, recommend, recommend_matrix, to_params

POLICY = load_policy()
COEF = load_calibration(POLICY).coefficients
CONST = MarketConstants.from_policy(POLICY.risk, POLICY.market.close_factor_bps)
COL = {n: i for i, n in enumerate(FEATURE_NAMES)}

FEATURE_RANGES = {
    "sigma_1d": st.floats(0, 0.6),
    "tail_q99": st.floats(tail_quantile(None), 8),
    "regime": st.sampled_from([0.0, 0.5, 1.0]),
    "staleness_h": st.floats(0, 48),
    "liq_density_10": st.floats(0, 1),
    "top10_share": st.floats(0, 1),
    "depth_ratio": st.floats(0, 20),
    "utilisation": st.floats(0, 1.2),
    "gas_share": st.floats(0, 0.5),
}
features = st.builds(AssetFeatures, **FEATURE_RANGES)


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


# --------------------------------------------------------------------------- form 2: the worst admissible book

CONST_V2 = MarketConstants.from_policy(POLICY.risk, POLICY.market.close_factor_bps, form=2)
COL_V2 = {n: i for i, n in enumerate(FEATURE_NAMES_V2)}
features_v2 = st.builds(AssetFeatures, **FEATURE_RANGES, top1_share=st.floats(0, 1))


def _worse_v2(f: AssetFeatures, name: str, factor: float) -> tuple[np.ndarray, np.ndarray]:
    x = f.vector()
    y = x.copy()
    if name == "regime":
        y[COL_V2[name]] = min(1.0, x[COL_V2[name]] + 0.5)
    elif name == "top1_share":
        y[COL_V2[name]] = min(1.0, x[COL_V2[name]] * factor + 0.01)
    else:
        y[COL_V2[name]] = y[COL_V2[name]] * factor + 0.01
    return recommend_matrix(x, COEF, CONST_V2)[0], recommend_matrix(y, COEF, CONST_V2)[0]


@settings(max_examples=400, deadline=None)
@given(features_v2)
def test_form_2_linked_rules_hold_for_any_input(f: AssetFeatures) -> None:
    assert f.names == FEATURE_NAMES_V2
    raw, params = recommend(f, COEF, CONST_V2)
    assert np.isfinite(raw).all()
    assert linked_rules_hold(params)
    assert params.liquidation_threshold >= POLICY.risk.lt_floor_bps


@settings(max_examples=300, deadline=None)
@given(features_v2, st.floats(1.0, 4.0))
def test_form_2_is_monotone_in_volatility_depth_concentration_and_gas(f: AssetFeatures, factor: float) -> None:
    """Every input worsening never loosens: LTV and LT never rise, LB never falls (depth and concentration
    included: the largest holder's share and collateral/depth)."""
    for name in FEATURE_NAMES_V2:
        before, after = _worse_v2(f, name, factor)
        assert after[0] <= before[0] + 1e-9, name
        assert after[1] <= before[1] + 1e-9, name
        if name not in ("utilisation",):
            assert after[2] >= before[2] - 1e-9, name


def test_form_2_today_density_cannot_loosen_and_depth_and_concentration_move_lt_materially() -> None:
    base = AssetFeatures(
        sigma_1d=0.05,
        tail_q99=2.8,
        regime=0.5,
        staleness_h=1.0,
        liq_density_10=0.0,
        top10_share=0.3,
        depth_ratio=0.05,
        utilisation=0.5,
        gas_share=0.001,
        top1_share=0.1,
    )
    lt = lambda f: recommend(f, COEF, CONST_V2)[1].liquidation_threshold  # noqa: E731
    # the density of today's book is not an input: the edge book is always at the edge
    assert (
        lt(base)
        == lt(base.model_copy(update={"liq_density_10": 0.0}))
        == lt(base.model_copy(update={"liq_density_10": 1.0}))
    )
    thin = lt(base.model_copy(update={"depth_ratio": 0.05 * 4}))
    deep = lt(base.model_copy(update={"depth_ratio": 0.05 / 4}))
    assert deep - thin >= 500  # 0.25x to 4x the depth: hundreds of bps, not the first version's 87
    # a large holder unwinds in profitable chunks, one per round: when the liquidators' capacity does not bind first,
    # its share sets the exposure time and so the LT
    fast = CONST_V2.model_copy(update={"capacity_share": 1.0})
    lt_fast = lambda f: to_params(recommend_matrix(f.vector(), COEF, fast)[0]).liquidation_threshold  # noqa: E731
    small, large = (lt_fast(base.model_copy(update={"top1_share": t, "depth_ratio": 0.4})) for t in (0.3, 0.9))
    assert small - large >= 100
