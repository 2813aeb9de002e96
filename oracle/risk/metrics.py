"""Risk metrics of a cascade simulation, in the terms risk teams report: VaR and ES of bad debt at 95 % and 99 %,
as USD and as a share of supplied collateral value, and liquidations-at-risk.

ES is the mean of the worst ``1 - level`` share of paths (at least one path), so that ES >= VaR always holds and
a tail of a single catastrophic path is not averaged away.
"""

from __future__ import annotations

import math

import numpy as np
from pydantic import BaseModel, ConfigDict

from oracle.risk.cascade import CascadeResult


def value_at_risk(losses: np.ndarray, level: float) -> float:
    """The ``level`` quantile of ``losses`` (higher = worse), by the inverted empirical CDF (no interpolation)."""
    if losses.size == 0:
        raise ValueError("no losses")
    ordered = np.sort(losses)
    return float(ordered[min(math.ceil(level * losses.size) - 1, losses.size - 1)])


def expected_shortfall(losses: np.ndarray, level: float) -> float:
    """Mean of the worst ``ceil((1 - level) x n)`` losses."""
    if losses.size == 0:
        raise ValueError("no losses")
    tail = max(1, math.ceil((1 - level) * losses.size - 1e-9))
    return float(np.sort(losses)[-tail:].mean())


def expected_shortfall_se(losses: np.ndarray, level: float) -> float:
    """Monte Carlo standard error of ``expected_shortfall``: the asymptotic variance of the tail-mean estimator,
    ``(Var(X | X >= VaR) + level x (ES - VaR)^2) / (n x (1 - level))`` (Manistre & Hancock 2005).

    Why: bad debt at the edge comes from a few paths with a large hourly gap, so an ES99 over a few thousand paths
    moves by its own size from one seed to the next; a calibration that must hold on paths it has not seen bounds
    the estimate plus its error, not the estimate alone."""
    if losses.size == 0:
        raise ValueError("no losses")
    tail_n = max(1, math.ceil((1 - level) * losses.size - 1e-9))
    ordered = np.sort(losses)
    tail = ordered[-tail_n:]
    var_level = float(ordered[-tail_n])
    es = float(tail.mean())
    variance = (float(tail.var()) + level * (es - var_level) ** 2) / (losses.size * (1 - level))
    return math.sqrt(variance)


class RiskMetrics(BaseModel):
    """Summary of one parameter set's simulation."""

    model_config = ConfigDict(frozen=True)

    paths: int
    supplied_usd: float
    bad_debt_mean_usd: float
    bad_debt_var95_usd: float
    bad_debt_var99_usd: float
    bad_debt_es95_usd: float
    bad_debt_es99_usd: float
    liquidated_p95_usd: float  # liquidations-at-risk
    liquidated_p99_usd: float
    liquidations_mean: float
    paths_with_bad_debt: float  # share

    @property
    def es99_share(self) -> float:
        """Bad-debt ES99 as a share of supplied collateral value."""
        return self.bad_debt_es99_usd / self.supplied_usd if self.supplied_usd > 0 else 0.0

    @property
    def var95_share(self) -> float:
        return self.bad_debt_var95_usd / self.supplied_usd if self.supplied_usd > 0 else 0.0


def risk_metrics(result: CascadeResult, supplied_usd: float) -> RiskMetrics:
    """VaR/ES of bad debt and liquidations-at-risk of ``result``."""
    bad, liq = result.bad_debt_usd, result.liquidated_usd
    return RiskMetrics(
        paths=int(bad.size),
        supplied_usd=supplied_usd,
        bad_debt_mean_usd=float(bad.mean()),
        bad_debt_var95_usd=value_at_risk(bad, 0.95),
        bad_debt_var99_usd=value_at_risk(bad, 0.99),
        bad_debt_es95_usd=expected_shortfall(bad, 0.95),
        bad_debt_es99_usd=expected_shortfall(bad, 0.99),
        liquidated_p95_usd=value_at_risk(liq, 0.95),
        liquidated_p99_usd=value_at_risk(liq, 0.99),
        liquidations_mean=float(result.liquidations.mean()),
        paths_with_bad_debt=float((bad > 0).mean()),
    )
