"""The recommendation: a pure, deterministic function ``features -> (LTV, LT, LB)`` in basis points.

Shape (fractions; σ is the forecast's one-day standard deviation):

- stressed volatility ``σs = σ x (1 + regime_weight x regime)``, over the horizon plus the feed's staleness;
- **LB** pays the liquidator: ``margin + gas share + slippage of a top-10 holder's liquidation at the pool's depth
  + k_lb x 99 % move over its execution window``;
- **LT** leaves, above a liquidation at HF 1, room for the stressed move and the cascade:
  ``LT = (1 - move - cascade) / (1 + LB)`` with ``move = 1 - exp(-k_lt x q99 x σs x sqrt(h))`` and ``cascade`` the
  price impact of selling the close factor of the collateral liquidatable after a 10 % fall;
- **LTV** sits below LT by ``exp(-k_ltv x q99 x σs x sqrt(h))``, lowered further when utilisation is above its kink.

Every term moves the parameters the safe way as its feature worsens (more volatility, heavier tails, stress,
staleness, thinner depth, more density or concentration, dearer gas), and clipping keeps that monotonicity; the
linked rules hold for any input by construction, after rounding too (LTV and LT rounded down, LB up).

Why this form and not a learned one: it has to be explained exactly to a DAO in basis points (SHAP over nine
features is exact), and its two free coefficients are *calibrated* against the cascade simulator
(:mod:`oracle.policy.calibrate`) to the policy's risk appetite, so every number traces to a stated tolerance.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from oracle.domain.appetite import RiskAppetite
from oracle.domain.params import BPS, RiskParams
from oracle.policy.features import FEATURE_NAMES, FEATURE_NAMES_V2, AssetFeatures

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}
_COL_V2 = {name: i for i, name in enumerate(FEATURE_NAMES_V2)}
FORMS = (1, 2)


class Coefficients(BaseModel):
    """The function's coefficients: ``k_lt`` and ``k_ltv`` calibrated, the others set by the policy's authors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    k_lt: float = Field(ge=0, description="99 % horizon moves the LT buffer absorbs (calibrated)")
    k_ltv: float = Field(ge=0, description="99 % horizon moves between LTV and LT (calibrated)")
    k_lb: float = Field(default=1.0, ge=0, description="99 % moves over the execution window paid to liquidators")
    exec_h: float = Field(default=1.0, gt=0, description="a liquidator's execution window, hours")
    regime_weight: float = Field(default=0.25, ge=0, description="volatility mark-up in the stressed regime")
    util_kink: float = Field(default=0.80, ge=0, le=1)
    util_slope: float = Field(default=0.50, ge=0, description="LTV cut per unit of utilisation above the kink")


class MarketConstants(BaseModel):
    """What the function needs besides features and coefficients: the policy's limits and the close factor."""

    model_config = ConfigDict(frozen=True)

    horizon_days: float
    close_factor: float
    lb_margin: float
    lt_floor: float
    lt_cap: float
    lb_floor: float
    lb_cap: float
    ltv_gap_min: float
    linked_margin: float
    # form 2 (the realistic simulator and the worst admissible book); unused by form 1
    form: int = 1
    capacity_share: float = math.inf
    chunk_bonus_share: float = math.inf
    depth_beta: float = 0.0
    depth_sigma_ref: float = 0.04
    impact_half_life_h: float = math.inf
    feed_deviation: float = 0.0
    edge_top_share: float = 0.0
    rounds_per_step: int = 3
    step_h: float = 1.0

    @classmethod
    def from_policy(cls, appetite: RiskAppetite, close_factor_bps: int, form: int = 1) -> MarketConstants:
        if form not in FORMS:
            raise ValueError(f"recommendation form {form} is not one of {FORMS}")
        extra: dict[str, float | int] = {}
        if form == 2:
            behaviour, edge = appetite.liquidators, appetite.edge_book
            if behaviour is None or edge is None:
                raise ValueError("recommendation form 2 needs [risk.liquidators] and [risk.edge_book] in the policy")
            extra = {
                "form": 2,
                "capacity_share": behaviour.capacity_share * appetite.horizon_h / appetite.steps,  # per step
                "chunk_bonus_share": behaviour.chunk_limit,
                "depth_beta": behaviour.depth_beta,
                "depth_sigma_ref": behaviour.depth_sigma_ref,
                "impact_half_life_h": behaviour.impact_half_life_h,
                "feed_deviation": max(behaviour.feed_deviation.values(), default=0.0),
                "edge_top_share": edge.top_holder_share,
                "step_h": appetite.horizon_h / appetite.steps,
            }
        return cls(
            horizon_days=appetite.horizon_days,
            close_factor=close_factor_bps / BPS,
            lb_margin=appetite.lb_margin_bps / BPS,
            lt_floor=appetite.lt_floor_bps / BPS,
            lt_cap=appetite.lt_cap_bps / BPS,
            lb_floor=appetite.lb_floor_bps / BPS,
            lb_cap=appetite.lb_cap_bps / BPS,
            ltv_gap_min=appetite.ltv_gap_min_bps / BPS,
            linked_margin=appetite.linked_margin_bps / BPS,
            **extra,
        )


def _impact(sold_over_depth: np.ndarray) -> np.ndarray:
    """Price fall after selling this share of a constant-product pool's depth."""
    return 1 - 1 / (1 + sold_over_depth) ** 2


def recommend_matrix(x: np.ndarray, coef: Coefficients, const: MarketConstants) -> np.ndarray:
    """Raw recommendation in basis points (floats), one row ``(LTV, LT, LB)`` per row of features ``x``
    (columns in ``feature_names(const.form)`` order). Vectorised: SHAP evaluates it on thousands of rows."""
    if const.form == 2:
        return _recommend_v2(x, coef, const)
    x = np.atleast_2d(np.asarray(x, dtype=float))
    col = {name: x[:, i] for name, i in _COL.items()}
    sigma = col["sigma_1d"] * (1 + coef.regime_weight * col["regime"])
    q99 = col["tail_q99"]
    h = const.horizon_days + col["staleness_h"] / 24
    depth = col["depth_ratio"] * const.close_factor
    slip = _impact(depth * col["top10_share"] / 10)
    price_risk = 1 - np.exp(-coef.k_lb * q99 * sigma * math.sqrt(coef.exec_h / 24))
    lb = np.clip(const.lb_margin + col["gas_share"] + slip + price_risk, const.lb_floor, const.lb_cap)
    move = 1 - np.exp(-coef.k_lt * q99 * sigma * np.sqrt(h))
    cascade = _impact(depth * col["liq_density_10"])
    lt_max = np.minimum(const.lt_cap, (1 - const.linked_margin) / (1 + lb))
    lt = np.clip((1 - move - cascade) / (1 + lb), const.lt_floor, lt_max)
    crowding = coef.util_slope * np.maximum(col["utilisation"] - coef.util_kink, 0)
    ltv = np.clip(lt * np.exp(-coef.k_ltv * q99 * sigma * np.sqrt(h)) - crowding, 0, lt - const.ltv_gap_min)
    return np.column_stack([ltv, lt, lb]) * BPS


def effective_depth_ratio(depth_ratio: np.ndarray, sigma: np.ndarray, const: MarketConstants) -> np.ndarray:
    """Collateral / pool depth at the stressed volatility: the pool shrinks as ``(sigma_ref / sigma)^beta`` above
    its reference volatility (the simulator's ``effective_depth``)."""
    return depth_ratio * np.maximum(1.0, sigma / const.depth_sigma_ref) ** const.depth_beta


def unwind_hours(dr: np.ndarray, top: np.ndarray, const: MarketConstants) -> np.ndarray:
    """Hours liquidators need to sell the edge book's close factor: the whole book at their capacity per step, or
    the largest holder in profitable chunks (``chunk_bonus_share`` of the smallest bonus of the pool, one per round),
    whichever is longer, and at least one step."""
    book = const.close_factor * dr / const.capacity_share
    whale = const.close_factor * top * dr / (const.chunk_bonus_share * const.lb_floor * const.rounds_per_step)
    return const.step_h * np.maximum(1.0, np.maximum(book, whale))


def overhang(const: MarketConstants) -> float:
    """Most of a pool's depth that liquidations can hold sold at once: selling at the liquidators' capacity while
    arbitrage buys back with the impact half-life settles at ``capacity x half-life / ln 2`` (inf when either is)."""
    return const.capacity_share / const.step_h * const.impact_half_life_h / math.log(2)


def _recommend_v2(x: np.ndarray, coef: Coefficients, const: MarketConstants) -> np.ndarray:
    """Form 2: LT safe on the worst admissible book (``[risk.edge_book]``), with the realistic liquidators.

    - ``dr`` = collateral / depth at the stressed volatility (depth shrinks in a crash);
    - the edge book's concentration is the larger of today's largest holder and the configured one (today's book
      may tighten the result, never loosen it), and every position is at the edge: the cascade term is the impact
      of selling the close factor of *all* the collateral, whatever today's density, or of the overhang the pool
      settles at while liquidators sell at their capacity and arbitrage buys back (``overhang``), if smaller;
    - the LT buffer absorbs the 99 % move over the time liquidators need to unwind that book (``unwind_hours``)
      plus the feed's staleness, the feed's deviation threshold (liquidations trigger on the feed) and the cascade;
    - LB pays the liquidator's margin, gas and the price risk of its execution window (a profitable chunk's
      slippage stays within the bonus by construction); LTV as in form 1.
    """
    x = np.atleast_2d(np.asarray(x, dtype=float))
    col = {name: x[:, i] for name, i in _COL_V2.items()}
    sigma = col["sigma_1d"] * (1 + coef.regime_weight * col["regime"])
    q99 = col["tail_q99"]
    dr = effective_depth_ratio(col["depth_ratio"], sigma, const)
    top = np.maximum(col["top1_share"], const.edge_top_share)
    price_risk = 1 - np.exp(-coef.k_lb * q99 * sigma * math.sqrt(coef.exec_h / 24))
    lb = np.clip(const.lb_margin + col["gas_share"] + price_risk, const.lb_floor, const.lb_cap)
    exposure_days = (unwind_hours(dr, top, const) + col["staleness_h"]) / 24
    move = 1 - np.exp(-coef.k_lt * q99 * sigma * np.sqrt(exposure_days))
    cascade = _impact(np.minimum(dr * const.close_factor, overhang(const)))
    lt_max = np.minimum(const.lt_cap, (1 - const.linked_margin) / (1 + lb))
    lt = np.clip((1 - move - cascade - const.feed_deviation) / (1 + lb), const.lt_floor, lt_max)
    h = const.horizon_days + col["staleness_h"] / 24
    crowding = coef.util_slope * np.maximum(col["utilisation"] - coef.util_kink, 0)
    ltv = np.clip(lt * np.exp(-coef.k_ltv * q99 * sigma * np.sqrt(h)) - crowding, 0, lt - const.ltv_gap_min)
    return np.column_stack([ltv, lt, lb]) * BPS


def to_params(raw_bps: np.ndarray) -> RiskParams:
    """Integer parameters from one raw row: LTV and LT rounded down, LB up (each the safe side)."""
    ltv, lt, lb = (float(v) for v in raw_bps)
    return RiskParams(
        ltv=max(0, math.floor(ltv + 1e-9)),
        liquidation_threshold=math.floor(lt + 1e-9),
        liquidation_bonus=min(BPS, math.ceil(lb - 1e-9)),
    )


def recommend(features: AssetFeatures, coef: Coefficients, const: MarketConstants) -> tuple[np.ndarray, RiskParams]:
    """Raw recommendation (bps floats, what SHAP explains) and its integer parameters for one asset."""
    raw = recommend_matrix(features.vector()[None, :], coef, const)[0]
    return raw, to_params(raw)
