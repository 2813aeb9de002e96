"""Forecast evaluation statistics: QLIKE and MSE of variance, Mincer–Zarnowitz R², VaR backtests (Kupiec,
Christoffersen), the Diebold–Mariano test. Formulas as in ``../shared/DOMAIN.md``; each is checked against a
hand-computed case in ``tests/test_model_metrics.py``."""

from __future__ import annotations

import numpy as np
from scipy import stats
from scipy.special import xlogy


def qlike(proxy: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Per-day QLIKE loss ``proxy/h − ln(proxy/h) − 1`` (0 for a perfect forecast; robust to proxy noise)."""
    ratio = np.asarray(proxy, dtype=float) / np.asarray(forecast, dtype=float)
    return ratio - np.log(ratio) - 1.0


def squared_error(proxy: np.ndarray, forecast: np.ndarray) -> np.ndarray:
    """Per-day squared error of the variance forecast."""
    return (np.asarray(proxy, dtype=float) - np.asarray(forecast, dtype=float)) ** 2


def mincer_zarnowitz_r2(proxy: np.ndarray, forecast: np.ndarray) -> float:
    """R² of the regression ``proxy = a + b · forecast + e``."""
    x, y = np.asarray(forecast, dtype=float), np.asarray(proxy, dtype=float)
    r = np.corrcoef(x, y)[0, 1]
    return float(r * r)


def kupiec(breaches: np.ndarray, p: float) -> tuple[float, float]:
    """Kupiec's proportion-of-failures test: (LR statistic, p-value) of ``H0: breach rate = p``, χ²(1)."""
    b = np.asarray(breaches, dtype=bool)
    t, x = b.size, int(b.sum())
    rate = x / t
    lr = -2 * (xlogy(t - x, 1 - p) + xlogy(x, p)) + 2 * (xlogy(t - x, 1 - rate) + xlogy(x, rate))
    return float(lr), float(stats.chi2.sf(lr, 1))


def christoffersen(breaches: np.ndarray) -> tuple[float, float]:
    """Christoffersen's independence test on breach transitions: (LR statistic, p-value), χ²(1)."""
    b = np.asarray(breaches, dtype=int)
    prev, cur = b[:-1], b[1:]
    n00 = int(((prev == 0) & (cur == 0)).sum())
    n01 = int(((prev == 0) & (cur == 1)).sum())
    n10 = int(((prev == 1) & (cur == 0)).sum())
    n11 = int(((prev == 1) & (cur == 1)).sum())
    pi01 = n01 / (n00 + n01) if n00 + n01 else 0.0
    pi11 = n11 / (n10 + n11) if n10 + n11 else 0.0
    pi = (n01 + n11) / (n00 + n01 + n10 + n11)
    restricted = xlogy(n00 + n10, 1 - pi) + xlogy(n01 + n11, pi)
    unrestricted = xlogy(n00, 1 - pi01) + xlogy(n01, pi01) + xlogy(n10, 1 - pi11) + xlogy(n11, pi11)
    lr = max(-2 * (restricted - unrestricted), 0.0)
    return float(lr), float(stats.chi2.sf(lr, 1))


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, lags: int = 0) -> tuple[float, float]:
    """Diebold–Mariano test of equal predictive accuracy: (statistic, two-sided p-value).

    A negative statistic means ``a`` has the lower loss. The variance of the mean loss differential is the
    Newey–West estimate with ``lags`` lags (0 for one-step-ahead forecasts).
    """
    d = np.asarray(loss_a, dtype=float) - np.asarray(loss_b, dtype=float)
    n = d.size
    centred = d - d.mean()
    variance = centred @ centred / n
    for k in range(1, lags + 1):
        variance += 2 * (1 - k / (lags + 1)) * (centred[k:] @ centred[:-k]) / n
    stat = d.mean() / np.sqrt(variance / n)
    return float(stat), float(2 * stats.norm.sf(abs(stat)))
