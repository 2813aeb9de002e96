"""Gauntlet's LLTV method (``oracle.risk.lltv``) against hand-computed runs, its closed-form limits, the source's
own published outputs, and the monotonicity a lender expects (less liquidity, a bigger borrower or a deeper
drawdown never earns a higher LLTV)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.data.demo_prices import load_demo_ohlc
from oracle.errors import PriceDataError
from oracle.risk.lltv import (
    MORPHO_ENABLED_LLTVS_BPS,
    candidate_grid,
    constant_product_execution_slippage,
    constant_product_price_impact,
    gauntlet_lltv,
    liquidation_incentive,
    lltv_for_drawdown,
    monthly_drawdowns,
    morpho_lltv_at_or_below,
    percentile_drawdown,
    simulate_bad_debt,
    source_drawdown,
    swap_size_usd,
)


def _daily(values: list[float], start: str = "2022-01-01") -> pd.Series:
    return pd.Series(values, index=pd.date_range(start, periods=len(values), freq="D", tz="UTC"))


# --------------------------------------------------------------------------- liquidation incentive


def test_liquidation_incentive_is_morphos_lif_minus_one() -> None:
    # LIF = min(1.15, 1 / (1 - 0.3 (1 - LLTV))): 86 % -> 1 / 0.958; 50 % -> capped at 1.15
    assert liquidation_incentive(0.86) == pytest.approx(1 / 0.958 - 1)
    assert liquidation_incentive(0.5) == pytest.approx(0.15)
    # at 99 % the contract gives 0.3 %; main.py floors the bonus at 0.5 %
    assert liquidation_incentive(0.99, min_bonus=0.0) == pytest.approx(1 / 0.997 - 1)
    assert liquidation_incentive(0.99) == pytest.approx(0.005)


# --------------------------------------------------------------------------- drawdown


def test_monthly_drawdown_looks_30_days_back_from_each_close() -> None:
    # 100 on day 0, 70 for 30 days: day 30's window (31 closes) still holds the 100 -> one drawdown of 30 %
    dd = monthly_drawdowns(_daily([100.0] + [70.0] * 30))
    assert dd.tolist() == pytest.approx([0.3])
    # one day later the 100 has left the window
    assert monthly_drawdowns(_daily([100.0] + [70.0] * 31)).tolist() == pytest.approx([0.3, 0.0])


def test_percentile_drawdown_of_a_known_series() -> None:
    # flat at 100 for 40 days, then 50 for 61 days: days 30..100 have windows; days 40..69 see the 100 (0.5),
    # the other 41 see none (0): 71 drawdowns, 41 zeros then 30 halves
    closes = _daily([100.0] * 40 + [50.0] * 61)
    dd = monthly_drawdowns(closes).to_numpy()
    assert len(dd) == 71 and (dd == 0.5).sum() == 30 and (dd == 0).sum() == 41
    assert percentile_drawdown(closes) == pytest.approx(0.5)  # the 99th percentile
    # linear interpolation: rank 0.58 x 70 = 40.6 lies 60 % of the way from the last 0 to the first 0.5
    assert percentile_drawdown(closes, percentile=58) == pytest.approx(0.3)
    assert percentile_drawdown(closes, percentile=50) == 0.0


def test_drawdown_is_a_ratio_so_the_price_level_does_not_matter() -> None:
    closes = load_demo_ohlc()["eth"]["close"]
    assert percentile_drawdown(closes * 1000) == pytest.approx(percentile_drawdown(closes), rel=1e-12)


def test_closes_must_be_one_a_day_and_long_enough() -> None:
    closes = _daily([100.0] * 40)
    with pytest.raises(PriceDataError, match="one a day"):
        monthly_drawdowns(closes.drop(closes.index[10]))
    with pytest.raises(PriceDataError, match="at least 31"):
        monthly_drawdowns(_daily([100.0] * 30))
    with pytest.raises(PriceDataError, match="positive"):
        monthly_drawdowns(_daily([100.0] * 39 + [float("nan")]))


def test_source_drawdown_floors() -> None:
    assert source_drawdown(0.30, 0.4) == 0.4  # blue chip: at least 40 %
    assert source_drawdown(0.52, 0.6) == 0.6  # other: at least 60 %
    assert source_drawdown(0.70, 0.6) == 0.7  # history deeper than the floor
    assert source_drawdown(0.01, 0.4) == 0.02  # pegged pair: only a 2 % minimum
    assert source_drawdown(0.05, 0.4) == 0.05


# --------------------------------------------------------------------------- liquidity


def test_chunk_is_the_half_percent_impact_sell_of_the_pool() -> None:
    depth = 400e6
    price_move = swap_size_usd(constant_product_price_impact(depth))
    assert price_move == pytest.approx(depth * (1 / math.sqrt(0.995) - 1), rel=1e-9)  # ~1.004 M
    execution = swap_size_usd(constant_product_execution_slippage(depth))
    assert execution == pytest.approx(depth * 0.005 / 0.995, rel=1e-9)  # the source's definition: ~2x larger
    assert 1.9 < execution / price_move < 2.1


# --------------------------------------------------------------------------- one run


def test_run_by_hand_two_chunks_then_bad_debt() -> None:
    # C 100, LLTV 90 %, bonus 10 %, chunk 45, steps of 10 %:
    # step 1: price 0.9, value 90, debt 90 >= 81: repay 45, seize 49.5 -> 45 tokens (40.5), debt 45
    # step 2: price 0.8, value 36, debt 45 >= 32.4: repay 45 would seize 49.5 > 36: all 36, debt 45 - 36 / 1.1
    out = simulate_bad_debt(0.9, 100.0, 45.0, 0.5, step=0.1, bonus=0.1)
    assert out.bad_debt_usd == pytest.approx(45 - 36 / 1.1)
    assert (out.steps, out.liquidations) == (2, 2)


def test_run_by_hand_one_chunk_repays_everything() -> None:
    # debt 95 at 0.995: seizing 95 x 1.0152 = 96.4 of 99.5 repays it all
    out = simulate_bad_debt(0.95, 100.0, 1000.0, 0.5)
    assert out == (0.0, 1, 1)


def test_position_below_lltv_at_the_floor_stays_there() -> None:
    # LLTV 50 %, the price stops at 0.99: LTV 0.505 -> one chunk brings it below 50 % for good
    out = simulate_bad_debt(0.5, 100.0, 10.0, 0.01)
    assert out.bad_debt_usd == 0 and out.liquidations == 1 and out.steps == 2


# --------------------------------------------------------------------------- closed-form limits


@pytest.mark.parametrize(
    ("drawdown", "min_bonus", "expected"), [(0.2, 0.005, 9900), (0.2, 0.0, 9928), (0.7, 0.005, 9900)]
)
def test_deep_pool_tiny_borrower_is_bounded_by_the_first_step(drawdown: float, min_bonus: float, expected: int) -> None:
    # a chunk larger than the debt: the position is closed at the first step (price 0.995), which leaves bad debt
    # iff LLTV x (1 + LI) > 0.995: LLTV <= 0.995 / 1.005 with the 0.5 % bonus floor (9900), or the root of
    # l / (0.3 l + 0.7) = 0.995, 0.6965 / 0.7015 = 0.99287, without it (9928); the drawdown's depth is never seen
    res = lltv_for_drawdown(drawdown, 1.0, 1e9, grid_step_bps=1, min_bonus=min_bonus)
    assert res.lltv_bps == expected
    assert res.bad_debt_at_next and res.next_candidate_bps == expected + 1


def test_deep_pool_tiny_borrower_shallow_drawdown_is_bounded_by_the_drawdown() -> None:
    # a 0.3 % drawdown is one step to 0.997: LLTV <= 0.997 / 1.005 = 0.99204
    assert lltv_for_drawdown(0.003, 1.0, 1e9, grid_step_bps=1).lltv_bps == 9920


@pytest.mark.parametrize("drawdown", [0.3, 0.4, 0.6])
def test_unliquidatable_borrower_is_bounded_by_the_drawdown(drawdown: float) -> None:
    # chunks of 1e-7 of the position: nothing is liquidated before the floor, so the largest safe LLTV is the
    # largest with LLTV x (1 + LI) < 1 - drawdown (the source's no-run shortcut)
    res = lltv_for_drawdown(drawdown, 1e9, 100.0, grid_step_bps=10)
    expected = max(b for b in candidate_grid() if b / 1e4 * (1 + liquidation_incentive(b / 1e4)) < 1 - drawdown)
    assert res.lltv_bps == expected
    assert res.drawdown_steps == round(drawdown / 0.005)


def test_reproduces_the_sources_published_runs() -> None:
    # demo.ipynb of the source (main.py, 1 % grid): WETH/USDC, whale 360.38 M, repay 20.90 M, drawdown 40 %
    # -> LLTV 0.93, LI 0.021; drawdown 70 % and repay 5 M -> LLTV 0.79
    grid = range(100, 10_000, 100)
    first = lltv_for_drawdown(0.4, 360.38e6, 20_904_419.67, candidates=grid)
    assert first.lltv_bps == 9300 and round(first.liquidation_bonus, 3) == 0.021
    assert lltv_for_drawdown(0.7, 360.38e6, 5e6, candidates=grid).lltv_bps == 7900


def test_morpho_grid_and_nearest_enabled_lltv() -> None:
    fine = lltv_for_drawdown(0.4, 360.38e6, 20_904_419.67)
    enabled = lltv_for_drawdown(0.4, 360.38e6, 20_904_419.67, candidates="morpho")
    assert enabled.lltv_bps in MORPHO_ENABLED_LLTVS_BPS
    assert enabled.lltv_bps == fine.morpho_lltv_bps == morpho_lltv_at_or_below(fine.lltv_bps)
    assert morpho_lltv_at_or_below(9300) == 9150 and morpho_lltv_at_or_below(9800) == 9800
    assert morpho_lltv_at_or_below(3000) == 0


# --------------------------------------------------------------------------- monotonicity

ratio = st.floats(min_value=0.3, max_value=300.0)  # position / chunk
drawdowns = st.floats(min_value=0.01, max_value=0.9)
factor = st.floats(min_value=1.0, max_value=4.0)


@settings(max_examples=40, deadline=None)
@given(ratio, drawdowns, factor)
def test_a_larger_borrower_never_raises_lltv(r: float, dd: float, k: float) -> None:
    base = lltv_for_drawdown(dd, r * 1e6, 1e6, grid_step_bps=20).lltv_bps
    assert lltv_for_drawdown(dd, k * r * 1e6, 1e6, grid_step_bps=20).lltv_bps <= base


@settings(max_examples=40, deadline=None)
@given(ratio, drawdowns, factor)
def test_thinner_depth_never_raises_lltv(r: float, dd: float, k: float) -> None:
    closes = _daily([100.0] + [100.0 * (1 - dd)] * 30)  # one 30-day window: its drawdown is dd
    position = 100e6
    depth = position / (r * (1 / math.sqrt(0.995) - 1))  # the 0.5 % chunk is position / r
    deep = gauntlet_lltv(closes, position, depth_usd=depth, grid_step_bps=20)
    thin = gauntlet_lltv(closes, position, depth_usd=depth / k, grid_step_bps=20)
    assert deep.drawdown == pytest.approx(dd)
    assert thin.chunk_usd <= deep.chunk_usd
    assert thin.lltv_bps <= deep.lltv_bps


@settings(max_examples=40, deadline=None)
@given(ratio, drawdowns, st.floats(min_value=0.0, max_value=0.5))
def test_a_larger_drawdown_never_raises_lltv(r: float, dd: float, more: float) -> None:
    base = lltv_for_drawdown(dd, r * 1e6, 1e6, grid_step_bps=20).lltv_bps
    assert lltv_for_drawdown(min(dd + more, 0.95), r * 1e6, 1e6, grid_step_bps=20).lltv_bps <= base


# --------------------------------------------------------------------------- the whole method


def test_gauntlet_lltv_on_the_demo_extract_is_deterministic() -> None:
    closes = load_demo_ohlc()["eth"]["close"]
    runs = [gauntlet_lltv(closes, 25e6, depth_usd=400e6, drawdown_floor=0.4) for _ in range(2)]
    assert runs[0] == runs[1]
    res = runs[0]
    assert res.historical_drawdown == pytest.approx(percentile_drawdown(closes))
    assert res.drawdown == max(0.4, res.historical_drawdown)
    assert res.lltv_bps % 10 == 0 and res.lltv == res.lltv_bps / 10_000
    assert res.morpho_lltv_bps == morpho_lltv_at_or_below(res.lltv_bps)
    assert res.chunk_usd == pytest.approx(400e6 * (1 / math.sqrt(0.995) - 1))
    # the candidate after the LLTV leaves bad debt (that is what stopped the scan)
    assert res.bad_debt_at_next and res.next_candidate_bps == res.lltv_bps + 10
    assert res.next_candidate_bad_debt_usd is not None and res.next_candidate_bad_debt_usd > 0
    # the price level of the history does not matter
    assert gauntlet_lltv(closes * 7, 25e6, depth_usd=400e6, drawdown_floor=0.4) == res


def test_debt_side_chunk_caps_the_chunk() -> None:
    closes = _daily(list(np.linspace(100, 80, 40)))
    res = gauntlet_lltv(closes, 25e6, depth_usd=400e6, debt_chunk_usd=250_000.0)
    assert res.chunk_usd == 250_000.0
    assert res.lltv_bps <= gauntlet_lltv(closes, 25e6, depth_usd=400e6).lltv_bps


def test_needs_exactly_one_liquidity_model() -> None:
    closes = _daily([100.0] * 31)
    with pytest.raises(ValueError, match="depth_usd or impact"):
        gauntlet_lltv(closes, 1e6)
    with pytest.raises(ValueError, match="not both"):
        gauntlet_lltv(closes, 1e6, depth_usd=1e6, impact=constant_product_price_impact(1e6))
