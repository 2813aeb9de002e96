"""``VolForecast``: one asset's volatility forecast for the day after a snapshot, as every later stage reads it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


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
