"""Price history from CSV files in the format of ``../shared/data`` (``<asset>_usd_<1d|1h>.csv``), validated.

Why validate on load: a model or a feed replay fed a NaN, a duplicate timestamp or an unsorted file produces
nonsense silently. Files must be sorted with unique timestamps and finite positive prices, and candles
consistent (``low <= open, close <= high``); gaps are reported, never interpolated.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from oracle.errors import PriceDataError

PRICE_COLUMNS = ("open", "high", "low", "close")


class Gap(BaseModel):
    """A stretch longer than one period without a candle."""

    model_config = ConfigDict(frozen=True)

    after: datetime
    before: datetime
    missing_periods: int


def price_file(data_dir: Path, asset: str, interval: str = "1d") -> Path:
    """The file of ``asset`` (e.g. ``eth``) at ``interval`` (``1d`` or ``1h``) in ``data_dir``."""
    return data_dir / f"{asset}_usd_{interval}.csv"


def load_ohlc(path: Path) -> pd.DataFrame:
    """OHLC candles indexed by UTC timestamp; raises ``PriceDataError`` naming the file, row and column."""
    if not path.is_file():
        raise PriceDataError(f"price file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise PriceDataError(f"{path}: not a readable CSV: {exc}") from exc
    return validate_ohlc(frame, str(path))


def validate_ohlc(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Check a frame with ``timestamp, open, high, low, close`` columns and index it by UTC timestamp."""
    frame = frame.copy()
    missing = [c for c in ("timestamp", *PRICE_COLUMNS) if c not in frame.columns]
    if missing:
        raise PriceDataError(f"{source}: missing columns {missing}")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="ISO8601")
    if frame["timestamp"].isna().any():
        row = int(frame["timestamp"].isna().to_numpy().argmax())
        raise PriceDataError(f"{source}: row {row + 2}: unparseable timestamp")
    for col in PRICE_COLUMNS:
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values) | (values <= 0)
        if bad.any():
            row = int(bad.argmax())
            raise PriceDataError(f"{source}: row {row + 2}: {col} = {frame[col].iloc[row]!r} is not a positive number")
        frame[col] = values
    stamps = frame["timestamp"]
    if stamps.duplicated().any():
        raise PriceDataError(f"{source}: duplicate timestamp {stamps[stamps.duplicated()].iloc[0]}")
    if not stamps.is_monotonic_increasing:
        raise PriceDataError(f"{source}: timestamps are not sorted ascending")
    inconsistent = (frame["low"] > frame[["open", "close"]].min(axis=1)) | (
        frame["high"] < frame[["open", "close"]].max(axis=1)
    )
    if inconsistent.any():
        row = int(inconsistent.to_numpy().argmax())
        raise PriceDataError(f"{source}: row {row + 2}: candle with low/high outside open/close")
    return frame.set_index("timestamp")


def liquid_start(daily: pd.DataFrame, run: int = 365) -> pd.Timestamp:
    """The day after the last flat daily candle (high == low: a day without a trade) that comes before the first
    ``run`` consecutive candles without one; the first day when no candle is flat.

    Why: an asset's first months after listing (BTC in 2010-11, ETH in 2015, DOGE to 2017) have flat candles,
    whose zero range measures no variance. From there on the candles are those of a traded market. A lone flat
    candle after a clean year (a data glitch) does not move the start; ``daily_history`` drops that day."""
    start = 0
    for flat in np.flatnonzero((daily["high"] <= daily["low"]).to_numpy()):
        if flat - start >= run:
            break
        start = int(flat) + 1
    return daily.index[min(start, len(daily) - 1)]


def gaps(frame: pd.DataFrame, period: pd.Timedelta) -> list[Gap]:
    """Stretches longer than ``period`` between consecutive candles."""
    index = frame.index
    steps = index[1:] - index[:-1]
    return [
        Gap(after=index[i].to_pydatetime(), before=index[i + 1].to_pydatetime(), missing_periods=int(step / period) - 1)
        for i, step in enumerate(steps)
        if step > period
    ]


def closes(data_dir: Path, asset: str, start: str, end: str, interval: str = "1d") -> list[tuple[datetime, float]]:
    """Closes of ``asset`` between ``start`` and ``end`` (inclusive ISO dates), oldest first, for feed replay."""
    frame = load_ohlc(price_file(data_dir, asset, interval)).loc[start:end]
    if frame.empty:
        raise PriceDataError(f"{asset}: no {interval} candles between {start} and {end} in {data_dir}")
    return [(t.to_pydatetime(), float(c)) for t, c in frame["close"].items()]


# --------------------------------------------------------------------------- returns and variance proxies

LN2 = float(np.log(2.0))


def log_returns(close: pd.Series) -> pd.Series:
    """Close-to-close log returns (the first period has none)."""
    return np.log(close).diff().dropna()


def parkinson_variance(frame: pd.DataFrame) -> pd.Series:
    """Parkinson's range estimator of each period's variance: ``ln(H/L)² / (4 ln 2)``."""
    return np.log(frame["high"] / frame["low"]) ** 2 / (4 * LN2)


def garman_klass_variance(frame: pd.DataFrame) -> pd.Series:
    """Garman–Klass estimator: ``0.5 ln(H/L)² − (2 ln 2 − 1) ln(C/O)²`` (floored at a tiny positive value,
    since single candles can make it non-positive)."""
    hl = np.log(frame["high"] / frame["low"]) ** 2
    co = np.log(frame["close"] / frame["open"]) ** 2
    return (0.5 * hl - (2 * LN2 - 1) * co).clip(lower=1e-12)


def realised_variance(hourly: pd.DataFrame, horizon: str = "24h") -> pd.Series:
    """Sum of squared hourly log returns per ``horizon`` window (labelled by the window's start), counting only
    windows with every hour present (a gap would bias the sum down)."""
    r = log_returns(hourly["close"])
    grouped = (r**2).resample(horizon)
    expected = int(pd.Timedelta(horizon) / pd.Timedelta("1h"))
    rv = grouped.sum()
    return rv[grouped.count() == expected]
