"""The interface every volatility model shares, and the per-asset daily history it works on.

A forecast made at the close of day ``t`` is for day ``t + 1``: its variance of the log return and the
standardized return quantiles for VaR. Forecasts are indexed by the *target* day; every model computes them from
data strictly before that day, which is what the no-look-ahead tests check.
"""

from __future__ import annotations

from typing import Protocol, Self

import numpy as np
import pandas as pd
from scipy import stats

from oracle.data.prices import garman_klass_variance, log_returns, parkinson_variance, realised_variance

QUANTILES = (0.01, 0.05)  # left tail: VaR 99 % and 95 % of a long collateral position
EWMA_LAMBDA = 0.94  # RiskMetrics' daily decay
EWMA_WARMUP = 30  # days whose mean squared return starts the recursion


def ewma_variances(returns: np.ndarray, lam: float = EWMA_LAMBDA, warmup: int = EWMA_WARMUP) -> np.ndarray:
    """The RiskMetrics recursion ``var_{t+1} = lam var_t + (1 - lam) r_t^2``, started at the mean squared return of
    the first ``warmup`` returns. Entry ``i`` is the variance known before return ``i``; the last entry (one more
    than ``returns``) is the forecast after them all. The one EWMA of the project: the baseline, the live fallback
    and the report's fallback track all read it."""
    values = np.asarray(returns, dtype=float)
    out = np.empty(values.size + 1)
    var = float(np.mean(values[:warmup] ** 2)) if values.size else float("nan")
    for i, x in enumerate(values):
        out[i] = var
        var = lam * var + (1 - lam) * x * x
    out[values.size] = var
    return out


def unit_t_ppf(p: float, dof: float | np.ndarray | None) -> float | np.ndarray:
    """The ``p`` quantile of a Student-t with ``dof`` degrees of freedom scaled to unit variance (the normal's
    when ``dof`` is ``None`` or infinite): the one place a forecast's tail becomes a quantile."""
    if dof is None or (np.isscalar(dof) and not np.isfinite(dof)):
        return float(stats.norm.ppf(p))
    return stats.t.ppf(p, dof) * np.sqrt((dof - 2) / dof)


def daily_history(ohlc: pd.DataFrame) -> pd.DataFrame:
    """Per day: log return ``r``, the day's variance proxy ``gk`` (here Garman–Klass) and Parkinson ``pk``
    variance, indexed by day. A flat candle (high == low: no trade, so no variance measurement; Garman–Klass
    would floor it at 1e-12, an outlier of -28 in log variance) is dropped."""
    frame = pd.DataFrame(
        {
            "r": log_returns(ohlc["close"]),
            "gk": garman_klass_variance(ohlc),
            "pk": parkinson_variance(ohlc),
        }
    ).dropna()
    return frame[(ohlc["high"] > ohlc["low"]).reindex(frame.index)]


def daily_history_from_hourly(hourly: pd.DataFrame) -> pd.DataFrame:
    """The same frame from hourly candles: the proxy ``gk`` is the realised variance (sum of the day's 24
    squared hourly log returns), ``pk`` the Parkinson variance of the day's range, ``r`` the close-to-close
    return. Days missing an hour, and returns across a missing day, are dropped: gaps are never filled."""
    rv = realised_variance(hourly, "24h")
    days = hourly.resample("24h").agg({"open": "first", "high": "max", "low": "min", "close": "last"}).loc[rv.index]
    close = days["close"]
    consecutive = close.index.to_series().diff() == pd.Timedelta(days=1)
    r = np.log(close / close.shift(1))[consecutive]
    frame = pd.DataFrame({"r": r, "gk": rv, "pk": parkinson_variance(days)}).dropna()
    return frame[frame["gk"] > 0]


class VolatilityModel(Protocol):
    """A one-step-ahead variance forecaster."""

    name: str

    def fit(self, history: pd.DataFrame) -> Self:
        """Estimate parameters from ``history`` (everything the model may learn from)."""
        ...

    def forecast(self, history: pd.DataFrame, start: pd.Timestamp) -> pd.DataFrame:
        """Forecasts for every day of ``history`` from ``start`` on, each from the days before it only.

        Columns: ``variance`` and ``q01``, ``q05`` (standardized return quantiles, negative).
        """
        ...


def empirical_quantiles(returns: pd.Series, variance: pd.Series) -> dict[str, float]:
    """Quantiles of standardized returns ``r / sqrt(variance)`` (fitted in-sample, used out of sample)."""
    z = (returns / np.sqrt(variance)).dropna()
    return {f"q{int(q * 100):02d}": float(np.quantile(z, q)) for q in QUANTILES}


def student_t_quantiles(nu: float) -> dict[str, float]:
    """Quantiles of a unit-variance Student-t with ``nu`` degrees of freedom."""
    return {f"q{int(q * 100):02d}": float(unit_t_ppf(q, nu)) for q in QUANTILES}
