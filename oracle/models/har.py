"""The HAR family on the hourly-issued 24-hour target: HAR-RV (Corsi 2009) and its semivariance variant in logs,
HARQ (Bollerslev, Patton & Quaedvlieg 2016) in levels. Regressors are the realised measures ending at the issue
hour (``oracle.data.hourly.realised_measures``); the response is the realised variance of the next 24 hours.

Fitting at time ``T`` uses only the issue hours ``t`` whose target is complete by then (``t + 24 h <= T``), every
hour of them (overlapping targets: consistent for the coefficients, the residual variance is still the residual
variance), by ordinary least squares (``numpy.linalg.lstsq``, the same estimator as the daily ``HAR``).
"""

from __future__ import annotations

from typing import ClassVar, Self

import numpy as np
import pandas as pd

from oracle.data.hourly import DAY_HOURS, HOUR
from oracle.errors import ModelError
from oracle.models.base import empirical_quantiles

LOG_FLOOR = 1e-12  # a 24-hour window of flat prices measures no variance; its log would be -inf


def training_rows(panel: pd.DataFrame, until: pd.Timestamp) -> pd.DataFrame:
    """The rows whose 24-hour target is fully known at ``until`` (and defined and positive)."""
    rows = panel.loc[: until - DAY_HOURS * HOUR]
    return rows[rows["rv"] > 0]


def ols(design: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Least-squares coefficients and the residual variance."""
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    return coef, float(np.var(y - design @ coef))


class HarRv:
    """``ln RV(t, t+24h] = b0 + b_d ln RV_d(t) + b_w ln RV_w(t) + b_m ln RV_m(t) + e``; forecast
    ``exp(x'b + s²/2)``, the mean of a log-normal whose log has the fitted mean and the residual variance ``s²``
    (without it the forecast is the median, biased low by ``exp(-s²/2)``)."""

    name = "HAR-RV"
    regressors: ClassVar[tuple[str, ...]] = ("rv_d", "rv_w", "rv_m")
    refit_hours = 7 * DAY_HOURS  # weekly re-estimation; forecasts are issued every hour

    def __init__(self) -> None:
        self.coef: np.ndarray | None = None
        self.resid_var = 0.0
        self.quantiles: dict[str, float] = {}

    def design(self, panel: pd.DataFrame) -> pd.DataFrame:
        """Regressors known at each row's hour, with a constant; rows with one missing are dropped."""
        x = np.log(panel[list(self.regressors)].clip(lower=LOG_FLOOR)).dropna()
        x.insert(0, "const", 1.0)
        return x

    def _mean(self, x: pd.DataFrame) -> np.ndarray:
        if self.coef is None:
            raise ModelError("fit first")
        return np.exp(x.to_numpy() @ self.coef + self.resid_var / 2)

    def fit(self, panel: pd.DataFrame, until: pd.Timestamp) -> Self:
        rows = training_rows(panel, until)
        x = self.design(rows)
        if len(x) < 10 * x.shape[1]:
            raise ModelError(f"{self.name}: {len(x)} training hours before {until}")
        y = np.log(rows.loc[x.index, "rv"].to_numpy())
        self.coef, self.resid_var = ols(x.to_numpy(), y)
        self.quantiles = empirical_quantiles(rows.loc[x.index, "r24"], pd.Series(self._mean(x), index=x.index))
        return self

    def forecast(self, panel: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Forecasts issued at the hours of ``[start, end)``, each from that hour's regressors."""
        x = self.design(panel.loc[start : end - HOUR])
        return pd.DataFrame({"variance": self._mean(x), **self.quantiles}, index=x.index)


class SemivarianceHar(HarRv):
    """HAR-RV with the daily term split into its positive and negative semivariances (Patton & Sheppard 2015):
    ``ln RV = b0 + b+ ln RS+_d + b- ln RS-_d + b_w ln RV_w + b_m ln RV_m``; bad volatility predicts more."""

    name = "SHAR"
    regressors = ("rs_pos", "rs_neg", "rv_w", "rv_m")


class Harq(HarRv):
    """HARQ in levels, as Bollerslev, Patton & Quaedvlieg (2016) define it: ``RV = b0 + (b_d + b_q √RQ_d) RV_d +
    b_w RV_w + b_m RV_m``; the daily coefficient falls when the daily RV is measured noisily (high quarticity).
    Their "insanity filter": a forecast outside the range of the in-sample targets is replaced by the in-sample
    mean (levels OLS can go negative, which no loss accepts). Why not clamp to the range's edge: the in-sample
    minimum is a flat day's near-zero RV, and a forecast pinned there costs QLIKE without bound on the next real
    move (the first clamp made BTC's test-period QLIKE 7.65x HAR-RV's)."""

    name = "HARQ"
    regressors = ("rv_d", "rq_d", "rv_w", "rv_m")

    def __init__(self) -> None:
        super().__init__()
        self.bounds = (0.0, np.inf)
        self.fallback = 0.0

    def design(self, panel: pd.DataFrame) -> pd.DataFrame:
        x = panel[list(self.regressors)].dropna()
        x = pd.DataFrame(
            {
                "const": 1.0,
                "rv_d": x["rv_d"],
                "rv_q": x["rv_d"] * np.sqrt(x["rq_d"]),
                "rv_w": x["rv_w"],
                "rv_m": x["rv_m"],
            },
            index=x.index,
        )
        return x

    def _mean(self, x: pd.DataFrame) -> np.ndarray:
        if self.coef is None:
            raise ModelError("fit first")
        mean = x.to_numpy() @ self.coef
        low, high = self.bounds
        return np.where((mean >= low) & (mean <= high), mean, self.fallback)

    def fit(self, panel: pd.DataFrame, until: pd.Timestamp) -> Self:
        rows = training_rows(panel, until)
        x = self.design(rows)
        if len(x) < 10 * x.shape[1]:
            raise ModelError(f"{self.name}: {len(x)} training hours before {until}")
        y = rows.loc[x.index, "rv"].to_numpy()
        self.coef, self.resid_var = ols(x.to_numpy(), y)
        self.bounds = (float(y.min()), float(y.max()))
        self.fallback = float(y.mean())
        self.quantiles = empirical_quantiles(rows.loc[x.index, "r24"], pd.Series(self._mean(x), index=x.index))
        return self


class LogHarq(HarRv):
    """HARQ carried into logs: ``ln RV = b0 + (b_d + b_q √RQ_d / RV_d) ln RV_d + b_w ln RV_w + b_m ln RV_m``.
    In logs the measurement error of ``ln RV_d`` has variance ∝ ``RQ_d / RV_d²`` (delta method on BPQ's
    ``Var(RV) ∝ RQ``), so the scale-free ratio ``√RQ_d / RV_d`` is what attenuates the daily coefficient; the
    forecast has the log-normal correction of HAR-RV. Added because the levels HARQ inherits levels OLS's
    weakness the daily ``HAR`` docstring measured (a crash-dominated fit)."""

    name = "HARQ-log"
    regressors = ("rv_d", "rq_d", "rv_w", "rv_m")

    def design(self, panel: pd.DataFrame) -> pd.DataFrame:
        x = panel[list(self.regressors)].dropna()
        x = x[x["rv_d"] > 0]
        log_d = np.log(x["rv_d"].clip(lower=LOG_FLOOR))
        noise = np.sqrt(x["rq_d"]) / x["rv_d"]
        return pd.DataFrame(
            {
                "const": 1.0,
                "rv_d": log_d,
                "rv_q": log_d * noise,
                "rv_w": np.log(x["rv_w"].clip(lower=LOG_FLOOR)),
                "rv_m": np.log(x["rv_m"].clip(lower=LOG_FLOOR)),
            },
            index=x.index,
        )
