"""The risk gate: before an update is proposed, simulate the market under the current and the proposed parameters
on the same price paths, and refuse an update that breaks the risk appetite.

An update is gated when

- its bad-debt ES99 over the horizon exceeds the appetite *and* exceeds the current parameters' (an update that
  lowers risk is never blocked for not lowering it enough), or
- it makes more than ``max_liquidated_at_once_share`` of the debt liquidatable at the snapshot's prices (an LT cut
  liquidates users at once; the bounds ramp it, the gate checks the ramp's step against the actual positions), or
- (with the policy's ``[risk.edge_book]``) its bad-debt ES99 on the asset's worst admissible book
  (``oracle.risk.edge``), over the update horizon or the cut horizon, exceeds the appetite *and* the current
  parameters' — today's book can look safe while the book a crisis meets is not.

Each asset's update is judged with the other assets at their current parameters, so a refusal names its asset.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from oracle.domain.appetite import RiskAppetite
from oracle.domain.fields import unset
from oracle.domain.params import RiskParams
from oracle.risk.cascade import INSTANT, CascadeMarket, CascadeParams, CascadeResult, Liquidators, Shocks, run_cascade
from oracle.risk.edge import EdgeCase, EdgeRisk
from oracle.risk.metrics import RiskMetrics, risk_metrics

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
    # the edge-book test (None without [risk.edge_book]: left out of the JSON, as in earlier reports)
    edge_current: EdgeRisk | None = Field(default=None, exclude_if=unset)
    edge_proposed: EdgeRisk | None = Field(default=None, exclude_if=unset)


def params_arrays(params: list[RiskParams]) -> CascadeParams:
    return CascadeParams.from_bps([p.liquidation_threshold for p in params], [p.liquidation_bonus for p in params])


def liquidatable_share(market: CascadeMarket, params: list[RiskParams]) -> float:
    """Share of debt in positions with health factor below 1 at t0 under ``params``."""
    lt = np.array([p.liquidation_threshold for p in params]) / 10_000
    under = (market.collateral_usd @ lt < market.debt_usd) & (market.debt_usd > 0)
    total = market.debt_usd.sum()
    return float(market.debt_usd[under].sum() / total) if total > 0 else 0.0


def risk_gate(
    market: CascadeMarket,
    shocks: Shocks,
    symbols: list[str],
    current: list[RiskParams],
    proposed: dict[str, RiskParams],
    appetite: RiskAppetite,
    current_result: CascadeResult | None = None,
    *,
    liquidators: Liquidators = INSTANT,
    edge: Mapping[str, EdgeCase] | None = None,
) -> dict[str, GateDecision]:
    """Judge each proposed asset update (``proposed`` by symbol) against the current parameters
    (``current_result``: their cascade on ``shocks`` with ``liquidators``, when the caller has run it already;
    ``edge``: per symbol, the edge-book test)."""
    supplied = market.supplied_collateral_usd
    if current_result is None:
        current_result = run_cascade(market, params_arrays(current), shocks, liquidators=liquidators)
    base = risk_metrics(current_result, supplied)
    now_share = liquidatable_share(market, current)
    decisions: dict[str, GateDecision] = {}
    for symbol, params in proposed.items():
        trial = list(current)
        trial[symbols.index(symbol)] = params
        after = risk_metrics(run_cascade(market, params_arrays(trial), shocks, liquidators=liquidators), supplied)
        after_share = liquidatable_share(market, trial)
        reason = ""
        riskier = after.bad_debt_es99_usd > base.bad_debt_es99_usd + ES_TOLERANCE
        if after.es99_share > appetite.es99_max_share and riskier:
            reason = (
                f"bad-debt ES99 {after.es99_share:.4%} of supplied collateral would exceed the appetite "
                f"{appetite.es99_max_share:.4%} (now {base.es99_share:.4%})"
            )
        elif after_share - now_share > appetite.max_liquidated_at_once_share:
            reason = (
                f"would make {after_share - now_share:.2%} of debt liquidatable at once "
                f"(limit {appetite.max_liquidated_at_once_share:.2%})"
            )
        case = None if edge is None else edge.get(symbol)
        edge_now = edge_after = None
        if case is not None:
            old = current[symbols.index(symbol)]
            edge_now = case.risk(old.liquidation_threshold, old.liquidation_bonus)
            edge_after = case.risk(params.liquidation_threshold, params.liquidation_bonus)
            worse = edge_after.worst_share > edge_now.worst_share + ES_TOLERANCE
            if not reason and edge_after.worst_share > appetite.es99_max_share and worse:
                reason = (
                    f"edge-book bad-debt ES99 {edge_after.worst_share:.4%} of the asset's collateral (1 d "
                    f"{edge_after.es99_1d_share:.4%}, {edge_after.cut_horizon_h} h {edge_after.es99_cut_share:.4%}) "
                    f"would exceed the appetite {appetite.es99_max_share:.4%} (now {edge_now.worst_share:.4%})"
                )
        decisions[symbol] = GateDecision(
            asset=symbol,
            passed=not reason,
            reason=reason,
            current=base,
            proposed=after,
            liquidatable_now_share=now_share,
            liquidatable_after_share=after_share,
            edge_current=edge_now,
            edge_proposed=edge_after,
        )
    return decisions
