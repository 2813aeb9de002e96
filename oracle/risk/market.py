"""A snapshot as the cascade simulator sees it: positions in USD, the gas of a liquidation, and the price paths the
forecasts imply (with the feeds' correlation).

Why here: the features, the calibration, the gate and the report all value positions the same way; one function
does it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from oracle.domain.appetite import RiskAppetite
from oracle.domain.forecast import VolForecast
from oracle.domain.snapshot import MarketSnapshot
from oracle.errors import PolicyError
from oracle.risk.cascade import INSTANT, CascadeMarket, Liquidators, Shocks, sample_shocks

MIN_CORRELATION_DAYS = 30
DEFAULT_CORRELATION = 0.8  # crypto assets in a crash, when the feeds are too short to measure it


def gas_cost_usd(snapshot: MarketSnapshot, appetite: RiskAppetite) -> float:
    """USD of one liquidation's gas at the stressed gas price (base fee x multiplier + tip)."""
    try:
        native = snapshot.asset(appetite.native_asset).price_usd
    except KeyError:
        native = appetite.native_price_usd
    gwei = snapshot.base_fee_wei / 1e9 * appetite.gas_stress_multiplier + appetite.priority_fee_gwei
    return appetite.liquidation_gas * gwei * 1e-9 * native


def position_values(snapshot: MarketSnapshot) -> tuple[np.ndarray, np.ndarray]:
    """USD collateral value per position and asset (positions x assets), and USD debt per position."""
    unit = np.array([a.price / 10 ** (a.feed_decimals + a.token_decimals) for a in snapshot.assets])
    amounts = np.array([p.collateral for p in snapshot.positions], dtype=float).reshape(-1, len(snapshot.assets))
    debt = np.array([p.debt for p in snapshot.positions], dtype=float) / 10**snapshot.stable_decimals
    return amounts * unit, debt


def correlation(candles: Mapping[str, pd.DataFrame]) -> np.ndarray:
    """Correlation of daily log returns of the assets' feeds (``candles`` by symbol, in the snapshot's order) over
    their common days; a conservative constant when fewer than ``MIN_CORRELATION_DAYS`` are shared."""
    n = len(candles)
    closes = [frame["close"].rename(symbol) for symbol, frame in candles.items()]
    frame = np.log(pd.concat(closes, axis=1, sort=True).dropna()).diff().dropna()
    if n == 1:
        return np.eye(1)
    if len(frame) < MIN_CORRELATION_DAYS:
        return np.full((n, n), DEFAULT_CORRELATION) + (1 - DEFAULT_CORRELATION) * np.eye(n)
    corr = np.corrcoef(frame.to_numpy().T)
    # numerical safety for the Cholesky factor: clip to a valid correlation matrix
    eigval, eigvec = np.linalg.eigh(corr)
    corr = eigvec @ np.diag(np.clip(eigval, 1e-6, None)) @ eigvec.T
    d = np.sqrt(np.diag(corr))
    return corr / d[:, None] / d[None, :]


def cascade_market(snapshot: MarketSnapshot, appetite: RiskAppetite) -> CascadeMarket:
    """The snapshot's positions as the simulator sees them."""
    values, debt = position_values(snapshot)
    depths = [appetite.depth_of(a.address, a.symbol) for a in snapshot.assets]
    missing = [a.symbol for a, d in zip(snapshot.assets, depths, strict=True) if d is None]
    if missing:
        raise PolicyError(f"the policy's [risk] depth_usd names no pool depth for {', '.join(missing)}")
    depth = np.array(depths, dtype=float)
    return CascadeMarket(values, debt, depth, gas_cost_usd(snapshot, appetite), snapshot.close_factor_bps / 10_000)


def market_shocks(
    candles: Mapping[str, pd.DataFrame], forecasts: tuple[VolForecast, ...], appetite: RiskAppetite
) -> Shocks:
    """Price paths over the horizon from the forecasts (variance scaled to the horizon) and the feeds' correlation."""
    scale = appetite.horizon_days**0.5
    sigma = np.array([f.sigma * scale for f in forecasts])
    dof = np.array([f.dof if f.dof is not None else np.inf for f in forecasts])
    return sample_shocks(
        sigma, dof, correlation(candles), paths=appetite.paths, steps=appetite.steps, seed=appetite.seed
    )


def cascade_liquidators(appetite: RiskAppetite, assets: list[tuple[str, str]]) -> Liquidators:
    """The simulator's liquidators for ``assets`` (``(token address, symbol)`` in column order) from the policy's
    ``[risk.liquidators]``; the first simulator's instant liquidators when the policy has none."""
    if appetite.liquidators is None:
        return INSTANT
    feeds = [appetite.feed_of(address, symbol) for address, symbol in assets]
    missing = [symbol for (_, symbol), f in zip(assets, feeds, strict=True) if f is None]
    if missing:
        raise PolicyError(f"the policy's [risk.liquidators] has no feed for {', '.join(missing)}")
    return liquidators_with_feeds(appetite, [f for f in feeds if f is not None])


def slowest_feed(appetite: RiskAppetite) -> tuple[float, int]:
    """The market's slowest feed (largest deviation, longest heartbeat): what a result for every asset assumes."""
    behaviour = appetite.liquidators
    if behaviour is None:
        raise PolicyError("the policy has no [risk.liquidators]")
    return max(behaviour.feed_deviation.values()), max(behaviour.feed_heartbeat_s.values())


def liquidators_with_feeds(appetite: RiskAppetite, feeds: list[tuple[float, int]]) -> Liquidators:
    """The policy's ``[risk.liquidators]`` in the simulator's terms, per step, with these (deviation, heartbeat s)
    feeds in column order."""
    behaviour = appetite.liquidators
    if behaviour is None:
        raise PolicyError("the policy has no [risk.liquidators]")
    step_s = appetite.horizon_h * 3600 / appetite.steps
    return Liquidators(
        capacity_share=behaviour.capacity_share * step_s / 3600,  # the policy's is per hour, the simulator's per step
        chunk_bonus_share=behaviour.chunk_limit,
        depth_beta=behaviour.depth_beta,
        depth_sigma_ref=behaviour.depth_sigma_ref,
        step_h=step_s / 3600,
        feed_deviation=tuple(d for d, _ in feeds),
        feed_heartbeat_steps=tuple(max(1, math.ceil(h / step_s - 1e-9)) for _, h in feeds),
        slippage_profit=True,
        impact_half_life_h=behaviour.impact_half_life_h,
    )
