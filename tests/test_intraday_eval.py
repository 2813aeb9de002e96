"""The hourly evaluation's definitions on hand-made series: the first large move, the pre-crash level and the
reaction time; VaR tests on the 24 non-overlapping daily series; QLIKE ratios and DM against HAR-RV on the
hours every model shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from oracle.models.intraday_eval import (
    CENSOR_HOURS,
    TEST,
    VALIDATION,
    Period,
    first_large_move,
    reaction_hours,
    reaction_summary,
    reaction_table,
    score_period,
    var_tests,
)
from oracle.models.metrics import kupiec, qlike

ONSET = pd.Timestamp("2022-05-09T00:00Z")
H = pd.Timedelta(hours=1)


def calm_then_crash() -> pd.Series:
    """Hourly returns (indexed by hour end) alternating ±1 % for the 10 days before the onset (pre-crash σ exactly
    1 %), then 3 % (< 4σ) at 05:00, −6 % at 10:00 and −9 % at 11:00 of the onset day, calm ±1 % otherwise."""
    hours = pd.date_range(ONSET - pd.Timedelta(days=10) + H, ONSET + pd.Timedelta(days=3), freq="h")
    r = pd.Series(np.where(np.arange(len(hours)) % 2 == 0, 0.01, -0.01), index=hours)
    r[ONSET + 5 * H] = 0.03
    r[ONSET + 10 * H] = -0.06
    r[ONSET + 11 * H] = -0.09
    return r


def test_first_large_move_is_the_first_four_sigma_hour_after_the_onset() -> None:
    r = calm_then_crash()
    move = first_large_move(r, ONSET)
    assert move is not None
    assert move.pre_sigma == pytest.approx(0.01)
    assert move.t0 == ONSET + 10 * H and move.move == pytest.approx(-0.06)  # 3 % is only 3 σ
    r[ONSET - 2 * H] = -0.2  # a move before the onset raises the pre-crash σ and is not a candidate itself
    assert first_large_move(r, ONSET).t0 == ONSET + 11 * H  # type: ignore[union-attr]
    assert first_large_move(calm_then_crash().loc[:ONSET], ONSET) is None  # nothing after the onset
    assert first_large_move(calm_then_crash().loc[ONSET - pd.Timedelta(days=2) :], ONSET) is None  # no week before


def test_reaction_hours_counts_from_the_move_to_the_doubling() -> None:
    move = first_large_move(calm_then_crash(), ONSET)
    assert move is not None
    hours = pd.date_range(ONSET - pd.Timedelta(days=7) + H, ONSET + pd.Timedelta(days=8), freq="h")
    sigma = pd.Series(0.03, index=hours)
    sigma[hours <= ONSET - pd.Timedelta(days=3)] = 0.02  # the week's median is 0.02; the midnight level 0.03
    sigma[hours >= move.t0 + 5 * H] = 0.059
    sigma[hours >= move.t0 + 7 * H] = 0.061
    # the week's median (the default): 96 h at 0.02 and 72 h at 0.03 -> 0.02; doubled at 0.04, reached at t0 + 5 h
    assert reaction_hours(sigma, move) == (0.02, 5.0)
    # the midnight level: 0.03; 0.059 < 2 x 0.03 <= 0.061, reached at t0 + 7 h
    assert reaction_hours(sigma, move, level="midnight") == (0.03, 7.0)
    sigma[hours <= ONSET - pd.Timedelta(days=3)] = 0.03  # a flat week: both levels 0.03
    # already doubled when the move becomes known: 0 hours
    early = sigma.copy()
    early[hours >= move.t0] = 0.07
    assert reaction_hours(early, move) == (0.03, 0.0)
    assert reaction_hours(early, move, level="midnight") == (0.03, 0.0)
    # never doubled within the censoring window: None
    late = sigma.copy()
    late[hours >= move.t0] = 0.05
    late[hours >= move.t0 + (CENSOR_HOURS + 1) * H] = 0.1
    assert reaction_hours(late, move) == (0.03, None)
    # a daily forecast (held from midnight) doubles only at the next midnight: 14 hours after a 10:00 move
    daily = pd.Series(0.03, index=hours)
    daily[hours >= ONSET + pd.Timedelta(days=1)] = 0.08
    assert reaction_hours(daily, move) == (0.03, 14.0)
    with pytest.raises(ValueError, match="level"):
        reaction_hours(sigma, move, level="mean")


def test_reaction_table_uses_each_models_own_path() -> None:
    r = calm_then_crash()
    hours = r.index
    fast = np.where(hours >= ONSET + 11 * H, 0.1, 0.03) ** 2
    slow = np.where(hours >= ONSET + pd.Timedelta(days=1), 0.1, 0.03) ** 2
    forecasts = pd.concat(
        [
            pd.DataFrame({"time": hours, "asset": "eth", "model": "fast", "variance": fast}),
            pd.DataFrame({"time": hours, "asset": "eth", "model": "slow", "variance": slow}),
        ]
    )
    table = reaction_table(forecasts, {"eth": r}, ("2022-05-09", "2021-01-01")).set_index("model")
    assert table.loc["fast", "hours"] == 1.0 and table.loc["slow", "hours"] == 14.0
    assert (table["t0"] == ONSET + 10 * H).all() and len(table) == 2  # no data for the other onset
    summary = reaction_summary(table.reset_index(), reference="slow").set_index("model")
    assert summary.loc["fast", "median_hours"] == 1.0 and summary.loc["fast", "as_fast_as_slow"] == 1
    assert summary.loc["slow", "within_24h"] == 1 and summary.loc["slow", "censored"] == 0
    never = table.reset_index().assign(hours=[None, 3.0])  # "fast" censored, "slow" 3 h
    summary = reaction_summary(never, reference="slow").set_index("model")
    assert summary.loc["fast", "censored"] == 1 and pd.isna(summary.loc["fast", "median_hours"])
    assert summary.loc["fast", "as_fast_as_slow"] == 0


def scored_frame(n_days: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    times = pd.date_range("2021-01-01T00:00Z", periods=n_days * 24, freq="h")
    true = np.exp(np.sin(np.arange(times.size) / 500.0)) * 1e-3
    rv = true * rng.lognormal(-0.125, 0.5, times.size)
    r24 = np.sqrt(true) * rng.standard_normal(times.size)
    rows = []
    for model, var in (("HAR-RV", true), ("worse", true * 1.6), ("other", true * 0.9)):
        rows.append(
            pd.DataFrame({"time": times, "asset": "eth", "model": model, "variance": var, "rv": rv, "r24": r24})
        )
    out = pd.concat(rows, ignore_index=True).assign(q01=-2.326, q05=-1.645)
    return out


def test_score_period_ratios_dm_and_common_hours() -> None:
    f = scored_frame()
    f = f[~((f["model"] == "other") & (f["time"] < "2021-02-01"))]  # one model starts later: scored where all exist
    period = Period("p", "2021-01-01", None, ("2021-03", "2030-01"))
    table = score_period(f, period).set_index("model")
    assert (table["hours"] == table.loc["other", "hours"]).all()
    assert table.loc["HAR-RV", "ratio_har"] == 1.0 and np.isnan(table.loc["HAR-RV"].get("dm_p_har", np.nan))
    shared = f[(f["model"] == "worse") & (f["time"] >= "2021-02-01")]
    expected = float(qlike(shared["rv"], shared["variance"]).mean())
    assert table.loc["worse", "qlike"] == pytest.approx(expected)
    assert table.loc["worse", "ratio_har"] > 1.1 and table.loc["worse", "dm_p_har"] < 0.01
    assert table.loc["worse", "dm_stat_har"] > 0
    assert table.loc["worse", "crisis_hours"] == 31 * 24  # 2021-03 only; the month absent from the data is skipped
    assert VALIDATION.end == TEST.start  # the validation period ends where the test period starts


def test_var_tests_run_on_the_24_non_overlapping_daily_series() -> None:
    f = scored_frame(n_days=300, seed=1)
    f = f[f["model"] == "HAR-RV"]
    out = var_tests(f)
    breach = f["r24"] < np.sqrt(f["variance"]) * f["q01"]
    assert out["breach99"] == pytest.approx(breach.mean())
    hour = pd.DatetimeIndex(f["time"]).hour
    expected = np.median([kupiec(breach[hour == h].to_numpy(), 0.01)[1] for h in range(24)])
    assert out["kupiec_p99"] == pytest.approx(expected)
    # a model with too-narrow quantiles is rejected in (almost) every one of the 24 series
    narrow = var_tests(f.assign(q01=-1.0))
    assert narrow["kupiec_rejects"] >= 22 and narrow["breach99"] > 0.1
