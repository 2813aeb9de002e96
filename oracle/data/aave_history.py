"""Real Aave crisis history for checking the liquidation simulator: typed loaders of the embedded extract.

Why an embedded extract: the check (tests, CI, ``benchmarks/bench_liquidations_real.py``) must run on a clean
clone without ``../shared/data``. ``tools/make_history_extract.py`` copies the rows of the crisis windows below
(plus ``CONTEXT_DAYS`` before each start) from ``../shared/data`` into ``oracle/data/history/``, keeping the
source's directory layout and file names, so that every loader here reads either root the same way: the embedded
extract by default, or ``data_dir`` pointing at a full copy of ``../shared/data`` (see ``PROVENANCE.md`` there).

What is loaded, and what it means (``../shared/data/onchain/README.md`` sections 1, 2, 3 and 8):

- Binance hourly ETH/USDT candles (``eth_usd_1h.csv``): exchange prices, not Aave's Chainlink oracle price; and
  the daily ones (``eth_usd_1d.csv``, the hourly aggregated per UTC day) for ``DAILY_CONTEXT_DAYS`` before a window.
- Aave reserve hourly state (``onchain/aave_v{2,3}_<asset>_1h.csv``): ``supplied_usd``, ``borrowed_usd`` and
  ``liquidated_usd``, the USD value (Aave oracle price, bonus included) of collateral seized in the hour's
  liquidations whose collateral was this reserve. An hour without a row had no event: nothing was liquidated.
- Etherscan's daily average gas price (``onchain/gas_price_1d.csv``), in gwei.
- The 2023-06-19/20 snapshot of Aave v2/v3 borrowers with (w)stETH collateral
  (``onchain/aave_steth_positions_2023-06.csv``): account totals, weighted LT, health factor.
- Aave v2 liquidation events (``onchain/aave_v2_liquidations.csv``, to 2022-04-03): token amounts, no USD.

Every loader validates what it returns (sorted unique timestamps, finite non-negative values) and raises
:class:`HistoryDataError` naming the file; nothing is interpolated or filled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict

from oracle.errors import PriceDataError

HISTORY_DIR = Path(__file__).with_name("history")
CONTEXT_DAYS = 7  # days before a window's start kept in the extract (the book's start state, the days before)
DAILY_CONTEXT_DAYS = 120  # days of daily ETH candles kept before a window's start (the book's reference price)
STABLES = ("usdc", "usdt", "dai")  # the stable reserves whose borrowed_usd is the market's stable debt
RESERVE_COLUMNS = ("supplied_usd", "borrowed_usd", "liquidated_usd")
SNAPSHOT_ETH_USD = 1719.90  # the Aave oracle ETH price of the snapshot (its v3 rows); v2 values are in ETH

Version = Literal["v2", "v3"]


class HistoryDataError(PriceDataError):
    """A history file is missing, malformed, or does not cover the window asked for."""


class Window(BaseModel):
    """A crisis window: UTC days ``start`` to ``end`` (inclusive) on one Aave Ethereum market.

    ``fitted`` windows may be used to fit the simulator's behaviour parameters; the others are out of sample and
    are only ever scored with parameters frozen beforehand.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    version: Version
    start: date
    end: date
    fitted: bool
    label: str

    @property
    def first_hour(self) -> pd.Timestamp:
        return pd.Timestamp(self.start, tz="UTC")

    @property
    def end_hour(self) -> pd.Timestamp:
        """The first hour after the window (exclusive end)."""
        return pd.Timestamp(self.end + timedelta(days=1), tz="UTC")

    @property
    def context_start(self) -> pd.Timestamp:
        return self.first_hour - pd.Timedelta(days=CONTEXT_DAYS)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    @property
    def hours(self) -> int:
        return 24 * len(self.days)


WINDOWS: tuple[Window, ...] = (
    Window(name="2021-05", version="v2", start=date(2021, 5, 18), end=date(2021, 5, 24), fitted=True, label="5/19"),
    Window(name="2022-05", version="v2", start=date(2022, 5, 9), end=date(2022, 5, 12), fitted=True, label="LUNA"),
    Window(name="2022-06", version="v2", start=date(2022, 6, 13), end=date(2022, 6, 18), fitted=True, label="3AC"),
    Window(name="2022-11", version="v2", start=date(2022, 11, 8), end=date(2022, 11, 10), fitted=True, label="FTX"),
    Window(name="2024-08", version="v3", start=date(2024, 8, 4), end=date(2024, 8, 7), fitted=False, label="8/5"),
)


def window(name: str) -> Window:
    """The window called ``name`` (e.g. ``2021-05``)."""
    for w in WINDOWS:
        if w.name == name:
            return w
    raise HistoryDataError(f"no window {name!r}; known: {[w.name for w in WINDOWS]}")


# --------------------------------------------------------------------------- files


def eth_file(root: Path) -> Path:
    return root / "eth_usd_1h.csv"


def eth_daily_file(root: Path) -> Path:
    return root / "eth_usd_1d.csv"


def reserve_file(root: Path, version: Version, asset: str) -> Path:
    return root / "onchain" / f"aave_{version}_{asset}_1h.csv"


def gas_file(root: Path) -> Path:
    return root / "onchain" / "gas_price_1d.csv"


def snapshot_file(root: Path) -> Path:
    return root / "onchain" / "aave_steth_positions_2023-06.csv"


def events_file(root: Path) -> Path:
    return root / "onchain" / "aave_v2_liquidations.csv"


@cache
def _read(path: Path) -> pd.DataFrame:
    """A CSV with a ``timestamp`` column parsed as UTC; cached (the files are read-only inputs)."""
    if not path.is_file():
        raise HistoryDataError(f"history file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise HistoryDataError(f"{path}: not a readable CSV: {exc}") from exc
    if "timestamp" in frame.columns:
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce", format="ISO8601")
        if frame["timestamp"].isna().any():
            raise HistoryDataError(f"{path}: row {int(frame['timestamp'].isna().argmax()) + 2}: bad timestamp")
    return frame


def _series_frame(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows indexed by unique ascending timestamp, the given columns finite and >= 0."""
    frame = _read(path)
    missing = [c for c in ("timestamp", *columns) if c not in frame.columns]
    if missing:
        raise HistoryDataError(f"{path}: missing columns {missing}")
    stamps = frame["timestamp"]
    if stamps.duplicated().any() or not stamps.is_monotonic_increasing:
        raise HistoryDataError(f"{path}: timestamps must be unique and ascending")
    out = frame.set_index("timestamp")[list(columns)].astype(float)
    bad = ~np.isfinite(out.to_numpy()) | (out.to_numpy() < 0)
    if bad.any():
        row = int(bad.any(axis=1).argmax())
        raise HistoryDataError(f"{path}: row {row + 2}: a value is not a finite number >= 0")
    return out


def _root(data_dir: Path | None) -> Path:
    return HISTORY_DIR if data_dir is None else data_dir


# --------------------------------------------------------------------------- prices


def eth_hourly(w: Window, data_dir: Path | None = None) -> pd.DataFrame:
    """Binance ETH/USDT hourly OHLC from the window's context start to its end, every hour present."""
    path = eth_file(_root(data_dir))
    frame = _series_frame(path, ("open", "high", "low", "close")).loc[w.context_start : w.end_hour - pd.Timedelta("1h")]
    expected = pd.date_range(w.context_start, w.end_hour, freq="1h", inclusive="left")
    missing = expected.difference(frame.index)
    if len(missing):
        raise HistoryDataError(f"{path}: window {w.name}: {len(missing)} hours missing, first {missing[0]}")
    if (frame.to_numpy() <= 0).any():
        raise HistoryDataError(f"{path}: window {w.name}: a price is not positive")
    return frame


def eth_path(w: Window, data_dir: Path | None = None, price: Literal["close", "low"] = "close") -> pd.Series:
    """The window's hourly ETH price path: the close of the hour before the window (index: the window's first
    hour, i.e. the price at 00:00 of its first day), then the close (or, ``price="low"``, the low: the worst the
    market printed in the hour) of each of its hours (index: the hour's end). ``hours + 1`` prices, so
    ``np.diff(np.log(path))`` has one log return per hourly step."""
    hourly = eth_hourly(w, data_dir)
    before = hourly["close"].loc[[w.first_hour - pd.Timedelta("1h")]]
    inside = hourly[price].loc[w.first_hour :]
    values = np.concatenate([before.to_numpy(), inside.to_numpy()])
    return pd.Series(
        values, index=inside.index.insert(0, w.first_hour - pd.Timedelta("1h")) + pd.Timedelta("1h"), name="eth_usd"
    )


def eth_daily_before(w: Window, days: int, data_dir: Path | None = None) -> pd.DataFrame:
    """The ``days`` daily ETH candles (UTC days, Binance) before the window's first day, every day present."""
    if not 0 < days <= DAILY_CONTEXT_DAYS:
        raise HistoryDataError(f"between 1 and {DAILY_CONTEXT_DAYS} days before a window are kept, not {days}")
    path = eth_daily_file(_root(data_dir))
    first = w.first_hour - pd.Timedelta(days=days)
    frame = _series_frame(path, ("open", "high", "low", "close")).loc[first : w.first_hour - pd.Timedelta("1D")]
    expected = pd.date_range(first, w.first_hour, freq="1D", inclusive="left")
    missing = expected.difference(frame.index)
    if len(missing):
        raise HistoryDataError(f"{path}: window {w.name}: {len(missing)} days missing, first {missing[0].date()}")
    return frame


# --------------------------------------------------------------------------- reserves


@dataclass(frozen=True)
class ReserveState:
    """A reserve's state at the end of the last hour with a row before ``at``."""

    at: pd.Timestamp
    row_hour: pd.Timestamp
    supplied_usd: float
    borrowed_usd: float


def reserve_hourly(w: Window, asset: str = "weth", data_dir: Path | None = None) -> pd.DataFrame:
    """The rows of ``aave_<version>_<asset>_1h`` from the context start to the window's end (hours without a row
    had no event and are not filled)."""
    path = reserve_file(_root(data_dir), w.version, asset)
    return _series_frame(path, RESERVE_COLUMNS).loc[w.context_start : w.end_hour - pd.Timedelta("1h")]


def reserve_state(w: Window, asset: str = "weth", data_dir: Path | None = None) -> ReserveState:
    """The reserve's supplied and borrowed USD at the window's start (its last row before the first hour)."""
    rows = reserve_hourly(w, asset, data_dir).loc[: w.first_hour - pd.Timedelta("1h")]
    if rows.empty:
        raise HistoryDataError(f"{w.version} {asset}: no row in the {CONTEXT_DAYS} days before {w.start}")
    last = rows.iloc[-1]
    return ReserveState(
        at=w.first_hour,
        row_hour=pd.Timestamp(rows.index[-1]),
        supplied_usd=float(last["supplied_usd"]),
        borrowed_usd=float(last["borrowed_usd"]),
    )


def stable_borrowed_usd(w: Window, data_dir: Path | None = None) -> float:
    """The market's stable debt at the window's start: USDC + USDT + DAI ``borrowed_usd``."""
    return sum(reserve_state(w, a, data_dir).borrowed_usd for a in STABLES)


def daily_liquidated_usd(w: Window, asset: str = "weth", data_dir: Path | None = None) -> pd.Series:
    """USD of ``asset`` collateral seized per UTC day of the window (by the day of the row's hour), 0 on days
    without a liquidation."""
    rows = reserve_hourly(w, asset, data_dir).loc[w.first_hour :]
    by_day = rows["liquidated_usd"].groupby(rows.index.floor("D")).sum()
    days = pd.DatetimeIndex([pd.Timestamp(d, tz="UTC") for d in w.days])
    return by_day.reindex(days, fill_value=0.0).rename("liquidated_usd")


def hourly_liquidated_usd(w: Window, asset: str = "weth", data_dir: Path | None = None) -> pd.Series:
    """USD of ``asset`` collateral seized in each hour of the window, 0 in hours without a row."""
    rows = reserve_hourly(w, asset, data_dir).loc[w.first_hour :]
    hours = pd.date_range(w.first_hour, w.end_hour, freq="1h", inclusive="left")
    return rows["liquidated_usd"].reindex(hours, fill_value=0.0)


# --------------------------------------------------------------------------- gas


def gas_gwei_daily(w: Window, data_dir: Path | None = None) -> pd.Series:
    """Etherscan's daily average gas price (gwei) on each day of the window."""
    path = gas_file(_root(data_dir))
    gas = _series_frame(path, ("avg_gas_price_gwei",))["avg_gas_price_gwei"]
    days = pd.DatetimeIndex([pd.Timestamp(d, tz="UTC") for d in w.days])
    missing = days.difference(gas.index)
    if len(missing):
        raise HistoryDataError(f"{path}: window {w.name}: no gas price on {missing[0].date()}")
    return gas.reindex(days)


# --------------------------------------------------------------------------- the borrower snapshot


@dataclass(frozen=True)
class BorrowerSnapshot:
    """The 2023-06 Aave (w)stETH-collateral borrowers, in USD (v2's ETH values at ``SNAPSHOT_ETH_USD``).

    ``stable_debt_share`` is the part of an account's debt that is not WETH: its health factor moves with ETH/USD
    (an stETH/WETH loop's barely does). ``health_factor = collateral x threshold / debt`` on every row.
    """

    version: np.ndarray  # "v2" / "v3"
    collateral_usd: np.ndarray
    debt_usd: np.ndarray
    threshold: np.ndarray  # weighted liquidation threshold, fraction
    health_factor: np.ndarray
    stable_debt_share: np.ndarray
    emode: np.ndarray  # bool: v3 ETH-correlated e-mode

    def __len__(self) -> int:
        return len(self.health_factor)

    def select(self, mask: np.ndarray) -> BorrowerSnapshot:
        return BorrowerSnapshot(*(np.asarray(getattr(self, f))[mask] for f in self.__dataclass_fields__))

    def hf_quantiles(self, q: np.ndarray, *, weighted: bool = True) -> np.ndarray:
        """Health-factor quantiles, by collateral (``weighted``) or by account."""
        order = np.argsort(self.health_factor)
        w = self.collateral_usd[order] if weighted else np.ones(len(self))
        cum = (np.cumsum(w) - 0.5 * w) / w.sum()
        return np.interp(q, cum, self.health_factor[order])


def borrower_snapshot(data_dir: Path | None = None) -> BorrowerSnapshot:
    """The snapshot's accounts with debt, converted to USD."""
    path = snapshot_file(_root(data_dir))
    frame = _read(path)
    need = ["version", "value_unit", "collateral", "debt", "threshold_bps", "health_factor", "emode"]
    need += ["weth_debt_amount"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise HistoryDataError(f"{path}: missing columns {missing}")
    unit = frame["value_unit"].to_numpy()
    if not set(unit) <= {"ETH", "USD"}:
        raise HistoryDataError(f"{path}: value_unit must be ETH or USD, found {sorted(set(unit))}")
    to_usd = np.where(unit == "ETH", SNAPSHOT_ETH_USD, 1.0)
    coll = frame["collateral"].to_numpy(float) * to_usd
    debt = frame["debt"].to_numpy(float) * to_usd
    weth_debt = frame["weth_debt_amount"].fillna(0.0).to_numpy(float) * SNAPSHOT_ETH_USD
    hf = frame["health_factor"].to_numpy(float)
    values = np.stack([coll, debt, weth_debt, hf])
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(debt <= 0):
        raise HistoryDataError(f"{path}: collateral, debt and health factor must be finite, debt > 0")
    threshold = frame["threshold_bps"].to_numpy(float) / 1e4
    if not np.allclose(coll * threshold / debt, hf, rtol=1e-8):
        raise HistoryDataError(f"{path}: health_factor != collateral x threshold / debt")
    return BorrowerSnapshot(
        version=frame["version"].to_numpy(str),
        collateral_usd=coll,
        debt_usd=debt,
        threshold=threshold,
        health_factor=hf,
        stable_debt_share=np.clip(1 - weth_debt / debt, 0.0, 1.0),
        emode=frame["emode"].fillna(0).to_numpy(float) > 0,
    )


# --------------------------------------------------------------------------- v2 events


def v2_weth_liquidations(w: Window, data_dir: Path | None = None) -> pd.DataFrame:
    """Aave v2 main-market liquidation events with WETH collateral in the window's context and days (the event
    file ends 2022-04-03, so only the 2021-05 window has any): ``timestamp``, ``debt_symbol``,
    ``collateral_amount`` (WETH), ``debt_amount`` (debt token units)."""
    path = events_file(_root(data_dir))
    frame = _read(path)
    need = ["timestamp", "market", "collateral_symbol", "collateral_amount", "debt_symbol", "debt_amount"]
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise HistoryDataError(f"{path}: missing columns {missing}")
    rows = frame[
        (frame["market"] == "main")
        & (frame["collateral_symbol"] == "WETH")
        & (frame["timestamp"] >= w.context_start)
        & (frame["timestamp"] < w.end_hour)
    ]
    out = rows[["timestamp", "debt_symbol", "collateral_amount", "debt_amount"]].reset_index(drop=True)
    out = out.astype({"collateral_amount": float, "debt_amount": float})
    return out
