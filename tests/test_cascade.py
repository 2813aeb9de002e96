"""The cascade simulator against closed-form cases and its own straightforward reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from oracle.risk.cascade import (
    CascadeMarket,
    CascadeParams,
    Liquidators,
    Shocks,
    reference_cascade,
    run_cascade,
    sample_shocks,
)


def _one_step(drop: float, steps: int = 1) -> Shocks:
    """A path that falls by ``drop`` in its first step and stays."""
    r = np.zeros((1, steps, 1), dtype=np.float32)
    r[0, 0, 0] = math.log(1 - drop)
    return Shocks(torch.from_numpy(r), seed=0)


def _single(coll: float, debt: float, depth: float = np.inf, gas: float = 0.0) -> CascadeMarket:
    return CascadeMarket(np.array([[coll]]), np.array([debt]), np.array([depth]), gas, 0.5)


PARAMS = CascadeParams(np.array([0.8]), np.array([0.05]))


def test_one_position_partial_liquidation_closed_form() -> None:
    # collateral 100, debt 78 at LT 80 %: HF 1.026; a 4 % fall gives HF 0.985 -> 50 % of debt repaid, bonus 5 %
    res = run_cascade(_single(100.0, 78.0), PARAMS, _one_step(0.04), dtype=torch.float64)
    repay = 0.5 * 78.0
    seized_value = repay * 1.05
    assert res.liquidated_usd[0] == pytest.approx(repay)
    assert res.liquidations[0] == 1  # afterwards HF = 0.8 (96 - 40.95) / 39 = 1.129: no second liquidation
    assert res.bad_debt_usd[0] == 0
    assert res.min_price_ratio[0] == pytest.approx(0.96)
    assert 0.8 * (96 - seized_value) / (78 - repay) > 1


def test_one_position_gap_down_leaves_closed_form_bad_debt() -> None:
    # a 50 % gap: collateral 50 < debt 78; HF < 0.95 so all debt may be repaid, but only value / (1 + LB) is
    res = run_cascade(_single(100.0, 78.0), PARAMS, _one_step(0.5), dtype=torch.float64)
    repay = 50.0 / 1.05
    assert res.liquidated_usd[0] == pytest.approx(repay)
    assert res.bad_debt_usd[0] == pytest.approx(78.0 - repay)
    assert res.liquidations[0] == 1


def test_unprofitable_liquidation_is_not_done() -> None:
    # repay 39 x bonus 5 % = 1.95 USD of profit < 5 USD of gas: nobody liquidates
    res = run_cascade(_single(100.0, 78.0, gas=5.0), PARAMS, _one_step(0.04), dtype=torch.float64)
    assert res.liquidations[0] == 0 and res.liquidated_usd[0] == 0


def test_no_cascade_when_depth_is_infinite() -> None:
    rng = np.random.default_rng(3)
    coll = rng.lognormal(np.log(1e4), 1, (400, 1))
    market = CascadeMarket(coll, coll[:, 0] * 0.8 / rng.uniform(1.0, 1.2, 400), np.array([np.inf]), 1.0, 0.5)
    shocks = sample_shocks(np.array([0.08]), np.array([4.0]), np.eye(1), paths=200, steps=24, seed=1)
    res = run_cascade(market, PARAMS, shocks, dtype=torch.float64)
    exogenous_low = torch.exp(torch.cumsum(shocks.log_returns.double(), 1)).amin(dim=(1, 2)).numpy()
    np.testing.assert_allclose(res.min_price_ratio, np.minimum(exogenous_low, 1.0), rtol=1e-12)
    assert res.liquidations.sum() > 0  # the test is not vacuous


def test_selling_deepens_the_fall_with_finite_depth() -> None:
    rng = np.random.default_rng(4)
    coll = rng.lognormal(np.log(1e4), 1, (400, 1))
    debt = coll[:, 0] * 0.8 / rng.uniform(1.0, 1.2, 400)
    shocks = sample_shocks(np.array([0.08]), np.array([4.0]), np.eye(1), paths=200, steps=24, seed=1)
    deep = run_cascade(CascadeMarket(coll, debt, np.array([np.inf]), 1.0, 0.5), PARAMS, shocks)
    thin = run_cascade(CascadeMarket(coll, debt, np.array([coll.sum()]), 1.0, 0.5), PARAMS, shocks)
    assert (thin.min_price_ratio <= deep.min_price_ratio + 1e-6).all()
    assert thin.liquidations.sum() > deep.liquidations.sum()
    assert thin.bad_debt_usd.sum() > deep.bad_debt_usd.sum()


def test_matches_the_per_path_reference_multi_asset() -> None:
    rng = np.random.default_rng(1)
    n, assets = 120, 3
    coll = np.zeros((n, assets))
    for i in range(n):
        chosen = rng.choice(assets, size=rng.integers(1, 3), replace=False)
        coll[i, chosen] = rng.lognormal(np.log(2e4), 1, size=len(chosen))
    lt, lb = np.array([0.8, 0.75, 0.7]), np.array([0.05, 0.07, 0.1])
    hf = np.where(rng.random(n) < 0.3, rng.uniform(0.97, 1.15, n), rng.uniform(1.2, 3, n))
    debt = coll @ lt / hf
    debt[:5] = 0  # positions without debt
    market = CascadeMarket(coll, debt, np.array([3e6, 1e6, 5e5]), 20.0, 0.5)
    corr = np.array([[1, 0.8, 0.6], [0.8, 1, 0.5], [0.6, 0.5, 1]])
    shocks = sample_shocks(np.array([0.08, 0.1, 0.15]), np.array([4, 4, 5.0]), corr, paths=40, steps=12, seed=3)
    params = CascadeParams(lt, lb)
    fast = run_cascade(market, params, shocks, dtype=torch.float64, chunk=16)
    slow = reference_cascade(market, params, shocks)
    for field in ("bad_debt_usd", "liquidated_usd", "liquidations", "min_price_ratio"):
        np.testing.assert_allclose(getattr(fast, field), getattr(slow, field), rtol=1e-9, atol=1e-6, err_msg=field)
    assert slow.liquidations.sum() > 100 and slow.bad_debt_usd.sum() > 0  # cascades and bad debt exercised


def test_common_random_numbers_and_horizon_distribution() -> None:
    a = sample_shocks(np.array([0.05, 0.1]), np.array([5.0, 8.0]), np.eye(2), paths=20000, steps=24, seed=9)
    b = sample_shocks(np.array([0.05, 0.1]), np.array([5.0, 8.0]), np.eye(2), paths=20000, steps=24, seed=9)
    assert torch.equal(a.log_returns, b.log_returns)
    total = a.log_returns.double().sum(1).numpy()
    np.testing.assert_allclose(total.std(0), [0.05, 0.1], rtol=0.05)
    kurtosis = ((total - total.mean(0)) ** 4).mean(0) / total.var(0) ** 2 - 3
    assert (kurtosis > 1).all()  # Student-t tails over the horizon, not Gaussian (excess kurtosis 6 and 1.5)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        CascadeMarket(np.array([[np.nan]]), np.array([1.0]), np.array([1.0]), 0.0, 0.5)
    with pytest.raises(ValueError, match="dof"):
        sample_shocks(np.array([0.05]), np.array([2.0]), np.eye(1), paths=10, steps=2, seed=0)


# --------------------------------------------------------------------------- the realism terms

REALISTIC = Liquidators(
    capacity_share=0.01,
    chunk_bonus_share=0.5,
    depth_beta=1.0,
    depth_sigma_ref=0.04,
    feed_deviation=(0.005, 0.01, 0.02),
    feed_heartbeat_steps=(1, 2, 3),
    slippage_profit=True,
    impact_half_life_h=3.0,
)


def _book(seed: int, n: int = 120, assets: int = 3) -> tuple[CascadeMarket, CascadeParams]:
    rng = np.random.default_rng(seed)
    coll = np.zeros((n, assets))
    for i in range(n):
        chosen = rng.choice(assets, size=rng.integers(1, 3), replace=False)
        coll[i, chosen] = rng.lognormal(np.log(2e4), 1, size=len(chosen))
    coll[0, 0] = 2e6  # a whale: many chunks to liquidate
    lt, lb = np.array([0.8, 0.75, 0.7]), np.array([0.05, 0.07, 0.1])
    hf = np.where(rng.random(n) < 0.4, rng.uniform(0.97, 1.1, n), rng.uniform(1.2, 3, n))
    debt = coll @ lt / hf
    debt[1:5] = 0
    return CascadeMarket(coll, debt, np.array([3e7, 1e7, 5e6]), 20.0, 0.5), CascadeParams(lt, lb)


@pytest.mark.parametrize("full_close_hf", [0.95, None])
def test_matches_the_per_path_reference_with_every_realism_term(full_close_hf: float | None) -> None:
    market, params = _book(5)
    corr = np.array([[1, 0.8, 0.6], [0.8, 1, 0.5], [0.6, 0.5, 1]])
    shocks = sample_shocks(np.array([0.08, 0.1, 0.15]), np.array([4, 4, 5.0]), corr, paths=30, steps=12, seed=4)
    gas = np.linspace(5.0, 60.0, 12)  # a per-step series, as a replay's daily gas
    kw = {"liquidators": REALISTIC, "gas_usd": gas, "full_close_hf": full_close_hf}
    fast = run_cascade(market, params, shocks, dtype=torch.float64, chunk=8, **kw)
    slow = reference_cascade(market, params, shocks, **kw)
    for name in ("bad_debt_usd", "liquidated_usd", "liquidations", "min_price_ratio", "seized_by_step_usd"):
        np.testing.assert_allclose(getattr(fast, name), getattr(slow, name), rtol=1e-9, atol=1e-6, err_msg=name)
    assert slow.liquidations.sum() > 50 and slow.bad_debt_usd.sum() > 0  # the terms are exercised
    instant = run_cascade(market, params, shocks, dtype=torch.float64, gas_usd=gas, full_close_hf=full_close_hf)
    assert not np.allclose(instant.liquidated_usd, fast.liquidated_usd)  # and they change the outcome


def test_the_feed_lag_delays_liquidation_until_its_deviation_or_heartbeat() -> None:
    # collateral 100, debt 78 at LT 80 % (HF 1.026); the market falls 0.3 % per step: after 9 steps it is 2.7 %
    # down, a 1 % deviation feed has moved 3 times (at -1.0x %, -2.1 %, ...) and a 24-step heartbeat never fired
    r = np.full((1, 12, 1), math.log(0.997), dtype=np.float32)
    shocks = Shocks(torch.from_numpy(r), seed=0)
    market = _single(100.0, 78.0)
    now = run_cascade(market, PARAMS, shocks, dtype=torch.float64)
    lagged = run_cascade(
        market,
        PARAMS,
        shocks,
        dtype=torch.float64,
        liquidators=Liquidators(feed_deviation=(0.01,), feed_heartbeat_steps=(24,)),
    )
    first_now = int(np.flatnonzero(now.seized_by_step_usd[0])[0])
    first_lagged = int(np.flatnonzero(lagged.seized_by_step_usd[0])[0])
    assert first_now == 8  # 0.997^9 = 0.973 < 78 / 80: HF below 1 at the ninth step
    assert first_lagged > first_now


def test_capacity_spreads_a_whale_over_steps_and_chunks_cap_each_liquidation() -> None:
    market = CascadeMarket(np.array([[1e7]]), np.array([8.1e6]), np.array([1e8]), 0.0, 0.5)  # HF 0.988 at t0
    shocks = Shocks(torch.zeros(1, 6, 1), seed=0)
    free = run_cascade(market, PARAMS, shocks, dtype=torch.float64)
    capped = run_cascade(market, PARAMS, shocks, dtype=torch.float64, liquidators=Liquidators(capacity_share=0.01))
    assert free.seized_by_step_usd[0, 0] > 0 and free.seized_by_step_usd[0, 1:].sum() == 0
    per_step = capped.seized_by_step_usd[0]
    assert per_step.max() <= 0.01 * 1e8 * 1.0000001  # 1 % of the pool's depth per step, at most
    assert (per_step > 0).sum() > 1
    chunked = run_cascade(
        market, PARAMS, shocks, dtype=torch.float64, liquidators=Liquidators(chunk_bonus_share=0.2), max_rounds=1
    )
    # one liquidation moves the pool by at most 20 % of the 5 % bonus: seized <= 0.01 x pool
    assert chunked.seized_by_step_usd[0, 0] <= 0.01 * 1e8 * 1.0000001


def test_depth_shrinks_with_the_paths_volatility() -> None:
    from oracle.risk.cascade import effective_depth

    sigma = np.array([[0.02], [0.04], [0.08]])
    depth = effective_depth(np.array([1e8]), sigma, Liquidators(depth_beta=1.0, depth_sigma_ref=0.04))
    np.testing.assert_allclose(depth[:, 0], [1e8, 1e8, 5e7])
