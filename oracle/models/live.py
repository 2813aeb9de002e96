"""Live forecasts from a ``MarketSnapshot``: each asset's next-day volatility from its feed's round history.

Why from the feed: the oracle must forecast from what the chain shows at the snapshot's block, not from an
off-chain file that may disagree. Rounds are rebuilt into daily candles (open, high, low, close of the rounds of
each UTC day); the neural model needs ``MIN_DAYS`` complete days with a range. With less, or with gaps, the
forecast falls back to EWMA on the daily closes and says so, with the reason, for the report.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy import stats

from oracle.chain.snapshot import AssetState, MarketSnapshot
from oracle.errors import ModelError
from oracle.models.base import daily_history
from oracle.models.volatility import MIN_HISTORY, NeuralForecaster

MIN_ROUNDS_PER_DAY = 2  # fewer and a day has no range
EWMA_LAMBDA = 0.94
EWMA_MIN_DAYS = 10


class VolForecast(BaseModel):
    """One asset's forecast for the day after the snapshot."""

    model_config = ConfigDict(frozen=True)

    asset: str
    variance: float  # of the next day's log return
    sigma: float
    dof: float | None  # Student-t tail of the neural model; None for the EWMA fallback (normal tail)
    var99: float  # one-day 99 % VaR of a long position, as a positive fraction of its value
    regime: float | None  # 0 calm, 0.5, 1 stressed (the model's in-sample k-means label); None for the fallback
    source: str  # "neural" or "ewma-fallback"
    reason: str  # why the fallback was used ("" for the neural model)
    history_days: int


def daily_candles(asset: AssetState) -> pd.DataFrame:
    """OHLC and round count of the 24-hour windows ending at the feed's latest round (so the last window is
    complete, whatever the time of day), oldest first."""
    if not asset.history:
        return pd.DataFrame(columns=["open", "high", "low", "close", "rounds"])
    times = pd.to_datetime([r.updated_at for r in asset.history], unit="s", utc=True)
    rounds = pd.Series([r.answer / 10**asset.feed_decimals for r in asset.history], index=times)
    last = times[-1]
    window = (last - times) // pd.Timedelta(days=1)  # 0 = the 24 h up to and including the latest round
    grouped = rounds.groupby(last - window * pd.Timedelta(days=1))
    return grouped.ohlc().assign(rounds=grouped.size()).sort_index()


def _contiguous_tail(candles: pd.DataFrame) -> pd.DataFrame:
    """The latest run of consecutive windows (a gap would make returns span two days)."""
    if candles.empty:
        return candles
    steps = candles.index.to_series().diff() != pd.Timedelta(days=1)
    return candles.loc[steps[steps].index[-1] :]


def _ewma(asset: str, closes: pd.Series, reason: str) -> VolForecast:
    r = np.diff(np.log(closes.to_numpy()))
    if r.size < EWMA_MIN_DAYS:
        raise ModelError(f"{asset}: {r.size} daily returns on chain, even the EWMA fallback needs {EWMA_MIN_DAYS}")
    var = float(np.mean(r[: min(30, r.size)] ** 2))
    for x in r:
        var = EWMA_LAMBDA * var + (1 - EWMA_LAMBDA) * x * x
    sigma = math.sqrt(var)
    return VolForecast(asset=asset, variance=var, sigma=sigma, dof=None, var99=1 - math.exp(stats.norm.ppf(0.01) * sigma),
                       regime=None, source="ewma-fallback", reason=reason, history_days=int(r.size))


def forecast_asset(asset: AssetState, model: NeuralForecaster | None) -> VolForecast:
    """The neural forecast when the feed's history allows it, else the EWMA fallback with its reason."""
    candles = daily_candles(asset)
    run = _contiguous_tail(candles)
    needed = MIN_HISTORY + (model.hp.seq_len if model else 0)
    thin_days = int((run["rounds"] < MIN_ROUNDS_PER_DAY).sum())
    if model is None:
        reason = "no model loaded"
    elif len(run) < needed:
        reason = f"{len(run)} consecutive days of feed history, the model needs {needed}"
    elif thin_days:
        reason = f"{thin_days} of the last {len(run)} days have fewer than {MIN_ROUNDS_PER_DAY} rounds: no daily range"
    else:
        ranged = run[(run["high"] > run["low"])]
        if len(ranged) < len(run):
            reason = f"{len(run) - len(ranged)} days without a price range"
        else:
            history = daily_history(run)
            variance, dof = model.predict_next(history)
            sigma = math.sqrt(variance)
            q01 = stats.t.ppf(0.01, dof) * math.sqrt((dof - 2) / dof)
            return VolForecast(asset=asset.symbol, variance=variance, sigma=sigma, dof=dof,
                               var99=1 - math.exp(q01 * sigma), regime=model.regime_of(history), source="neural",
                               reason="", history_days=len(run))
    return _ewma(asset.symbol, candles["close"] if not candles.empty else pd.Series(dtype=float), reason)


def forecast(snapshot: MarketSnapshot, model: NeuralForecaster | None) -> tuple[VolForecast, ...]:
    """Next-day forecasts for every collateral asset of ``snapshot``."""
    return tuple(forecast_asset(a, model) for a in snapshot.assets)
