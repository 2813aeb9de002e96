"""The cascade simulator against closed-form cases and its own straightforward reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from oracle.risk.cascade import CascadeMarket, CascadeParams, Shocks, reference_cascade, run_cascade, sample_shocks


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
