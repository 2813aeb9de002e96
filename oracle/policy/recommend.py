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
from oracle.policy.features import FEATURE_NAMES, AssetFeatures

_COL = {name: i for i, name in enumerate(FEATURE_NAMES)}


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

    @classmethod
    def from_policy(cls, appetite: RiskAppetite, close_factor_bps: int) -> MarketConstants:
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
        )


def _impact(sold_over_depth: np.ndarray) -> np.ndarray:
    """Price fall after selling this share of a constant-product pool's depth."""
    return 1 - 1 / (1 + sold_over_depth) ** 2


def recommend_matrix(x: np.ndarray, coef: Coefficients, const: MarketConstants) -> np.ndarray:
    """Raw recommendation in basis points (floats), one row ``(LTV, LT, LB)`` per row of features ``x``
    (columns in ``FEATURE_NAMES`` order). Vectorised: SHAP evaluates it on thousands of rows."""
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
