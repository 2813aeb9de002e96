"""Price files load when sound and are refused, with file/row/column named, when not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oracle.data.demo_prices import load_demo_prices, load_history
from oracle.data.prices import closes, gaps, liquid_start, load_ohlc
from oracle.errors import PriceDataError
from oracle.models.base import daily_history
from oracle.models.evaluate import HISTORY_SINCE, load_daily

HEADER = "timestamp,open,high,low,close\n"


def _write(tmp_path: Path, rows: list[str], name: str = "eth_usd_1d.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + "".join(r + "\n" for r in rows))
    return path


def _real_rows(n: int = 20) -> list[str]:
    """Rows built from the embedded real ETH closes (open = previous close)."""
    eth = load_demo_prices()["eth"][:n]
    rows, prev = [], eth[0][1]
    for t, c in eth:
        rows.append(f"{t:%Y-%m-%dT%H:%M:%SZ},{prev},{max(prev, c) * 1.01},{min(prev, c) * 0.99},{c}")
        prev = c
    return rows


def test_sound_file_loads_and_replays(tmp_path: Path) -> None:
    _write(tmp_path, _real_rows())
    frame = load_ohlc(tmp_path / "eth_usd_1d.csv")
    assert len(frame) == 20 and frame.index.tz is not None
    rounds = load_history(["eth"], tmp_path, "2022-01-05", "2022-01-10")["eth"]
    assert len(rounds) == 4 * 6  # open, low/high, high/low, close per day
    assert [p for _, p in rounds[3::4]] == [p for t, p in load_demo_prices()["eth"][4:10]]
    day = frame.iloc[4]
    assert sorted(p for _, p in rounds[:4]) == sorted([day["open"], day["low"], day["high"], day["close"]])
    assert closes(tmp_path, "eth", "2022-01-01", "2022-01-02")[0][1] == load_demo_prices()["eth"][0][1]


def test_gaps_are_reported(tmp_path: Path) -> None:
    rows = _real_rows()
    del rows[5:8]
    path = _write(tmp_path, rows)
    (gap,) = gaps(load_ohlc(path), pd.Timedelta(days=1))
    assert gap.missing_periods == 3


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: r[:3] + [r[3].rsplit(",", 1)[0] + ",nan"] + r[4:], r"row 5: close = .* is not a positive number"),
        (lambda r: r[:3] + [r[3].rsplit(",", 1)[0] + ",0"] + r[4:], r"row 5: close = .* is not a positive number"),
        (lambda r: r[:3] + [r[3].rsplit(",", 1)[0] + ",-5"] + r[4:], r"row 5: close"),
        (lambda r: r[:3] + [r[2]] + r[4:], "duplicate timestamp"),
        (lambda r: [r[1], r[0], *r[2:]], "not sorted"),
        (lambda r: ["garbage" + r[0][7:], *r[1:]], "row 2: unparseable timestamp"),
        (lambda r: [",".join(r[0].split(",")[:3] + ["999999", r[0].split(",")[4]]), *r[1:]], "row 2: candle"),
    ],
)
def test_bad_files_are_refused(tmp_path: Path, mutate, expected: str) -> None:
    path = _write(tmp_path, mutate(_real_rows()))
    with pytest.raises(PriceDataError, match=expected):
        load_ohlc(path)


def test_missing_file_and_columns(tmp_path: Path) -> None:
    with pytest.raises(PriceDataError, match="not found"):
        load_ohlc(tmp_path / "nope.csv")
    (tmp_path / "x.csv").write_text("timestamp,close\n2022-01-01T00:00:00Z,1\n")
    with pytest.raises(PriceDataError, match="missing columns"):
        load_ohlc(tmp_path / "x.csv")


def test_daily_history_from_hourly_candles(tmp_path: Path) -> None:
    import numpy as np

    from oracle.models.base import daily_history_from_hourly
    from oracle.models.evaluate import load_daily

    fixture = Path(__file__).parent / "fixtures" / "eth_usd_1h.csv"
    hourly = load_ohlc(fixture)
    daily = daily_history_from_hourly(hourly)
    # 6 days of hours: the first lacks the return into its first hour, the second a complete previous day
    assert len(daily) == 4
    may19 = hourly.loc["2021-05-19"]
    returns = np.diff(np.log(hourly["close"].to_numpy()))
    day_returns = returns[np.isin(hourly.index[1:], may19.index)]
    assert len(day_returns) == 24
    assert daily.loc["2021-05-19", "gk"] == pytest.approx(float((day_returns**2).sum()))
    assert daily.loc["2021-05-19", "r"] == pytest.approx(
        np.log(may19["close"].iloc[-1] / hourly.loc["2021-05-18", "close"].iloc[-1])
    )
    # a missing hour drops that day, and the next day's return (it would span two days)
    gappy = hourly.drop(hourly.index[60])  # 2021-05-18T12
    partial = daily_history_from_hourly(gappy)
    assert "2021-05-18" not in partial.index.strftime("%Y-%m-%d") and "2021-05-19" not in partial.index.strftime(
        "%Y-%m-%d"
    )
    # a directory with hourly files only works
    (tmp_path / "eth_usd_1h.csv").write_text(fixture.read_text())
    assert len(load_daily(tmp_path, since="2021-01-01")["eth"]) == 4


def _candles(n: int, flat_days: list[int]) -> pd.DataFrame:
    """``n`` daily candles with a 2 % range, except flat ones (open = high = low = close) on ``flat_days``."""
    index = pd.date_range("2015-01-01", periods=n, freq="1D", tz="UTC")
    close = 100 * np.exp(np.cumsum(np.where(np.arange(n) % 2, 0.01, -0.01)))
    frame = pd.DataFrame({"open": close, "high": close * 1.01, "low": close * 0.99, "close": close}, index=index)
    frame.iloc[flat_days, :] = np.repeat(close[flat_days, None], 4, axis=1)
    return frame


def test_liquid_start_is_the_first_year_without_a_flat_candle() -> None:
    candles = _candles(900, flat_days=[0, 3, 40, 700])
    assert liquid_start(candles) == candles.index[41]  # days 41..405 have no flat candle; day 700's is a glitch
    assert liquid_start(_candles(900, flat_days=[])) == candles.index[0]
    assert liquid_start(_candles(300, flat_days=[10])) == candles.index[11]  # a short file: after its last flat
    assert liquid_start(_candles(300, flat_days=[])) == candles.index[0]


def test_flat_candles_are_dropped_and_early_ones_not_loaded(tmp_path: Path) -> None:
    candles = _candles(900, flat_days=[0, 3, 40, 700])
    history = daily_history(candles)
    assert candles.index[700] not in history.index and candles.index[701] in history.index
    assert (history["gk"] > 1e-6).all()  # no 1e-12 floor posing as a measurement
    rows = [f"{t:%Y-%m-%dT%H:%M:%SZ},{o},{h},{lo},{c}" for t, (o, h, lo, c) in candles.iterrows()]
    _write(tmp_path, rows)
    loaded = load_daily(tmp_path, since=None)["eth"]
    assert loaded.index[0] == candles.index[42]  # the liquid start's own candle has no return before it
    assert len(loaded) == 900 - 42 - 1
    assert load_daily(tmp_path, since="2016-01-01")["eth"].index[0] == pd.Timestamp("2016-01-01", tz="UTC")
    assert load_daily(tmp_path)["eth"].index[0] == max(loaded.index[0], pd.Timestamp(HISTORY_SINCE, tz="UTC"))
