"""Features of one collateral asset: what the recommendation function sees, built from the snapshot, the
volatility forecast and the policy's market facts.

Why a fixed, named, small vector: the recommendation must be explainable exactly (SHAP over at most 14 features
is exact), and a DAO reviewer must be able to read every input. Units are chosen so that each feature reads
naturally in a report: fractions for shares and volatility, hours for staleness.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator
from scipy import stats

from oracle.domain.appetite import RiskAppetite
from oracle.domain.fields import unset
from oracle.domain.forecast import VolForecast
from oracle.domain.snapshot import MarketSnapshot
from oracle.errors import PolicyError
from oracle.models.base import unit_t_ppf
from oracle.risk.market import gas_cost_usd, position_values

UNKNOWN_REGIME = 1.0  # no regime label (fallback forecast): treated as stressed, the conservative reading
Z99 = float(stats.norm.ppf(0.99))
SIGNIFICANT_DIGITS = 4
NEGLIGIBLE = 1e-6


def quantize(value: float) -> float:
    """``value`` to ``SIGNIFICANT_DIGITS`` significant digits, and 0 below ``NEGLIGIBLE``.

    Why: SHAP's exact explainer skips features whose value it finds ``np.isclose`` to every background row
    (relative tolerance 1e-5, absolute 1e-8); a real but tiny difference (the base fee of the next block moving the
    gas share by 1e-9) would then be dropped and the attributions would not add up. On this grid two different
    values are never that close, and no input is measured to better than four digits anyway.
    """
    if not math.isfinite(value) or abs(value) < NEGLIGIBLE:
        return 0.0 if math.isfinite(value) else value
    return float(f"{value:.{SIGNIFICANT_DIGITS - 1}e}")


class AssetFeatures(BaseModel):
    """The recommendation function's input for one asset."""

    model_config = ConfigDict(frozen=True)

    sigma_1d: float = Field(ge=0, description="forecast standard deviation of the next day's log return")
    tail_q99: float = Field(ge=quantize(Z99), description="99 % one-day loss quantile in standard deviations")
    regime: float = Field(ge=0, le=1, description="0 calm, 0.5, 1 stressed")
    staleness_h: float = Field(ge=0, description="age of the latest feed round")
    liq_density_10: float = Field(ge=0, le=1, description="share of collateral liquidatable after a 10 % fall")
    top10_share: float = Field(ge=0, le=1, description="share of collateral held by the 10 largest holders")
    depth_ratio: float = Field(ge=0, description="collateral value / pool depth liquidators sell into")
    utilisation: float = Field(ge=0, description="market debt / supplied stable")
    gas_share: float = Field(ge=0, description="gas of one liquidation at stressed gas prices / median repay")
    # Form 2 of the recommendation (``Calibration.form``) reads the largest holder as itself instead of the density
    # and the top-10 share; absent (None) in form 1, whose reports must re-serialise byte for byte.
    top1_share: float | None = Field(
        default=None, ge=0, le=1, exclude_if=unset, description="share of collateral held by the largest holder"
    )

    @field_validator("*", mode="before")
    @classmethod
    def _quantized(cls, value: float | None) -> float | None:
        return None if value is None else quantize(float(value))

    @property
    def names(self) -> tuple[str, ...]:
        """The features the recommendation of this vector's form reads, in column order."""
        return FEATURE_NAMES if self.top1_share is None else FEATURE_NAMES_V2

    def vector(self) -> np.ndarray:
        return np.array([getattr(self, name) for name in self.names], dtype=float)


FEATURE_NAMES: tuple[str, ...] = tuple(n for n in AssetFeatures.model_fields if n != "top1_share")  # form 1
# Form 2: the worst admissible book replaces today's density (which may no longer loosen LT) and the largest
# holder, simulated as itself, replaces the top-10 share read as ten equal holders.
FEATURE_NAMES_V2: tuple[str, ...] = (
    "sigma_1d",
    "tail_q99",
    "regime",
    "staleness_h",
    "top1_share",
    "depth_ratio",
    "utilisation",
    "gas_share",
)


def feature_names(form: int) -> tuple[str, ...]:
    """The feature columns of a recommendation form."""
    return FEATURE_NAMES if form == 1 else FEATURE_NAMES_V2


FEATURE_SHORT = {  # names in terminal tables
    "sigma_1d": "vol",
    "tail_q99": "tail",
    "regime": "regime",
    "staleness_h": "stale",
    "liq_density_10": "density",
    "top10_share": "concentr.",
    "depth_ratio": "depth",
    "utilisation": "util",
    "gas_share": "gas",
    "top1_share": "top holder",
}


def tail_quantile(dof: float | None) -> float:
    """The 99 % quantile of a unit-variance Student-t (normal when ``dof`` is ``None``), in standard deviations."""
    if dof is None or not math.isfinite(dof):
        return Z99
    return max(Z99, -float(unit_t_ppf(0.01, dof)))


def build_features(
    snapshot: MarketSnapshot, forecasts: tuple[VolForecast, ...], appetite: RiskAppetite, form: int = 1
) -> dict[str, AssetFeatures]:
    """Features of every asset of ``snapshot`` (forecasts in the snapshot's asset order), for the recommendation
    ``form`` (2 adds the largest holder's share)."""
    values, debt = position_values(snapshot)
    total = values.sum(axis=1)
    gas = gas_cost_usd(snapshot, appetite)
    close_factor = snapshot.close_factor_bps / 10_000
    unknown = [a for a in snapshot.assets if appetite.depth_of(a.address, a.symbol) is None]
    if unknown:  # a new listing, or a token whose symbol changed: the policy must say how deep its market is
        raise PolicyError(
            "the policy's [risk] depth_usd has no entry for "
            + ", ".join(f"{a.address} (symbol {a.symbol!r} on chain)" for a in unknown)
            + f"; it knows {', '.join(sorted(appetite.depth_usd))} (key an asset by its token address to survive a "
            "renamed symbol)"
        )
    out: dict[str, AssetFeatures] = {}
    for i, (asset, f) in enumerate(zip(snapshot.assets, forecasts, strict=True)):
        if f.asset != asset.symbol:
            raise ValueError(f"forecast for {f.asset} where {asset.symbol} was expected")
        holders = (values[:, i] > 0) & (debt > 0)
        # the repay of a typical liquidation involving this asset: close factor x its share of the debt
        repay = close_factor * debt[holders] * values[holders, i] / total[holders]
        median_repay = float(np.median(repay)) if repay.size else math.inf
        value = asset.collateral_value_usd
        depth = appetite.depth_of(asset.address, asset.symbol)
        assert depth is not None  # checked above
        out[asset.symbol] = AssetFeatures(
            sigma_1d=f.sigma,
            tail_q99=tail_quantile(f.dof),
            regime=UNKNOWN_REGIME if f.regime is None else f.regime,
            staleness_h=asset.staleness_s / 3600,
            liq_density_10=min(1.0, asset.liquidation_density_usd["10%"] / value) if value > 0 else 0.0,
            top10_share=asset.top10_share,
            depth_ratio=value / depth,
            utilisation=snapshot.utilisation,
            gas_share=gas / median_repay if median_repay > 0 else 0.0,
            top1_share=None if form == 1 else (float(values[:, i].max()) / value if value > 0 else 0.0),
        )
    return out


def feature_matrix(features: dict[str, AssetFeatures]) -> np.ndarray:
    """Rows in the dict's order, columns in ``FEATURE_NAMES`` order."""
    return np.vstack([f.vector() for f in features.values()])
