"""The prices a backtest replays: real history before the window for the feeds to carry, the window's hourly market
prices, and the feed rounds they become.

- **Before the window** each feed carries ``HISTORY_DAYS`` of daily candles as four rounds a day (open, the day's
  first extreme, the other, close; ``oracle.data.demo_prices.ohlc_rounds``), as the demo's feeds do: the keeper's
  volatility model needs about 123 days of daily ranges.
- **In the window** the market price is the hourly close, known at the end of its hour; where an asset has only
  daily candles there, its four daily rounds stand in (and the result says so). Gaps stay gaps.
- **Feeds update as real feeds do** (:func:`feed_rounds`): a new round when the price has moved by the feed's
  deviation threshold since the last round, or when its heartbeat has elapsed; otherwise the feed lags the market.

Sources: ``--data-dir`` (files in ``../shared/data`` format) or, with none, the embedded extract: June 2022 hourly
(``oracle/data/backtest/``, see its PROVENANCE.md) on the demo's daily candles (2022-01-01 to 2022-06-30).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import pandas as pd

from oracle.backtest.windows import Window
from oracle.data.demo_prices import Rounds, load_demo_ohlc, ohlc_rounds
from oracle.data.hourly import hourly_grid
from oracle.data.prices import load_ohlc, price_file
from oracle.errors import ConfigError, PriceDataError

HISTORY_DAYS = 150
EMBEDDED_HOURLY = Path(__file__).resolve().parents[1] / "data" / "backtest"

Resolution = Literal["1h", "1d"]


@dataclass(frozen=True)
class PricePath:
    """One asset's prices for one window."""

    key: str  # the price source (``eth``), as in the policy's ``price_source``
    history: Rounds  # feed rounds before the window (daily candles, four rounds each)
    market: pd.Series  # market price at each tick of the window (UTC times, oldest first; NaN: a gap)
    resolution: Resolution  # "1h" when the window has hourly candles, "1d" when only daily ones

    @property
    def start_price(self) -> float:
        return float(self.market.dropna().iloc[0])


def _day(ts: datetime | pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _daily(key: str, data_dir: Path | None) -> pd.DataFrame:
    if data_dir is None:
        frames = load_demo_ohlc()
        if key not in frames:
            raise ConfigError(f"the embedded extract has no prices for {key!r} (it has {sorted(frames)}): --data-dir")
        return frames[key]
    path = price_file(data_dir, key)
    if not path.is_file():
        raise ConfigError(f"no price file for {key!r}: {path} does not exist")
    return load_ohlc(path)


def _hourly(key: str, data_dir: Path | None) -> pd.DataFrame | None:
    path = price_file(EMBEDDED_HOURLY if data_dir is None else data_dir, key, "1h")
    return hourly_grid(load_ohlc(path)) if path.is_file() else None


def load_path(key: str, window: Window, data_dir: Path | None = None) -> PricePath:
    """``key``'s prices for ``window``; raises ``ConfigError`` naming the asset and what the data covers when the
    window (or the history before it) is outside it."""
    daily = _daily(key, data_dir)
    start = pd.Timestamp(window.start, tz="UTC")
    end = pd.Timestamp(window.end, tz="UTC")  # the last day's candle (period start)
    first_needed = start - pd.Timedelta(days=HISTORY_DAYS)
    source = "the embedded extract" if data_dir is None else str(data_dir)
    covers = f"{source} has daily {key} from {_day(daily.index[0])} to {_day(daily.index[-1])}"
    if daily.index[0] > first_needed:
        raise ConfigError(
            f"window {window.label()}: {key} needs {HISTORY_DAYS} days of history before {window.start}; {covers}"
        )
    before = daily.loc[first_needed : start - pd.Timedelta(days=1)]
    hourly = _hourly(key, data_dir)
    # hourly rows are indexed by the end of their hour: the window's are (start, end + 1 day]
    in_window = None
    if hourly is not None:
        rows = hourly.loc[start + pd.Timedelta(hours=1) : end + pd.Timedelta(days=1), "close"]
        if len(rows) == window.hours and rows.notna().any():
            in_window = rows
    if in_window is not None:
        return PricePath(key, ohlc_rounds(before), in_window.astype(float), "1h")
    days = daily.loc[start:end]
    if len(days) < window.days:
        raise ConfigError(f"window {window.label()} is outside the data: {covers}")
    rounds = ohlc_rounds(days)
    market = pd.Series([p for _, p in rounds], index=pd.DatetimeIndex([t for t, _ in rounds]), dtype=float)
    return PricePath(key, ohlc_rounds(before), market, "1d")


def load_paths(keys: Sequence[str], window: Window, data_dir: Path | None = None) -> dict[str, PricePath]:
    """Every asset's path for ``window`` (see ``load_path``); the first asset the data cannot cover raises."""
    return {k: load_path(k, window, data_dir) for k in keys}


def full_window(keys: Sequence[str], data_dir: Path | None = None) -> Window:
    """``all``: every whole day on which each asset has data, after the history the feeds need."""
    dailies = [_daily(k, data_dir) for k in keys]
    first = max(d.index[0] for d in dailies) + pd.Timedelta(days=HISTORY_DAYS)
    last = min(d.index[-1] for d in dailies)
    if last < first:
        raise ConfigError(f"no day on which every asset of {list(keys)} has {HISTORY_DAYS} days of history")
    return Window(name="all", start=first.date(), end=last.date())


def feed_rounds(
    market: pd.Series, deviation: float, heartbeat_s: int, last: tuple[datetime, float]
) -> list[tuple[datetime, float]]:
    """The rounds a feed publishes while the market moves along ``market``: at a tick, a round when the price is at
    least ``deviation`` away from the last round's, or ``heartbeat_s`` has passed since it; ``last`` is the round
    the feed holds before the first tick. Ticks without a price (gaps) publish nothing."""
    if not (0 <= deviation < 1) or heartbeat_s <= 0:
        raise ValueError(f"deviation {deviation} must be in [0, 1) and heartbeat {heartbeat_s} s > 0")
    last_time, last_price = last
    heartbeat = timedelta(seconds=heartbeat_s)
    out: list[tuple[datetime, float]] = []
    for ts, price in market.items():
        if not math.isfinite(price) or price <= 0:
            continue
        t = pd.Timestamp(ts).to_pydatetime()
        if abs(price / last_price - 1) >= deviation or t - last_time >= heartbeat:
            out.append((t, float(price)))
            last_time, last_price = t, float(price)
    return out


def schedule(
    paths: Mapping[str, PricePath], deviation: Mapping[str, float], heartbeat_s: Mapping[str, int]
) -> dict[str, list[tuple[datetime, float]]]:
    """Every asset's feed rounds in the window (``feed_rounds`` from the last history round)."""
    out = {}
    for key, p in paths.items():
        if key not in deviation or key not in heartbeat_s:
            raise ConfigError(f"no feed deviation or heartbeat for price source {key!r}")
        last = p.history[-1] if p.history else (datetime.fromtimestamp(0, UTC), p.start_price)
        out[key] = feed_rounds(p.market, deviation[key], heartbeat_s[key], last)
    return out


def gas_gwei(window: Window, data_dir: Path | None = None) -> pd.Series:
    """Etherscan's daily average gas price (gwei) on every day of ``window`` (``onchain/gas_price_1d.csv``); a day
    the series lacks takes the last earlier day's value (the first later one at the start). Raises ``ConfigError``
    when the file or every day of the window is missing."""
    path = (EMBEDDED_HOURLY if data_dir is None else data_dir) / "onchain" / "gas_price_1d.csv"
    if not path.is_file():
        raise ConfigError(f"no gas price series: {path} does not exist")
    try:
        frame = pd.read_csv(path)
        series = pd.Series(
            frame["avg_gas_price_gwei"].astype(float).to_numpy(),
            index=pd.to_datetime(frame["timestamp"], utc=True).dt.normalize(),
        )
    except (KeyError, ValueError, pd.errors.ParserError) as exc:
        raise PriceDataError(f"{path}: not a gas price series (timestamp, avg_gas_price_gwei): {exc}") from exc
    days = pd.date_range(pd.Timestamp(window.start, tz="UTC"), pd.Timestamp(window.end, tz="UTC"), freq="D")
    known = series[~series.index.duplicated()].sort_index()
    gas = known.reindex(known.index.union(days)).ffill().bfill().reindex(days)
    if known.reindex(days).isna().all():
        raise ConfigError(f"window {window.label()}: {path} has no gas price on any of its days")
    return gas
