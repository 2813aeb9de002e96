"""Forecasts of the next 24 hours' realised variance issued every hour, and the walk-forward that makes them.

Every model reads an ``intraday_panel`` (``oracle.data.hourly``): the hourly grid indexed by hour end, its
realised measures and the targets. ``fit(panel, until)`` learns from returns at or before ``until`` and from the
targets complete by then; ``forecast(panel, start, end)`` gives, for each issue hour ``t`` in ``[start, end)``,
the variance of the log return over ``(t, t + 24 h]`` and the standardized quantiles ``q01``, ``q05`` of that
24-hour return, from data at or before ``t`` only.

Baselines here: RiskMetrics EWMA on hourly returns and GARCH(1,1)-t on hourly returns (``arch``), each summed
over the next 24 hourly steps. Their tails, like the HAR family's, are the in-sample empirical quantiles of the
standardized 24-hour return: the hourly Student-t of the GARCH does not carry over to a sum of 24 returns.

The daily models of ``oracle.models.evaluate`` enter through ``daily_on_hourly``: the forecast for day ``D``,
made from days before ``D``, is issued at ``D 00:00`` and held until the next midnight.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Self

import numpy as np
import pandas as pd
from arch import arch_model
from arch.univariate.base import ARCHModel

from oracle.data.hourly import DAY_HOURS, HOUR, MONTH_HOURS
from oracle.errors import ModelError
from oracle.models.base import EWMA_LAMBDA, empirical_quantiles, ewma_variances
from oracle.models.har import Harq, HarRv, LogHarq, SemivarianceHar, training_rows

SCALE = 100.0  # arch prefers returns in percent
HOURLY_LAMBDA = EWMA_LAMBDA ** (1 / DAY_HOURS)  # RiskMetrics' daily decay per hour: the same half-life (11 days)
MIN_TRAIN_HOURS = 120 * DAY_HOURS  # history before an asset's first forecast


class HourlyModel(Protocol):
    name: str
    refit_hours: int

    def fit(self, panel: pd.DataFrame, until: pd.Timestamp) -> Self: ...

    def forecast(self, panel: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...


def _quantiles(rows: pd.DataFrame, variance: pd.Series) -> dict[str, float]:
    """In-sample quantiles of the standardized 24-hour return over the training rows."""
    return empirical_quantiles(rows["r24"], variance.reindex(rows.index))


class HourlyEWMA:
    """RiskMetrics on hourly returns, ``σ²_{h+1} = λ σ²_h + (1 − λ) r_h²`` with λ = 0.94^(1/24), started at the
    mean square of the first 30 days' returns; the 24-hour forecast is ``24 σ²``. Missing hours are skipped (the
    recursion runs over observed returns); at a missing hour the last forecast stands."""

    name = "EWMA"
    refit_hours = 30 * DAY_HOURS  # only the tail quantiles are fitted

    def __init__(self, lam: float = HOURLY_LAMBDA, warmup: int = MONTH_HOURS) -> None:
        self.lam = lam
        self.warmup = warmup
        self.quantiles: dict[str, float] = {}

    def path(self, panel: pd.DataFrame, end: pd.Timestamp | None = None) -> pd.Series:
        """The 24-hour forecast issued at each hour of ``panel`` (to ``end``), from the returns up to it."""
        r = panel["r"].loc[: end - HOUR if end is not None else None].dropna()
        after = ewma_variances(r.to_numpy(), self.lam, self.warmup)[1:]  # entry i: after return i
        var = pd.Series(after * DAY_HOURS, index=r.index).iloc[self.warmup :]
        grid = panel.index[(panel.index >= var.index[0]) & (panel.index <= var.index[-1])] if len(var) else var.index
        return var.reindex(grid).ffill()

    def fit(self, panel: pd.DataFrame, until: pd.Timestamp) -> Self:
        rows = training_rows(panel, until)
        self.quantiles = _quantiles(rows, self.path(panel, until + HOUR))
        return self

    def forecast(self, panel: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        var = self.path(panel, end).loc[start:]
        return pd.DataFrame({"variance": var, **self.quantiles}, index=var.index)


class HourlyGarchT:
    """GARCH(1,1) with Student-t innovations and a constant mean on the observed hourly returns (``arch``);
    refitted every 30 days, and between refits filtered every hour with the fitted parameters. The 24-hour forecast
    is the sum of the analytic 1…24-step variance forecasts. Missing hours are skipped, as in the EWMA."""

    name = "GARCH-t"
    refit_hours = 30 * DAY_HOURS

    def __init__(self) -> None:
        self.params: pd.Series | None = None
        self.quantiles: dict[str, float] = {}

    @staticmethod
    def _model(r: pd.Series) -> ARCHModel:
        return arch_model(r * SCALE, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False)

    def _path(self, r: pd.Series, first: int) -> pd.Series:
        """24-hour forecasts issued after each observed return from position ``first`` on: ``arch`` filters the
        returns with the fitted parameters; the sum of its 1…24-step forecasts is linear in the one-step one,
        ``Σ_h E σ²_{t+h} = A + B σ²_{t+1}`` (the GARCH(1,1) recursion, persistence p = α + β), so it is taken for
        every hour at once instead of through ``forecast(horizon=24)`` origin by origin (the same numbers,
        checked in ``tests/test_intraday_har.py``, at a thousandth of the cost)."""
        if self.params is None:
            raise ModelError("fit first")
        res = self._model(r).fix(self.params)
        omega, alpha, beta = (float(self.params[k]) for k in ("omega", "alpha[1]", "beta[1]"))
        resid = np.asarray(res.resid, dtype=float)
        var = np.asarray(res.conditional_volatility, dtype=float) ** 2
        one_step = omega + alpha * resid**2 + beta * var  # σ²_{t+1} issued after return t
        powers = (alpha + beta) ** np.arange(DAY_HOURS)  # p^(h-1), h = 1..24
        a = omega * np.sum(np.cumsum(np.concatenate([[0.0], powers[:-1]])))  # Σ_h ω (1 + p + … + p^(h-2))
        b = float(powers.sum())
        return pd.Series((a + b * one_step[first:]) / SCALE**2, index=r.index[first:])

    def fit(self, panel: pd.DataFrame, until: pd.Timestamp) -> Self:
        r = panel["r"].loc[:until].dropna()
        self.params = self._model(r).fit(disp="off", show_warning=False).params
        rows = training_rows(panel, until)
        self.quantiles = _quantiles(rows, self._path(r, min(MONTH_HOURS, len(r) - 1)))
        return self

    def forecast(self, panel: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        if self.params is None:
            raise ModelError("fit first")
        r = panel["r"].loc[: end - HOUR].dropna()
        first = int(r.index.searchsorted(start))
        if first >= len(r):
            return pd.DataFrame(columns=["variance", *self.quantiles])
        # the last observed return before start seeds the hours of a gap at the window's start
        seed = max(first - 1, 0)
        var = self._path(r, seed)
        hours = panel.index[(panel.index >= start) & (panel.index < end)]
        var = var.reindex(var.index.union(hours)).ffill().reindex(hours).dropna()
        return pd.DataFrame({"variance": var, **self.quantiles}, index=var.index)


HOURLY_MODELS: dict[str, Callable[[], HourlyModel]] = {
    "HAR-RV": HarRv,
    "HARQ": Harq,
    "HARQ-log": LogHarq,
    "SHAR": SemivarianceHar,
    "EWMA": HourlyEWMA,
    "GARCH-t": HourlyGarchT,
}


def walk_forward_hourly(
    panels: dict[str, pd.DataFrame],
    start: pd.Timestamp,
    end: pd.Timestamp,
    models: dict[str, Callable[[], HourlyModel]] | None = None,
    *,
    min_train_hours: int = MIN_TRAIN_HOURS,
) -> pd.DataFrame:
    """Out-of-sample forecasts issued every hour of ``[start, end)`` by every model for every asset: one row per
    (asset, time, model) with ``variance``, ``q01``, ``q05``, and the target ``rv`` and return ``r24``.

    Expanding window: each model is refitted every ``refit_hours`` (its own cadence) at ``T`` on what is known at
    ``T``, and forecasts ``[T, T + refit_hours)``; the panel passed to ``forecast`` ends with that window, so
    nothing after it is even visible. An asset's first refit is ``min_train_hours`` after its first hour."""
    rows = []
    for asset, panel in panels.items():
        first = max(start, panel.index[0] + min_train_hours * HOUR)
        stop = min(end, panel.index[-1] + HOUR)
        for make in (models or HOURLY_MODELS).values():
            model = make()
            refit = first
            while refit < stop:
                nxt = min(refit + model.refit_hours * HOUR, stop)
                visible = panel.loc[: nxt - HOUR]
                f = model.fit(visible, refit).forecast(visible, refit, nxt)
                rows.append(f[["variance", "q01", "q05"]].assign(asset=asset, model=model.name))
                refit = nxt
    out = pd.concat(rows).rename_axis("time").reset_index()
    return attach_targets(out, panels)


def attach_targets(forecasts: pd.DataFrame, panels: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Add each row's realised ``rv`` and ``r24`` from its asset's panel."""
    parts = []
    for asset, frame in forecasts.groupby("asset", sort=False):
        target = panels[str(asset)][["rv", "r24"]]
        parts.append(frame.join(target, on="time"))
    return pd.concat(parts, ignore_index=True)


def daily_on_hourly(
    daily: pd.DataFrame, panels: dict[str, pd.DataFrame], start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Daily forecasts (rows of ``oracle.models.evaluate.walk_forward``: ``day``, ``asset``, ``model``,
    ``variance``, ``q01``, ``q05``) as hourly-issued forecasts of the same 24-hour target: the forecast for day
    ``D`` holds at every issue hour of ``[D 00:00, D+1 00:00)``; models are renamed ``daily <model>``."""
    rows = []
    for (asset, model), f in daily.groupby(["asset", "model"], sort=False):
        if asset not in panels:
            continue
        by_day = f.set_index("day")[["variance", "q01", "q05"]]
        hours = panels[str(asset)].index
        hours = hours[(hours >= start) & (hours < end)]
        held = by_day.reindex(hours.floor("D"))
        held.index = hours
        rows.append(held.dropna().assign(asset=asset, model=f"daily {model}"))
    out = pd.concat(rows).rename_axis("time").reset_index()
    return attach_targets(out, panels)
