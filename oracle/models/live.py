"""Live forecasts from a ``MarketSnapshot``: each asset's next-day volatility from its feed's daily candles.

The neural model needs ``MIN_HISTORY + seq_len`` consecutive days with a range. With less, or with gaps, the
forecast falls back to EWMA on the daily closes and says so, with the reason, for the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from oracle.data.candles import contiguous_tail, daily_candles
from oracle.domain.forecast import VolForecast
from oracle.domain.snapshot import AssetState, MarketSnapshot
from oracle.errors import ModelError
from oracle.models.base import daily_history, ewma_variances, unit_t_ppf
from oracle.models.volatility import MIN_HISTORY, NeuralForecaster

MIN_ROUNDS_PER_DAY = 2  # fewer and a day has no range
EWMA_MIN_DAYS = 10


def _ewma(asset: str, closes: pd.Series, reason: str) -> VolForecast:
    r = np.diff(np.log(closes.to_numpy()))
    if r.size < EWMA_MIN_DAYS:
        raise ModelError(f"{asset}: {r.size} daily returns on chain, even the EWMA fallback needs {EWMA_MIN_DAYS}")
    var = float(ewma_variances(r)[-1])
    sigma = math.sqrt(var)
    return VolForecast(
        asset=asset,
        variance=var,
        sigma=sigma,
        dof=None,
        var99=1 - math.exp(float(unit_t_ppf(0.01, None)) * sigma),
        regime=None,
        source="ewma-fallback",
        reason=reason,
        history_days=int(r.size),
    )


def forecast_asset(
    asset: AssetState, model: NeuralForecaster | None, candles: pd.DataFrame | None = None
) -> VolForecast:
    """The neural forecast when the feed's history allows it, else the EWMA fallback with its reason
    (``candles``: the asset's daily candles, when the caller has built them already)."""
    symbol = asset.symbol
    candles = daily_candles(asset) if candles is None else candles
    run = contiguous_tail(candles)
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
            q01 = float(unit_t_ppf(0.01, dof))
            return VolForecast(
                asset=symbol,
                variance=variance,
                sigma=sigma,
                dof=dof,
                var99=1 - math.exp(q01 * sigma),
                regime=model.regime_of(history),
                source="neural",
                reason="",
                history_days=len(run),
            )
    return _ewma(symbol, candles["close"] if not candles.empty else pd.Series(dtype=float), reason)


def forecast(
    snapshot: MarketSnapshot, model: NeuralForecaster | None, candles: Mapping[str, pd.DataFrame] | None = None
) -> tuple[VolForecast, ...]:
    """Next-day forecasts for every collateral asset of ``snapshot`` (from ``candles`` by symbol when the caller
    has built them already)."""
    return tuple(forecast_asset(a, model, None if candles is None else candles[a.symbol]) for a in snapshot.assets)
