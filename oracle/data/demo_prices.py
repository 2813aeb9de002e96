"""The demo market's embedded price history (built by ``tools/make_demo_prices.py`` from real data), and the
replay of daily candles as feed rounds.

Each day becomes four rounds (open at 00:00, then the low and the high in the order the close suggests, close at
23:00), so that daily ranges, which the volatility model needs, can be rebuilt from a feed's on-chain history.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from pathlib import Path

import pandas as pd

from oracle.data.prices import load_ohlc, price_file, validate_ohlc

DEMO_PRICES = Path(__file__).with_name("demo_prices.csv")
DEMO_WINDOW = ("2022-01-01", "2022-06-30")
ROUND_OFFSETS = (timedelta(hours=0), timedelta(hours=6), timedelta(hours=12), timedelta(hours=23))

Rounds = tuple[tuple[datetime, float], ...]


@cache
def load_demo_ohlc(path: Path = DEMO_PRICES) -> dict[str, pd.DataFrame]:
    """Daily OHLC per asset key (``eth``, ``btc``, ...), validated like any price file."""
    frame = pd.read_csv(path)
    return {
        asset: validate_ohlc(rows.drop(columns="asset").reset_index(drop=True), f"{path}[{asset}]")
        for asset, rows in frame.groupby("asset", sort=False)
    }


def load_demo_prices() -> dict[str, tuple[tuple[datetime, float], ...]]:
    """Daily closes per asset key, oldest first, as ``(day, USD price)``."""
    return {a: tuple((t.to_pydatetime(), float(c)) for t, c in f["close"].items()) for a, f in load_demo_ohlc().items()}


def ohlc_rounds(ohlc: pd.DataFrame) -> Rounds:
    """Four feed rounds per daily candle: open, the extreme the day visited first, the other, close."""
    rounds: list[tuple[datetime, float]] = []
    for day, c in ohlc.iterrows():
        start = day.to_pydatetime()
        first, second = (c["low"], c["high"]) if c["close"] >= c["open"] else (c["high"], c["low"])
        for offset, price in zip(ROUND_OFFSETS, (c["open"], first, second, c["close"]), strict=True):
            rounds.append((start + offset, float(price)))
    return tuple(rounds)


def load_history(
    keys: list[str], data_dir: Path | None = None, start: str = DEMO_WINDOW[0], end: str = DEMO_WINDOW[1]
) -> dict[str, Rounds]:
    """Feed rounds per asset key between ``start`` and ``end``: from ``data_dir`` (files in ``../shared/data``
    format) when given, else from the embedded extract (which covers 2022-01-01 to 2022-06-30)."""
    if data_dir is None:
        frames = {k: load_demo_ohlc()[k] for k in keys}
    else:
        frames = {k: load_ohlc(price_file(data_dir, k)) for k in keys}
    return {k: ohlc_rounds(f.loc[start:end]) for k, f in frames.items()}


def load_demo_rounds() -> dict[str, Rounds]:
    """Every embedded asset's whole history as feed rounds (what the demo deploys)."""
    return load_history(list(load_demo_ohlc()))
