"""The SHAP background: recent feature vectors of the market.

Why recent and pooled over assets: the base value of an explanation should read as "what the oracle recommends
for a typical asset of this market lately", so that the attributions say what is different *now and for this
asset*. Volatility features are rebuilt for each of the last ``days`` days from the feed history with the
committed model (what it would have forecast that day); market-state features (density, depth, gas, ...) exist
only at the snapshot's block and keep their current values. Later cycles add the journal's stored vectors.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from oracle.chain.snapshot import MarketSnapshot
from oracle.models.base import daily_history
from oracle.models.live import daily_candles
from oracle.models.volatility import NeuralForecaster
from oracle.policy.features import FEATURE_NAMES, AssetFeatures, tail_quantile

BACKGROUND_DAYS = 30


def recent_forecasts(model: NeuralForecaster, candles: pd.DataFrame, days: int) -> pd.DataFrame:
    """The model's forecasts (sigma, q99, regime) made on each of the last ``days`` days of ``candles``, indexed by
    the day they forecast (each from the history up to the day before)."""
    history = daily_history(candles)
    start = history.index[max(0, len(history) - days)]
    made = model.forecast(history, start)
    regime = model.regime_labels(history).reindex(made.index - pd.Timedelta(days=1))
    return pd.DataFrame({
        "sigma_1d": np.sqrt(made["variance"].to_numpy()),
        "tail_q99": [tail_quantile(d) for d in made["dof"]],
        "regime": regime.to_numpy(),
    }, index=made.index).dropna()


def recent_background(
    snapshot: MarketSnapshot, features: dict[str, AssetFeatures], model: NeuralForecaster | None,
    days: int = BACKGROUND_DAYS,
) -> np.ndarray:
    """Background rows: per asset and recent day, the current features with that day's volatility features;
    the current vectors alone when there is no model or no usable history."""
    rows: list[np.ndarray] = []
    for asset in snapshot.assets:
        current = features[asset.symbol]
        rows.append(current.vector())
        if model is None:
            continue
        try:
            recent = recent_forecasts(model, daily_candles(asset), days)
        except (ValueError, KeyError, IndexError):
            continue  # too little history for the model: this asset adds only its current vector
        for _, day in recent.iterrows():
            values = {k: float(day[k]) for k in ("sigma_1d", "tail_q99", "regime")}
            if all(math.isfinite(v) for v in values.values()):
                rows.append(AssetFeatures(**{**current.model_dump(), **values}).vector())  # validated: quantized
    background = np.vstack(rows)
    assert background.shape[1] == len(FEATURE_NAMES)
    return background
