"""The HAR family and the hourly GARCH on synthetic processes with known parameters: OLS recovers a simulated
log-HAR's coefficients through the real measure construction, the log-normal correction makes the forecast
unbiased in levels, HARQ's filter bounds it, and the 24-step GARCH sum is arch's own forecast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oracle.data.hourly import hourly_grid, intraday_panel
from oracle.errors import ModelError
from oracle.models.har import Harq, HarRv, LogHarq, SemivarianceHar, training_rows
from oracle.models.intraday import SCALE, HourlyGarchT
from oracle.models.metrics import qlike

TRUE = np.array([-0.64, 0.40, 0.30, 0.20])  # b0, b_d, b_w, b_m of ln RV_day
RESID_SD = 0.5


def simulate_har_days(n_days: int, seed: int) -> np.ndarray:
    """Daily realised variances from ``ln RV_t = b0 + b_d ln RV_{t-1} + b_w ln mean(RV_{t-7..t-1}) + b_m ln
    mean(RV_{t-30..t-1}) + e``, e ~ N(0, 0.5²), burn-in dropped."""
    rng = np.random.default_rng(seed)
    burn = 200
    rv = np.full(n_days + burn, np.exp(-6.4))
    for t in range(30, n_days + burn):
        x = np.array([1.0, np.log(rv[t - 1]), np.log(rv[t - 7 : t].mean()), np.log(rv[t - 30 : t].mean())])
        rv[t] = np.exp(x @ TRUE + RESID_SD * rng.standard_normal())
    return rv[burn:]


def panel_from_days(rv_days: np.ndarray, seed: int) -> pd.DataFrame:
    """Hourly candles whose 24 returns of each UTC day have equal size and random signs, so each day's realised
    variance is exactly the simulated one."""
    rng = np.random.default_rng(seed)
    size = np.repeat(np.sqrt(rv_days / 24), 24)
    r = size * rng.choice([-1.0, 1.0], size.size)
    close = 100 * np.exp(np.concatenate([[0.0], np.cumsum(r)]))
    opens = np.concatenate([[close[0]], close[:-1]])
    # candle k starts at hour k - 1 so that row (hour end) 00:00 of day 1 closes the first simulated day
    index = pd.date_range("2019-12-31T23:00Z", periods=close.size, freq="h")
    frame = pd.DataFrame(
        {"open": opens, "high": np.maximum(opens, close) * 1.0001, "low": np.minimum(opens, close) * 0.9999},
        index=index,
    ).assign(close=close)
    return intraday_panel(hourly_grid(frame))


@pytest.fixture(scope="module")
def har_panel() -> pd.DataFrame:
    return panel_from_days(simulate_har_days(3000, seed=21), seed=22)


def test_har_recovers_the_coefficients_of_a_simulated_har(har_panel: pd.DataFrame) -> None:
    midnights = har_panel[har_panel.index.hour == 0]  # there the measures are the simulated days exactly
    until = midnights.index[-1]
    model = HarRv().fit(midnights, until)
    assert model.coef is not None
    # standard errors here are 0.02 (daily) and 0.035 (weekly, monthly: collinear); 0.085 for the intercept
    assert model.coef[1:] == pytest.approx(TRUE[1:], abs=0.06)
    assert model.coef[0] == pytest.approx(TRUE[0], abs=0.25)
    assert model.resid_var == pytest.approx(RESID_SD**2, rel=0.08)
    # the measures at midnight are the simulated daily RV and its 7/30-day means
    row = midnights.iloc[40]
    assert row["rv_d"] == pytest.approx(har_panel["rv"].shift(24).loc[midnights.index[40]], rel=1e-9)


def test_bias_correction_makes_the_forecast_unbiased_in_levels(har_panel: pd.DataFrame) -> None:
    midnights = har_panel[har_panel.index.hour == 0]
    model = HarRv().fit(midnights, midnights.index[-1])
    f = model.forecast(midnights, midnights.index[0], midnights.index[-1])
    rv = midnights.loc[f.index, "rv"].dropna()
    corrected = f.loc[rv.index, "variance"]
    median = corrected * np.exp(-model.resid_var / 2)  # what the forecast would be without the correction
    assert rv.mean() / corrected.mean() == pytest.approx(1.0, abs=0.05)
    assert rv.mean() / median.mean() == pytest.approx(np.exp(RESID_SD**2 / 2), rel=0.06)  # ~1.13: biased low
    assert corrected.to_numpy() == pytest.approx(np.exp(model.design(midnights.loc[rv.index]).to_numpy() @ model.coef)
                                                * np.exp(model.resid_var / 2))  # fmt: skip


def test_fit_uses_only_targets_complete_at_the_refit(har_panel: pd.DataFrame) -> None:
    until = har_panel.index[24 * 400 + 5]
    a = HarRv().fit(har_panel, until)
    damaged = har_panel.copy()
    late = damaged.index > until - pd.Timedelta(hours=24)
    damaged.loc[late, ["rv", "r24"]] *= 50  # targets not yet complete at the refit
    b = HarRv().fit(damaged, until)
    assert a.coef == pytest.approx(b.coef) and a.quantiles == b.quantiles
    with pytest.raises(ModelError, match="training hours"):
        HarRv().fit(har_panel, har_panel.index[16 * 24])  # the 30-day mean needs 15 days
    with pytest.raises(ModelError, match="fit first"):
        HarRv().forecast(har_panel, har_panel.index[0], har_panel.index[100])


def test_variants_fit_and_harq_filters_forecasts_outside_the_in_sample_range(har_panel: pd.DataFrame) -> None:
    until = har_panel.index[24 * 1500]
    start, end = until, until + pd.Timedelta(days=300)
    scores = {}
    for make in (HarRv, SemivarianceHar, Harq, LogHarq):
        model = make().fit(har_panel, until)
        f = model.forecast(har_panel, start, end)
        assert len(f) == 300 * 24 and (f["variance"] > 0).all() and (f["q01"] < f["q05"]).all()
        rv = har_panel.loc[f.index, "rv"]
        scores[model.name] = float(qlike(rv, f["variance"]).mean())
    harq = Harq().fit(har_panel, until)
    lo, hi = harq.bounds
    f = harq.forecast(har_panel, start, end)["variance"]
    assert f.min() >= lo and f.max() <= hi
    # the insanity filter: outside the in-sample range the forecast is the in-sample mean, never the range's edge
    x = harq.design(har_panel.loc[start : end - pd.Timedelta("1h")])
    linear = x.to_numpy() @ harq.coef
    outside = (linear < lo) | (linear > hi)
    rows = training_rows(har_panel, until)
    assert harq.fallback == pytest.approx(float(rows.loc[harq.design(rows).index, "rv"].mean()), rel=1e-12)
    assert np.allclose(f.to_numpy()[outside], harq.fallback) and np.allclose(f.to_numpy()[~outside], linear[~outside])
    forced = Harq().fit(har_panel, until)
    forced.bounds = (float(np.median(linear)), hi)  # half the forecasts now fall below the range
    g = forced.forecast(har_panel, start, end)["variance"].to_numpy()
    assert np.allclose(g[linear < forced.bounds[0]], forced.fallback) and (linear < forced.bounds[0]).sum() > 100
    # on a log-HAR process the log models beat a constant forecast by far
    constant = float(qlike(har_panel.loc[f.index, "rv"], np.full(len(f), har_panel["rv"].mean())).mean())
    assert scores["HAR-RV"] < 0.8 * constant and scores["HARQ-log"] < 0.8 * constant


def test_garch_24h_sum_is_archs_forecast() -> None:
    rng = np.random.default_rng(5)
    n = 3000
    r, var = np.empty(n), 1e-4
    for t in range(n):  # a GARCH(1,1) with t(5) shocks, hourly scale
        r[t] = np.sqrt(var) * rng.standard_t(5) * np.sqrt(3 / 5)
        var = 2e-6 + 0.08 * r[t] ** 2 + 0.9 * var
    returns = pd.Series(r, index=pd.date_range("2024-01-01T01:00Z", periods=n, freq="h"))
    model = HourlyGarchT()
    model.params = model._model(returns).fit(disp="off", show_warning=False).params
    mine = model._path(returns, 2000)
    archs = model._model(returns).fix(model.params).forecast(horizon=24, start=2000, reindex=False)
    expected = archs.variance.sum(axis=1).to_numpy() / SCALE**2
    assert mine.to_numpy() == pytest.approx(expected, rel=1e-10)
    assert mine.index[0] == returns.index[2000]
