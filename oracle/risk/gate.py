"""The risk gate: before an update is proposed, simulate the market under the current and the proposed parameters
on the same price paths, and refuse an update that breaks the risk appetite.

An update is gated when

- its bad-debt ES99 over the horizon exceeds the appetite *and* exceeds the current parameters' (an update that
  lowers risk is never blocked for not lowering it enough), or
- it makes more than ``max_liquidated_at_once_share`` of the debt liquidatable at the snapshot's prices (an LT cut
  liquidates users at once; the bounds ramp it, the gate checks the ramp's step against the actual positions).

Each asset's update is judged with the other assets at their current parameters, so a refusal names its asset.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from oracle.chain.snapshot import MarketSnapshot
from oracle.models.live import VolForecast, daily_candles
from oracle.policy.appetite import RiskAppetite
from oracle.policy.features import gas_cost_usd, position_values
from oracle.policy.params import RiskParams
from oracle.risk.cascade import CascadeMarket, CascadeParams, Shocks, run_cascade, sample_shocks
from oracle.risk.metrics import RiskMetrics, risk_metrics

MIN_CORRELATION_DAYS = 30
DEFAULT_CORRELATION = 0.8  # crypto assets in a crash, when the feeds are too short to measure it
ES_TOLERANCE = 1e-12


class GateDecision(BaseModel):
    """The gate's verdict on one asset's update, with the figures it rests on."""

    model_config = ConfigDict(frozen=True)

    asset: str
    passed: bool
    reason: str
    current: RiskMetrics
    proposed: RiskMetrics
    liquidatable_now_share: float  # of debt, at snapshot prices, under the current parameters
    liquidatable_after_share: float  # ... under the proposed ones


def correlation(snapshot: MarketSnapshot) -> np.ndarray:
    """Correlation of daily log returns of the assets' feeds over their common days; a conservative constant when
    fewer than ``MIN_CORRELATION_DAYS`` are shared."""
    n = len(snapshot.assets)
    closes = [daily_candles(a)["close"].rename(a.symbol) for a in snapshot.assets]
    frame = np.log(pd.concat(closes, axis=1, sort=True).dropna()).diff().dropna()
    if n == 1:
        return np.eye(1)
    if len(frame) < MIN_CORRELATION_DAYS:
        return np.full((n, n), DEFAULT_CORRELATION) + (1 - DEFAULT_CORRELATION) * np.eye(n)
    corr = np.corrcoef(frame.to_numpy().T)
    # numerical safety for the Cholesky factor: clip to a valid correlation matrix
    eigval, eigvec = np.linalg.eigh(corr)
    corr = eigvec @ np.diag(np.clip(eigval, 1e-6, None)) @ eigvec.T
    d = np.sqrt(np.diag(corr))
    return corr / d[:, None] / d[None, :]


def cascade_market(snapshot: MarketSnapshot, appetite: RiskAppetite) -> CascadeMarket:
    """The snapshot's positions as the simulator sees them."""
    values, debt = position_values(snapshot)
    depth = np.array([appetite.depth_usd[a.symbol] for a in snapshot.assets])
    return CascadeMarket(values, debt, depth, gas_cost_usd(snapshot, appetite), snapshot.close_factor_bps / 10_000)


def market_shocks(snapshot: MarketSnapshot, forecasts: tuple[VolForecast, ...], appetite: RiskAppetite) -> Shocks:
    """Price paths over the horizon from the forecasts (variance scaled to the horizon) and the feeds' correlation."""
    scale = appetite.horizon_days**0.5
    sigma = np.array([f.sigma * scale for f in forecasts])
    dof = np.array([f.dof if f.dof is not None else np.inf for f in forecasts])
    return sample_shocks(sigma, dof, correlation(snapshot), paths=appetite.paths, steps=appetite.steps,
                         seed=appetite.seed)


def params_arrays(params: list[RiskParams]) -> CascadeParams:
    return CascadeParams.from_bps([p.liquidation_threshold for p in params], [p.liquidation_bonus for p in params])


def liquidatable_share(market: CascadeMarket, params: list[RiskParams]) -> float:
    """Share of debt in positions with health factor below 1 at t0 under ``params``."""
    lt = np.array([p.liquidation_threshold for p in params]) / 10_000
    under = (market.collateral_usd @ lt < market.debt_usd) & (market.debt_usd > 0)
    total = market.debt_usd.sum()
    return float(market.debt_usd[under].sum() / total) if total > 0 else 0.0


def risk_gate(
    market: CascadeMarket, shocks: Shocks, symbols: list[str], current: list[RiskParams],
    proposed: dict[str, RiskParams], appetite: RiskAppetite,
) -> dict[str, GateDecision]:
    """Judge each proposed asset update (``proposed`` by symbol) against the current parameters."""
    supplied = market.supplied_collateral_usd
    base = risk_metrics(run_cascade(market, params_arrays(current), shocks), supplied)
    now_share = liquidatable_share(market, current)
    decisions: dict[str, GateDecision] = {}
    for symbol, params in proposed.items():
        trial = list(current)
        trial[symbols.index(symbol)] = params
        after = risk_metrics(run_cascade(market, params_arrays(trial), shocks), supplied)
        after_share = liquidatable_share(market, trial)
        reason = ""
        riskier = after.bad_debt_es99_usd > base.bad_debt_es99_usd + ES_TOLERANCE
        if after.es99_share > appetite.es99_max_share and riskier:
            reason = (f"bad-debt ES99 {after.es99_share:.4%} of supplied collateral would exceed the appetite "
                      f"{appetite.es99_max_share:.4%} (now {base.es99_share:.4%})")
        elif after_share - now_share > appetite.max_liquidated_at_once_share:
            reason = (f"would make {after_share - now_share:.2%} of debt liquidatable at once "
                      f"(limit {appetite.max_liquidated_at_once_share:.2%})")
        decisions[symbol] = GateDecision(asset=symbol, passed=not reason, reason=reason, current=base,
                                         proposed=after, liquidatable_now_share=now_share,
                                         liquidatable_after_share=after_share)
    return decisions
