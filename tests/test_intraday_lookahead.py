"""No look-ahead in the hourly walk-forward: every model's forecast issued at hour t (variance and tail quantiles)
is unchanged when every price after t is altered, gaps included; and the daily models' forecasts are held from
midnight to midnight, never earlier."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oracle.data.hourly import hourly_grid, intraday_panel
from oracle.models.intraday import HOURLY_MODELS, daily_on_hourly, walk_forward_hourly

DAYS = 190
START = pd.Timestamp("2024-01-01T00:00Z")


def garch_candles(seed: int, scale_after: pd.Timestamp | None = None) -> pd.DataFrame:
    """Hourly candles from a GARCH(1,1) with t(4) shocks, two outages (3 h and 1 h) inside the test window;
    returns of candles ending after ``scale_after`` are tripled and shuffled (a different future)."""
    rng = np.random.default_rng(seed)
    n = DAYS * 24
    r, var = np.empty(n), 4e-5
    for t in range(n):
        r[t] = np.sqrt(var) * rng.standard_t(4) / np.sqrt(2)
        var = 1e-6 + 0.07 * r[t] ** 2 + 0.9 * var
    index = pd.date_range(START, periods=n, freq="h")  # period starts
    if scale_after is not None:
        late = index + pd.Timedelta(hours=1) > scale_after
        r[late] = 3 * np.random.default_rng(seed + 1).permutation(r[late])
    close = 1000 * np.exp(np.cumsum(r))
    opens = np.concatenate([[1000.0], close[:-1]])
    frame = pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, close) * 1.001,
            "low": np.minimum(opens, close) * 0.999,
            "close": close,
        },
        index=index,
    )
    gaps = [150 * 24 + 5, 150 * 24 + 6, 150 * 24 + 7, 170 * 24 + 20]
    return frame.drop(index[gaps])


@pytest.mark.parametrize("name", list(HOURLY_MODELS))
def test_forecast_at_t_ignores_every_price_after_t(name: str) -> None:
    cut = START + pd.Timedelta(days=163, hours=7)  # mid-window for every refit cadence, after the first gap
    start, end = START + pd.Timedelta(days=130), START + pd.Timedelta(days=DAYS)
    models = {name: HOURLY_MODELS[name]}
    base = walk_forward_hourly({"x": intraday_panel(hourly_grid(garch_candles(1)))}, start, end, models)
    alt = walk_forward_hourly({"x": intraday_panel(hourly_grid(garch_candles(1, cut)))}, start, end, models)
    before = base[base["time"] <= cut].set_index("time")
    assert len(before) > 30 * 24 and before["variance"].notna().all()
    pd.testing.assert_frame_equal(
        before[["variance", "q01", "q05"]], alt.set_index("time").loc[before.index, ["variance", "q01", "q05"]]
    )
    # the altered future did change the later forecasts (the test can see a leak)
    after = base[base["time"] > cut + pd.Timedelta(days=2)].set_index("time")["variance"]
    changed = alt.set_index("time").loc[after.index, "variance"]
    assert not np.allclose(after.to_numpy(), changed.to_numpy())
    # and the targets are the future: they did change right after the cut
    assert not np.allclose(
        base.set_index("time").loc[cut - pd.Timedelta(hours=3), "rv"],
        alt.set_index("time").loc[cut - pd.Timedelta(hours=3), "rv"],
    )


def test_every_hour_of_the_window_is_forecast_and_gaps_hold_the_last_forecast() -> None:
    start, end = START + pd.Timedelta(days=130), START + pd.Timedelta(days=DAYS)
    panel = intraday_panel(hourly_grid(garch_candles(2)))
    f = walk_forward_hourly({"x": panel}, start, end)
    for model, g in f.groupby("model"):
        hours = pd.DatetimeIndex(g["time"])
        assert hours.is_unique and hours.min() == start, model
        # every hour up to the end of the data (HAR needs its regressors; the 3-hour outage still leaves them)
        assert len(hours) >= (panel.index[-1] - start) / pd.Timedelta(hours=1) - 1, model
    ewma = f[f["model"] == "EWMA"].set_index("time")["variance"]
    gap_hour = START + pd.Timedelta(days=150, hours=7)  # the row of a missing candle
    assert np.isnan(panel.loc[gap_hour, "r"])
    assert ewma.loc[gap_hour] == ewma.loc[gap_hour - pd.Timedelta(hours=1)]


def test_daily_forecasts_hold_from_midnight_to_midnight() -> None:
    panel = intraday_panel(hourly_grid(garch_candles(3)))
    days = pd.date_range(START + pd.Timedelta(days=140), periods=5, freq="D")
    daily = pd.DataFrame(
        {"day": days, "asset": "x", "model": "neural", "variance": [1.0, 2.0, 3.0, 4.0, 5.0], "q01": -2.5, "q05": -1.7}
    )
    start, end = days[0] + pd.Timedelta(hours=6), days[-1] + pd.Timedelta(days=1)
    held = daily_on_hourly(daily, {"x": panel}, start, end).set_index("time")
    assert set(held["model"]) == {"daily neural"}
    assert held.index[0] == start and held.index[-1] == end - pd.Timedelta(hours=1)
    assert held.loc[days[1] - pd.Timedelta(hours=1), "variance"] == 1.0  # 23:00 still holds the forecast for day 0
    assert held.loc[days[1], "variance"] == 2.0  # issued at midnight, for the day that starts
    assert held.loc[days[1] + pd.Timedelta(hours=23), "variance"] == 2.0
    assert (held["rv"].dropna() > 0).all()
