"""One market's recommendation, end to end and pure: snapshot + forecasts -> features -> raw recommendation ->
bounded update -> risk gate -> SHAP explanation.

Why one function: the keeper, ``risk-oracle recommend`` and ``risk-oracle verify`` must produce the very same
numbers from the same inputs; none of it touches the chain (the snapshot was read before, the submission comes
after).
"""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict

from oracle.chain.snapshot import MarketSnapshot
from oracle.config import Policy
from oracle.explain.attribution import AssetAttribution, Model, explain, explain_change
from oracle.explain.background import recent_background
from oracle.models.live import VolForecast
from oracle.models.volatility import NeuralForecaster
from oracle.policy.bounds import BoundedUpdate, clamp_update
from oracle.policy.calibrate import Calibration
from oracle.policy.features import AssetFeatures, build_features, feature_matrix
from oracle.policy.recommend import MarketConstants, recommend_matrix, to_params
from oracle.risk.gate import GateDecision, cascade_market, market_shocks, risk_gate


class AssetRecommendation(BaseModel):
    """Everything decided about one asset in one cycle."""

    model_config = ConfigDict(frozen=True)

    asset: str
    features: AssetFeatures
    raw_bps: tuple[float, float, float]  # LTV, LT, LB before rounding and bounds (what SHAP explains)
    bounded: BoundedUpdate | None  # None when the governor has no bounds for the asset
    gate: GateDecision | None  # None when the bounded update changes nothing
    attribution: AssetAttribution
    since_last: AssetAttribution | None

    @property
    def proposed(self) -> bool:
        """Whether this asset's update goes to the chain."""
        return self.bounded is not None and self.bounded.changes and self.gate is not None and self.gate.passed


class MarketRecommendation(BaseModel):
    """A cycle's recommendations for every asset of a market."""

    model_config = ConfigDict(frozen=True)

    block_number: int
    block_timestamp: int
    calibration_sha256: str
    assets: tuple[AssetRecommendation, ...]

    def asset(self, symbol: str) -> AssetRecommendation:
        for a in self.assets:
            if a.asset == symbol:
                return a
        raise KeyError(symbol)


def policy_model(snapshot: MarketSnapshot, policy: Policy, calibration: Calibration) -> Model:
    """The raw recommendation as a function of feature rows (bps of LTV, LT, LB): what SHAP explains."""
    const = MarketConstants.from_policy(policy.risk, snapshot.close_factor_bps)
    coef = calibration.coefficients

    def model(rows: np.ndarray) -> np.ndarray:
        return recommend_matrix(rows, coef, const)

    return model


def recommend_market(
    snapshot: MarketSnapshot,
    forecasts: tuple[VolForecast, ...],
    policy: Policy,
    calibration: Calibration,
    vol_model: NeuralForecaster | None = None,
    previous: dict[str, AssetFeatures] | None = None,
) -> MarketRecommendation:
    """Recommend, bound, gate and explain every asset of ``snapshot``.

    The SHAP background is the market's recent feature vectors, rebuilt with ``vol_model`` from the feeds'
    history (only the current vectors without a model); ``previous`` (the last cycle's features) adds the
    since-last-cycle explanation.
    """
    features = build_features(snapshot, forecasts, policy.risk)
    symbols = list(features)
    x = feature_matrix(features)
    model = policy_model(snapshot, policy, calibration)
    raw = model(x)
    attributions = explain(model, x, recent_background(snapshot, features, vol_model), symbols)

    bounded: dict[str, BoundedUpdate | None] = {}
    for asset, row in zip(snapshot.assets, raw, strict=True):
        bounded[asset.symbol] = None if asset.bounds is None else clamp_update(
            asset.address, asset.params, to_params(row), asset.bounds, asset.last_changed_at,
            snapshot.block_timestamp, policy.update.min_change_bps,
        )
    changing = {s: b.bounded for s, b in bounded.items() if b is not None and b.changes}
    gates: dict[str, GateDecision] = {}
    if changing:
        market = cascade_market(snapshot, policy.risk)
        shocks = market_shocks(snapshot, forecasts, policy.risk)
        gates = risk_gate(market, shocks, symbols, [a.params for a in snapshot.assets], changing, policy.risk)

    out = []
    for i, symbol in enumerate(symbols):
        since = None
        if previous is not None and symbol in previous:
            since = explain_change(model, previous[symbol].vector(), x[i], symbol)
        out.append(AssetRecommendation(
            asset=symbol, features=features[symbol], raw_bps=tuple(float(v) for v in raw[i]),  # type: ignore[arg-type]
            bounded=bounded[symbol], gate=gates.get(symbol), attribution=attributions[i], since_last=since,
        ))
    return MarketRecommendation(block_number=snapshot.block_number, block_timestamp=snapshot.block_timestamp,
                                calibration_sha256=calibration.sha256, assets=tuple(out))
