"""The hourly loader, the realised measures and the 24-hour target: gaps stay gaps, windows scale by the hours
observed, the target is exactly the hand-computed sum on a hand-made series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from oracle.data.hourly import (
    TARGET_MIN_OBS,
    hourly_grid,
    intraday_panel,
    load_hourly,
    load_hourly_dir,
    next_24h_target,
    realised_measures,
)
from oracle.errors import PriceDataError

FIXTURE = Path(__file__).parent / "fixtures" / "intraday" / "eth_usd_1h.csv"


def candles(closes: list[float], start: str = "2024-01-01T00:00Z", drop: tuple[int, ...] = ()) -> pd.DataFrame:
    """Hourly candles (indexed by period start, as in the files) with these closes; ``drop`` removes candles."""
    c = np.asarray(closes, dtype=float)
    opens = np.concatenate([[c[0]], c[:-1]])
    frame = pd.DataFrame(
        {"open": opens, "high": np.maximum(opens, c) * 1.001, "low": np.minimum(opens, c) * 0.999, "close": c},
        index=pd.date_range(start, periods=len(c), freq="h", tz="UTC"),
    )
    return frame.drop(frame.index[list(drop)])


def test_real_gap_is_kept_as_a_gap() -> None:
    grid, summary = load_hourly(FIXTURE)
    assert summary.asset == "eth"
    assert summary.hours == 120 and summary.observed == 115 and summary.missing == 5
    assert len(summary.gaps) == 1 and summary.gaps[0].missing_periods == 5
    # rows are indexed by hour end: the candle labelled 2020-02-17T00 is the row 01:00
    assert grid.index[0] == pd.Timestamp("2020-02-17T01:00Z")
    assert grid.loc["2020-02-17T01:00Z", "close"] == 255.74
    assert grid.loc["2020-02-17T02:00Z", "r"] == pytest.approx(np.log(254.56 / 255.74), rel=1e-12)
    missing = pd.date_range("2020-02-19T13:00Z", "2020-02-19T17:00Z", freq="h")  # candles 12..16
    assert grid.loc[missing, "close"].isna().all()
    # the returns of the missing hours and of the hour after the gap are NaN, not zero
    assert grid.loc[missing, "r"].isna().all()
    assert np.isnan(grid.loc["2020-02-19T18:00Z", "r"])
    assert grid["r"].isna().sum() == 1 + 5 + 1  # the first row, the gap, the hour after it
    observed = grid["r"].dropna()
    assert (observed != 0).mean() > 0.9
    # the 24-hour targets over the gap: 24 - 6 = 18 observed returns < 20 -> undefined; near it, scaled
    target = next_24h_target(grid)
    assert np.isnan(target.loc["2020-02-19T12:00Z", "rv"])
    assert target.loc["2020-02-19T12:00Z", "n_obs"] == 18
    assert target["rv"].notna().sum() > 0


def test_loader_directory_and_refusals(tmp_path: Path) -> None:
    (tmp_path / "eth_usd_1h.csv").write_text(FIXTURE.read_text())
    assert list(load_hourly_dir(tmp_path, ["eth"])) == ["eth"]
    with pytest.raises(PriceDataError, match="spanning"):
        load_hourly_dir(tmp_path)  # five days is shorter than the two-year floor
    with pytest.raises(PriceDataError, match="no hourly file"):
        load_hourly_dir(tmp_path, ["btc"])
    with pytest.raises(PriceDataError, match="_usd_1h"):
        load_hourly(tmp_path / "eth_usd_1d.csv")


def test_target_on_a_hand_made_series_with_a_gap() -> None:
    rng = np.random.default_rng(7)
    r = rng.normal(0, 0.01, 60)
    closes = list(100 * np.exp(np.cumsum(r)))
    # drop the candle with period start index 30: its row (hour end 31) and the return of row 32 are missing
    grid = hourly_grid(candles(closes, drop=(30,)))
    t = grid.index[0]  # hour end 01:00, close = closes[0]
    ret = pd.Series(np.log(closes), index=grid.index[0] + pd.to_timedelta(np.arange(60), "h")).diff()
    target = next_24h_target(grid)

    # a window without the gap: exactly the sum of its 24 squared returns, and the 24-hour return
    tau = t + pd.Timedelta(hours=2)
    window = ret[(ret.index > tau) & (ret.index <= tau + pd.Timedelta(hours=24))]
    assert target.loc[tau, "rv"] == pytest.approx(float((window**2).sum()), rel=1e-12)
    assert target.loc[tau, "n_obs"] == 24
    assert target.loc[tau, "r24"] == pytest.approx(np.log(closes[26] / closes[2]), rel=1e-12)

    # a window holding the gap: 22 observed returns (the missing hour and the hour after it), scaled 24/22
    tau = t + pd.Timedelta(hours=20)
    window = ret[(ret.index > tau) & (ret.index <= tau + pd.Timedelta(hours=24))].drop(
        [t + pd.Timedelta(hours=30), t + pd.Timedelta(hours=31)]
    )
    assert len(window) == 22 and target.loc[tau, "n_obs"] == 22
    assert target.loc[tau, "rv"] == pytest.approx(24 / 22 * float((window**2).sum()), rel=1e-12)
    # the return across the gap (close 29 -> close 31) is in no window
    across = np.log(closes[31] / closes[29]) ** 2
    assert target.loc[tau, "rv"] != pytest.approx(24 / 23 * (float((window**2).sum()) + across), rel=1e-6)
    # the 24-hour return needs only its two closes; it is NaN when one is the missing candle
    assert target.loc[tau, "r24"] == pytest.approx(np.log(closes[44] / closes[20]), rel=1e-12)
    assert np.isnan(target.loc[t + pd.Timedelta(hours=6), "r24"])  # ends at the missing close 30
    # with fewer than TARGET_MIN_OBS observed: undefined
    sparse = hourly_grid(candles(closes, drop=(30, 32, 34)))
    tau = t + pd.Timedelta(hours=20)
    n = next_24h_target(sparse).loc[tau]
    assert n["n_obs"] == 24 - 6 < TARGET_MIN_OBS and np.isnan(n["rv"])  # 3 missing closes, 6 missing returns
    # the last 24 hours have no complete window
    assert target["rv"].iloc[-24:].isna().all()


def test_measures_are_trailing_and_consistent() -> None:
    rng = np.random.default_rng(3)
    closes = list(100 * np.exp(np.cumsum(rng.normal(0, 0.01, 24 * 40))))
    grid = hourly_grid(candles(closes))
    m = realised_measures(grid)
    row = m.iloc[-1]
    r = grid["r"].iloc[-24:]
    assert row["rv_d"] == pytest.approx(float((r**2).sum()))
    assert row["rs_pos"] + row["rs_neg"] == pytest.approx(row["rv_d"])
    assert row["rs_neg"] == pytest.approx(float((r[r < 0] ** 2).sum()))
    assert row["rq_d"] == pytest.approx(24 / 3 * float((r**4).sum()))
    assert row["rv_w"] == pytest.approx(float((grid["r"].iloc[-168:] ** 2).mean() * 24))
    assert row["rv_m"] == pytest.approx(float((grid["r"].iloc[-720:] ** 2).mean() * 24))
    # changing the last hour changes nothing before it
    changed = closes.copy()
    changed[-1] *= 1.5
    m2 = realised_measures(hourly_grid(candles(changed)))
    pd.testing.assert_frame_equal(m.iloc[:-1], m2.iloc[:-1])
    assert m2["rv_d"].iloc[-1] > row["rv_d"]
    panel = intraday_panel(grid)
    assert {"r", "rv_d", "rv", "r24", "n_obs"} <= set(panel.columns)
