"""Hourly candles on a complete hourly grid, the realised measures built from them, and the 24-hour target.

**Time convention.** Rows are indexed by the *end* of each hour (the time its close is known): the candle that
``../shared/data`` labels ``10:00`` (its period start) is the row ``11:00``. A forecast issued "at hour t" uses the
rows at or before ``t``; its target is the 24 hours ``(t, t + 24 h]``, i.e. the rows ``t + 1 h … t + 24 h``.

**Gaps stay gaps.** The grid runs every hour from the first candle to the last; a missing candle is a row of NaN,
and so is the return of the hour after it (``r_t = ln(C_t / C_{t-1h})`` needs both closes), never a zero return.
A return across a gap is not an hourly return and is dropped. Sums of squared returns over a window are
**scaled by the hours observed**: ``n_hours × mean(observed r²)``, and left NaN when fewer than the window's
``min_obs`` hours are observed (the 24-hour target needs 20 of 24; trailing regressors half their window). So a
one-hour outage leaves the target defined (scaled by 24/23) instead of biasing it down by one hour's variance,
and a 33-hour outage (2018-02-08) leaves the target undefined for the windows it covers; those hours are not
scored. The 24-hour return ``ln(C_{t+24h} / C_t)`` is defined whenever both closes exist.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from oracle.data.prices import Gap, gaps, load_ohlc
from oracle.errors import PriceDataError

HOUR = pd.Timedelta(hours=1)
DAY_HOURS = 24
WEEK_HOURS = 7 * DAY_HOURS
MONTH_HOURS = 30 * DAY_HOURS  # crypto trades every day: a month of HAR is 30 calendar days, not 22 trading days
TARGET_MIN_OBS = 20  # of the 24 hourly returns in a target window


class HourlySummary(BaseModel):
    """What a loaded hourly file covers, with its gaps (from ``oracle.data.prices.gaps``)."""

    model_config = ConfigDict(frozen=True)

    asset: str
    first: datetime  # end of the first hour
    last: datetime  # end of the last hour
    hours: int  # rows of the grid, gaps included
    observed: int  # candles present
    gaps: list[Gap]

    @property
    def missing(self) -> int:
        return self.hours - self.observed


def hourly_grid(ohlc: pd.DataFrame) -> pd.DataFrame:
    """Candles (indexed by period start, as in the files) on a complete grid indexed by hour end, with the hourly
    log return ``r`` (NaN where this hour's or the previous hour's candle is missing)."""
    if ohlc.empty:
        raise PriceDataError("no hourly candles")
    frame = ohlc[["open", "high", "low", "close"]].copy()
    frame.index = frame.index + HOUR
    grid = frame.reindex(pd.date_range(frame.index[0], frame.index[-1], freq=HOUR, name="time"))
    grid["r"] = np.log(grid["close"]).diff()  # NaN next to a missing close: a gap is not a zero return
    return grid


def load_hourly(path: Path) -> tuple[pd.DataFrame, HourlySummary]:
    """One ``<asset>_usd_1h.csv`` file (validated by ``load_ohlc``) on its hourly grid, and its summary."""
    if not path.name.endswith("_usd_1h.csv"):
        raise PriceDataError(f"{path}: not an <asset>_usd_1h.csv file")
    ohlc = load_ohlc(path)
    grid = hourly_grid(ohlc)
    summary = HourlySummary(
        asset=path.name.split("_usd_")[0],
        first=grid.index[0].to_pydatetime(),
        last=grid.index[-1].to_pydatetime(),
        hours=len(grid),
        observed=int(grid["close"].notna().sum()),
        gaps=gaps(ohlc, HOUR),
    )
    return grid, summary


def load_hourly_dir(
    data_dir: Path, assets: list[str] | None = None, min_days: int = 730
) -> dict[str, tuple[pd.DataFrame, HourlySummary]]:
    """Every hourly file of ``data_dir`` spanning at least ``min_days`` (or exactly ``assets``), by asset.

    Why a span floor: ``../shared/data`` also holds ten months of BNB and ADA, too short to train and then test a
    walk-forward forecaster on; ranges come from the files, nothing is hard-coded."""
    files = {p.name.split("_usd_")[0]: p for p in sorted(data_dir.glob("*_usd_1h.csv"))}
    missing = [a for a in assets or [] if a not in files]
    if missing:
        raise PriceDataError(f"no hourly file for {missing} in {data_dir}")
    out = {}
    for asset in assets or list(files):
        grid, summary = load_hourly(files[asset])
        if assets or summary.last - summary.first >= pd.Timedelta(days=min_days):
            out[asset] = (grid, summary)
    if not out:
        raise PriceDataError(f"no <asset>_usd_1h.csv file spanning {min_days} days in {data_dir}")
    return out


def daily_scaled(x: pd.Series, hours: int, min_obs: int) -> pd.Series:
    """``24 × mean`` of the observed values of ``x`` over the ``hours`` rows ending at each row (the grid is
    regular, so rows are hours): a 24-hour sum scaled by the hours observed, or over a longer window the mean
    24-hour sum; NaN with fewer than ``min_obs`` observed."""
    return x.rolling(hours, min_periods=min_obs).mean() * DAY_HOURS


def realised_measures(grid: pd.DataFrame) -> pd.DataFrame:
    """Per hour ``t``, from the returns at or before ``t`` only, each in daily (24-hour) variance units:

    - ``rv_d``, ``rv_w``, ``rv_m``: realised variance of the last 24 h, and the mean daily RV of the last 7 and 30
      days (Corsi's HAR components ending at ``t``);
    - ``rs_pos``, ``rs_neg``: the last 24 h's realised semivariances (squared positive / negative returns; they
      sum to ``rv_d``, Barndorff-Nielsen, Kinnebrock & Shephard 2010);
    - ``rq_d``: the last 24 h's realised quarticity ``(n/3) Σ r⁴`` with n = 24 (Bollerslev, Patton &
      Quaedvlieg 2016), scaled by observed hours like the rest.
    """
    r = grid["r"]
    r2 = r**2
    day, half = DAY_HOURS, DAY_HOURS // 2
    return pd.DataFrame(
        {
            "rv_d": daily_scaled(r2, day, half),
            "rv_w": daily_scaled(r2, WEEK_HOURS, WEEK_HOURS // 2),
            "rv_m": daily_scaled(r2, MONTH_HOURS, MONTH_HOURS // 2),
            "rs_pos": daily_scaled(r2.where(r > 0, 0.0).where(r.notna()), day, half),
            "rs_neg": daily_scaled(r2.where(r < 0, 0.0).where(r.notna()), day, half),
            "rq_d": daily_scaled(r**4, day, half) * day / 3,
        },
        index=grid.index,
    )


def next_24h_target(grid: pd.DataFrame) -> pd.DataFrame:
    """Per issue hour ``t``: ``rv`` = realised variance of ``(t, t + 24 h]`` (24 × the mean squared observed hourly
    return; NaN with fewer than ``TARGET_MIN_OBS`` of the 24 observed), ``n_obs`` the returns observed, and
    ``r24`` = ``ln(C_{t+24h} / C_t)``, the 24-hour return the VaR is tested on (NaN if either close is missing)."""
    r2 = grid["r"] ** 2
    window = r2.rolling(DAY_HOURS, min_periods=1)
    n_obs = window.count().shift(-DAY_HOURS)
    mean = r2.rolling(DAY_HOURS, min_periods=TARGET_MIN_OBS).mean().shift(-DAY_HOURS)
    log_close = np.log(grid["close"])
    return pd.DataFrame(
        {"rv": mean * DAY_HOURS, "n_obs": n_obs, "r24": log_close.shift(-DAY_HOURS) - log_close}, index=grid.index
    )


def intraday_panel(grid: pd.DataFrame) -> pd.DataFrame:
    """The grid, its realised measures and its targets side by side: what every hourly model reads. Only the
    measure and return columns are known at their row's hour; ``rv``, ``n_obs`` and ``r24`` are the future and
    may be learned from only once ``t + 24 h`` has passed."""
    return pd.concat([grid, realised_measures(grid), next_24h_target(grid)], axis=1)
