"""The SHAP background: recent feature vectors of the market.

Why recent and pooled over assets: the base value of an explanation should read as "what the oracle recommends
for a typical asset of this market lately", so that the attributions say what is different *now and for this
asset*. Volatility features come from what the committed model forecast on each of the last ``days`` days (the
cycle's forecast track, computed once by ``oracle.pipeline``); market-state features (density, depth, gas, ...)
exist only at the snapshot's block and keep their current values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from oracle.models.base import daily_history
from oracle.models.volatility import NeuralForecaster
from oracle.policy.features import AssetFeatures, tail_quantile

BACKGROUND_DAYS = 30
TRACK_COLUMNS = ("sigma_1d", "tail_q99", "regime")


def recent_forecasts(model: NeuralForecaster, candles: pd.DataFrame, days: int) -> pd.DataFrame:
    """The model's forecasts (sigma, q99, regime) made on each of the last ``days`` days of ``candles``, indexed by
    the day they forecast (each from the history up to the day before). Rows are kept where the regime is not yet
    known (NaN), so that the last ``n <= days`` rows are exactly what ``days=n`` would give: callers drop them."""
    history = daily_history(candles)
    start = history.index[max(0, len(history) - days)]
    made = model.forecast(history, start)
    regime = model.regime_labels(history).reindex(made.index - pd.Timedelta(days=1))
    return pd.DataFrame(
        {
            "sigma_1d": np.sqrt(made["variance"].to_numpy()),
            "tail_q99": [tail_quantile(d) for d in made["dof"]],
            "regime": regime.to_numpy(),
        },
        index=made.index,
    )


def recent_background(
    features: Mapping[str, AssetFeatures],
    tracks: Mapping[str, pd.DataFrame | None],
    days: int = BACKGROUND_DAYS,
) -> np.ndarray:
    """Background rows: per asset and recent day, the current features with that day's volatility features
    (from ``tracks``, the model's recent forecasts by symbol, at least ``days`` long); the current vector alone
    for an asset without a track (no model, or too little history for it)."""
    rows: list[np.ndarray] = []
    for symbol, current in features.items():
        rows.append(current.vector())
        track = tracks.get(symbol)
        if track is None:
            continue
        for _, day in track.tail(days).dropna().iterrows():
            values = {k: float(day[k]) for k in TRACK_COLUMNS}
            if all(math.isfinite(v) for v in values.values()):
                rows.append(AssetFeatures(**{**current.model_dump(), **values}).vector())  # validated: quantized
    background = np.vstack(rows)
    width = {len(f.names) for f in features.values()}
    if width != {background.shape[1]}:
        raise ValueError(f"background rows have {background.shape[1]} columns, the features {sorted(width)}")
    return background
