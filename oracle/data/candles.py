"""Daily candles rebuilt from a feed's on-chain rounds.

Why from the rounds: the oracle forecasts from what the chain shows at the snapshot's block, not from an off-chain
file that may disagree. A day is the 24-hour window ending at the feed's latest round (so the last window is
complete whatever the time of day); a cycle builds each asset's candles once (``oracle.pipeline``) and every stage
(forecast, correlation, SHAP background, report) reads the same frame.
"""

from __future__ import annotations

import pandas as pd

from oracle.domain.snapshot import AssetState

CANDLE_COLUMNS = ["open", "high", "low", "close", "rounds"]


def daily_candles(asset: AssetState) -> pd.DataFrame:
    """OHLC and round count of the 24-hour windows ending at the feed's latest round, oldest first."""
    if not asset.history:
        return pd.DataFrame(columns=CANDLE_COLUMNS)
    times = pd.to_datetime([r.updated_at for r in asset.history], unit="s", utc=True)
    rounds = pd.Series([r.answer / 10**asset.feed_decimals for r in asset.history], index=times)
    last = times[-1]
    window = (last - times) // pd.Timedelta(days=1)  # 0 = the 24 h up to and including the latest round
    grouped = rounds.groupby(last - window * pd.Timedelta(days=1))
    return grouped.ohlc().assign(rounds=grouped.size()).sort_index()


def contiguous_tail(candles: pd.DataFrame) -> pd.DataFrame:
    """The latest run of consecutive windows (a gap would make returns span two days)."""
    if candles.empty:
        return candles
    steps = candles.index.to_series().diff() != pd.Timedelta(days=1)
    return candles.loc[steps[steps].index[-1] :]
