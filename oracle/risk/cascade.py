"""Liquidation-cascade Monte Carlo over the policy horizon, vectorised in torch.

Model (one horizon, ``steps`` steps of ``Liquidators.step_h`` hours):

- **Prices.** Exogenous log returns per asset are Gaussian with the historical correlation, scaled per path by a
  variance shock so that each asset's return over the whole horizon is Student-t with the forecast's dof and
  variance (a scale mixture; one uniform draw per path sets every asset's shock, so stress hits all assets at
  once, as it does in crypto). See :func:`sample_shocks`. A replay of real history is one path of real returns.
- **Positions.** Collateral of each position (USD value at t0 per asset) and debt (USD); seizure is pro rata over
  a position's collateral, so a position's state is two numbers per path: the scale ``alpha`` of its collateral
  and its debt.
- **The feed lags the market** (``Liquidators.feed_deviation`` / ``feed_heartbeat_steps``): liquidations trigger
  on the feed price, which takes the market price only when it is farther than the deviation threshold from it or
  the heartbeat has passed (as a Chainlink aggregator: ETH/USD 0.5 % / 1 h). Seized collateral is valued at the
  feed (as the market contract does) but sold at the market.
- **Liquidations.** After each step's price move, up to ``max_rounds`` rounds: a position whose health factor on
  the feed is below 1 is liquidated for the close factor of its debt (all of it below ``full_close_hf``), the
  liquidator receiving the collateral-weighted bonus; never more collateral than the position has.
- **Liquidators are limited** (``Liquidators``): one liquidation seizes at most what moves its pool by
  ``chunk_bonus_share`` of the bonus (a liquidator sells in chunks it can sell at a profit, so a whale takes many
  liquidations, each round one); per step and asset, all liquidators together absorb at most ``capacity_share`` of
  the pool's effective depth (pro rata among that round's liquidations); and a liquidation is made only if it pays
  its gas (``gas_usd``: per path and step, e.g. the real daily series in a replay), counting, with
  ``slippage_profit``, the slippage of selling what it seizes and the feed's lag.
- **Pool depth shrinks as volatility rises**: a path's effective depth per asset is
  ``depth x min(1, (depth_sigma_ref / sigma_path)^depth_beta)``, with ``sigma_path`` that path's realised daily
  volatility of the asset (market makers widen and pull liquidity in a crash).
- **Cascade.** Liquidators sell the seized collateral into a constant-product pool per asset (reserve ``depth`` USD
  of the token at t0): selling ``q`` moves that asset's price by ``(depth / (depth + q))^2``, which can make more
  positions liquidatable in the next round; arbitrage re-anchors the pool to the wider market, so the impact of
  what was sold halves every ``impact_half_life_h`` hours (``inf``: permanent over the horizon, the first version).
- **Bad debt** at the horizon end: ``max(debt - collateral value, 0)`` summed over positions, at market prices.

Why this shape: the state stays ``paths x positions`` (no per-asset collateral per path) because seizure is pro
rata, so each round is three small matrix products and a few element-wise operations. Paths are processed in
chunks sorted by how far prices fall; within a chunk only positions that *can* become liquidatable are simulated
(a position's health factor can fall at most by the chunk's worst price ratio), and the chunk is re-run with a wider
set if the cascade's own selling pushed prices further than assumed. The pruning is exact: ``reference_cascade``,
a plain per-path Python loop, gives the same numbers (tested), with every term above switched on.

With ``Liquidators()`` (the default: every limit off, the feed equal to the market) the model is the first
version's, number for number, so reports made with it still verify.

Common random numbers: :func:`sample_shocks` is a pure function of its seed, so two parameter sets run on the same
``Shocks`` are compared path by path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from scipy import stats

HF_FULL_CLOSE = 0.95  # below this health factor the whole debt may be repaid (as the market contract)
DUST_USD = 1e-6


@dataclass(frozen=True)
class Shocks:
    """Exogenous log returns, ``paths x steps x assets``, shared by every parameter set compared on them."""

    log_returns: torch.Tensor
    seed: int

    @property
    def paths(self) -> int:
        return self.log_returns.shape[0]

    @property
    def steps(self) -> int:
        return self.log_returns.shape[1]


@dataclass(frozen=True)
class Liquidators:
    """How liquidations happen, beyond the contract's rules: the feed's lag, the liquidators' limits and the pool's
    depth under stress (see the module docstring). Every default switches its term off."""

    capacity_share: float = math.inf  # per step and asset: share of the pool's effective depth liquidators absorb
    chunk_bonus_share: float = math.inf  # one liquidation moves its pool by at most this share of the bonus
    depth_beta: float = 0.0  # effective depth = depth x min(1, (depth_sigma_ref / sigma_path)^depth_beta)
    depth_sigma_ref: float = 0.04  # daily volatility at which the stated depth holds
    step_h: float = 1.0  # hours per step (for the realised daily volatility of a path)
    feed_deviation: tuple[float, ...] | None = None  # per asset; None: the feed is the market price every step
    feed_heartbeat_steps: tuple[int, ...] | None = None  # per asset: steps after which the feed updates anyway
    slippage_profit: bool = False  # the profit test counts the slippage of selling the seized collateral
    impact_half_life_h: float = math.inf  # arbitrage re-anchors the pool: the impact of what was sold halves so often

    def __post_init__(self) -> None:
        if not (self.capacity_share > 0 and self.chunk_bonus_share > 0):
            raise ValueError("capacity_share and chunk_bonus_share must be > 0 (math.inf: unlimited)")
        if self.depth_beta < 0 or self.depth_sigma_ref <= 0 or self.step_h <= 0 or self.impact_half_life_h <= 0:
            raise ValueError("depth_beta >= 0, depth_sigma_ref > 0 and step_h > 0 are required")
        if (self.feed_deviation is None) != (self.feed_heartbeat_steps is None):
            raise ValueError("feed_deviation and feed_heartbeat_steps go together")
        if self.feed_deviation is not None and self.feed_heartbeat_steps is not None:
            if len(self.feed_deviation) != len(self.feed_heartbeat_steps):
                raise ValueError("one feed deviation and one heartbeat per asset")
            if any(d < 0 for d in self.feed_deviation) or any(h < 1 for h in self.feed_heartbeat_steps):
                raise ValueError("feed deviation >= 0 and heartbeat >= 1 step")

    @property
    def impact_decay(self) -> float:
        """Share of the price impact still there one step later (1: permanent, as the first version)."""
        return 0.5 ** (self.step_h / self.impact_half_life_h)

    @property
    def feed_lags(self) -> bool:
        return self.feed_deviation is not None

    @property
    def realistic_profit(self) -> bool:
        """Whether the profit test needs the sale's proceeds (feed lag or slippage), not just ``repay x bonus``."""
        return self.feed_lags or self.slippage_profit


INSTANT = Liquidators()


@dataclass(frozen=True)
class CascadeMarket:
    """What the simulator needs of a market, in USD: collateral value per position and asset at t0, debt per
    position, pool depth per asset, gas cost of one liquidation, close factor."""

    collateral_usd: np.ndarray  # positions x assets
    debt_usd: np.ndarray  # positions
    depth_usd: np.ndarray  # assets; np.inf = no price impact
    gas_usd: float
    close_factor: float

    def __post_init__(self) -> None:
        n, a = self.collateral_usd.shape
        if self.debt_usd.shape != (n,) or self.depth_usd.shape != (a,):
            raise ValueError(
                f"shapes: collateral {self.collateral_usd.shape}, debt {self.debt_usd.shape}, "
                f"depth {self.depth_usd.shape}"
            )
        if not (np.all(np.isfinite(self.collateral_usd)) and np.all(np.isfinite(self.debt_usd))):
            raise ValueError("collateral and debt must be finite")
        if np.any(self.collateral_usd < 0) or np.any(self.debt_usd < 0) or np.any(self.depth_usd <= 0):
            raise ValueError("collateral and debt must be >= 0, depth > 0")
        if not 0 < self.close_factor <= 1:
            raise ValueError(f"close factor {self.close_factor} outside (0, 1]")

    @property
    def assets(self) -> int:
        return self.collateral_usd.shape[1]

    @property
    def supplied_collateral_usd(self) -> float:
        return float(self.collateral_usd.sum())


@dataclass(frozen=True)
class CascadeParams:
    """Liquidation threshold and bonus per asset, as fractions (LTV does not act within the horizon)."""

    liquidation_threshold: np.ndarray
    liquidation_bonus: np.ndarray

    @classmethod
    def from_bps(cls, lt_bps: list[int] | np.ndarray, lb_bps: list[int] | np.ndarray) -> CascadeParams:
        return cls(np.asarray(lt_bps, dtype=float) / 1e4, np.asarray(lb_bps, dtype=float) / 1e4)


@dataclass(frozen=True)
class CascadeResult:
    """Per path (in the order of the shocks): bad debt and liquidated debt in USD, number of liquidations, the
    lowest price ratio any asset reached (impact included), and per path and step the USD value (at the feed, bonus
    included) of the collateral seized: what a lending market's "liquidated" statistics count."""

    bad_debt_usd: np.ndarray
    liquidated_usd: np.ndarray
    liquidations: np.ndarray
    min_price_ratio: np.ndarray
    seized_by_step_usd: np.ndarray | None = None


# --------------------------------------------------------------------------- scenarios


def sample_shocks(sigma: np.ndarray, dof: np.ndarray, corr: np.ndarray, *, paths: int, steps: int, seed: int) -> Shocks:
    """Log returns whose sum over the horizon is, per asset, Student-t with ``dof`` and standard deviation
    ``sigma`` (the forecast's), with Gaussian correlation ``corr`` between assets.

    Each path draws one uniform ``u``; asset ``a``'s variance multiplier is ``(dof_a - 2) / chi2_dof_a.ppf(u)``
    (inverse-gamma, mean 1), so a path is calm or stressed for every asset at once. ``dof = inf`` gives Gaussian
    returns. Deterministic in ``seed``.
    """
    sigma, dof = np.asarray(sigma, float), np.asarray(dof, float)
    assets = sigma.size
    if corr.shape != (assets, assets):
        raise ValueError(f"correlation {corr.shape} for {assets} assets")
    if np.any(~np.isfinite(sigma)) or np.any(sigma < 0):
        raise ValueError(f"sigma must be finite and >= 0: {sigma}")
    if np.any(dof <= 2):
        raise ValueError(f"dof must exceed 2 for a finite variance: {dof}")
    rng = np.random.default_rng(seed)
    chol = np.linalg.cholesky(corr + 1e-12 * np.eye(assets))
    z = rng.standard_normal((paths, steps, assets)) @ chol.T
    u = rng.uniform(1e-12, 1 - 1e-12, size=(paths, 1))
    finite = np.isfinite(dof)
    mult = np.ones((paths, assets))
    if finite.any():
        mult[:, finite] = (dof[finite] - 2) / stats.chi2.ppf(u, dof[finite])
    step_sd = sigma / math.sqrt(steps) * np.sqrt(mult)  # paths x assets
    log_returns = z * step_sd[:, None, :] - 0.5 * (step_sd**2)[:, None, :]  # martingale prices
    return Shocks(torch.from_numpy(log_returns.astype(np.float32)), seed)


# --------------------------------------------------------------------------- the simulator


def _impact(sold: torch.Tensor, inv_depth: torch.Tensor) -> torch.Tensor:
    """Price ratio after selling ``sold`` (t0 USD) into constant-product pools of depth ``1 / inv_depth``
    (``inv_depth = 0``: infinitely deep, no impact)."""
    return (1 + sold * inv_depth) ** -2


def path_sigma(log_returns: np.ndarray, step_h: float) -> np.ndarray:
    """Realised daily volatility of each path and asset (``paths x assets``) from its log returns."""
    steps = log_returns.shape[1]
    return np.sqrt((log_returns.astype(np.float64) ** 2).sum(axis=1) * (24.0 / step_h) / steps)


def effective_depth(depth: np.ndarray, sigma: np.ndarray, liquidators: Liquidators) -> np.ndarray:
    """Per path and asset, the pool depth at that path's volatility (``depth`` per asset, ``sigma`` paths x assets):
    the stated depth at or below ``depth_sigma_ref``, shrinking as ``(depth_sigma_ref / sigma)^depth_beta`` above."""
    if liquidators.depth_beta == 0:
        return np.broadcast_to(depth, sigma.shape).astype(np.float64)
    ratio = np.minimum(1.0, liquidators.depth_sigma_ref / np.maximum(sigma, 1e-12))
    return depth[None, :] * ratio**liquidators.depth_beta


def _gas_grid(gas_usd: float | np.ndarray, paths: int, steps: int) -> np.ndarray:
    grid = np.broadcast_to(np.asarray(gas_usd, dtype=np.float64), (paths, steps))
    if not np.all(np.isfinite(grid)) or np.any(grid < 0):
        raise ValueError("gas must be finite and >= 0")
    return grid


@dataclass
class _Feed:
    """Feed price ratios per path and asset and when each last updated (in steps); see the module docstring."""

    price: torch.Tensor  # paths x assets
    last: torch.Tensor  # paths x assets, the step count at the last update (0 = t0)
    deviation: torch.Tensor | None  # assets, or None: the feed is the market
    heartbeat: torch.Tensor | None

    def observe(self, market: torch.Tensor, elapsed: int, *, heartbeat: bool) -> torch.Tensor:
        """Update on the market price ``market`` at step count ``elapsed`` (``heartbeat``: at a step's start, when
        the heartbeat may fire; between rounds only the deviation can) and return the feed."""
        if self.deviation is None or self.heartbeat is None:
            self.price = market
            return market
        due = (market / self.price - 1).abs() > self.deviation
        if heartbeat:
            due |= (elapsed - self.last) >= self.heartbeat
        self.price = torch.where(due, market, self.price)
        self.last = torch.where(due, torch.full_like(self.last, elapsed), self.last)
        return self.price


def _run_chunk(
    rho_exo: torch.Tensor,
    coll: torch.Tensor,
    debt: torch.Tensor,
    hf0: np.ndarray,
    lt: torch.Tensor,
    lb: torch.Tensor,
    depth: torch.Tensor,
    inv_depth: torch.Tensor,
    gas: torch.Tensor,
    close_factor: float,
    full_close_hf: float,
    liquidators: Liquidators,
    max_rounds: int,
) -> tuple[torch.Tensor, ...]:
    """Simulate ``rho_exo`` (chunk paths x steps x assets) on positions sorted by ``hf0`` (their t0 health factor
    under the simulated LT), ``depth`` the chunk's effective depth (paths x assets, inf = no impact; ``inv_depth`` its
    inverse, computed once in float64 as the first version did) and ``gas``
    per path and step; returns per path bad debt, liquidated debt, count, the lowest price ratio, and seized value
    per path and step.

    State is positions x paths, so that "the first k positions" is a contiguous block. Before each round only the
    prefix of positions that can be under water is looked at: a position never liquidated has health factor on the
    feed at least ``hf0 x`` (lowest feed ratio of the chunk), so those with ``hf0 x lowest >= 1`` are skipped;
    every position liquidated earlier stays in the prefix.
    """
    s, steps, n_assets = rho_exo.shape
    n = coll.shape[0]
    dtype = coll.dtype
    lt_col = lt[:, None]
    alpha = torch.ones(n, s, dtype=dtype)
    d = debt[:, None].expand(n, s).clone()
    per_scale = d.clone()  # debt / alpha: under water when LT-weighted collateral at t0 size is below it
    thr = torch.empty(n, s, dtype=dtype)
    under = torch.empty(n, s, dtype=torch.bool)
    sold = torch.zeros(s, n_assets, dtype=dtype)
    liquidated = torch.zeros(s, dtype=dtype)
    count = torch.zeros(s, dtype=dtype)
    lowest = torch.ones(s, dtype=dtype)
    seized_steps = torch.zeros(s, steps, dtype=dtype)
    feed = _Feed(
        price=torch.ones(s, n_assets, dtype=dtype),
        last=torch.zeros(s, n_assets, dtype=dtype),
        deviation=None if liquidators.feed_deviation is None else torch.tensor(liquidators.feed_deviation, dtype=dtype),
        heartbeat=None
        if liquidators.feed_heartbeat_steps is None
        else torch.tensor(liquidators.feed_heartbeat_steps, dtype=dtype),
    )
    chunk_cap = liquidators.chunk_bonus_share
    capacity = liquidators.capacity_share * depth  # t0 USD per step and asset (inf: unlimited)
    limited = math.isfinite(liquidators.capacity_share)
    realistic = liquidators.realistic_profit
    touched = 0  # positions [0, touched) may have been liquidated
    rho = rho_exo[:, 0]
    decay = liquidators.impact_decay
    for t in range(steps):
        if decay < 1 and t > 0:
            sold.mul_(decay)  # arbitrage has bought part of what was sold back since the last step
        rho = rho_exo[:, t] * _impact(sold, inv_depth)
        seen = feed.observe(rho, t + 1, heartbeat=True)
        used = torch.zeros(s, n_assets, dtype=dtype)
        for _ in range(max_rounds):
            k = max(touched, int(np.searchsorted(hf0, 1.0 / max(float(seen.min()), 1e-12), side="left")))
            if k == 0:
                break
            torch.matmul(coll[:k], seen.T * lt_col, out=thr[:k])  # LT-weighted collateral value at alpha = 1
            torch.lt(thr[:k], per_scale[:k], out=under[:k])
            pn, ps = under[:k].nonzero(as_tuple=True)
            if pn.numel() == 0:
                break
            a, dd, cc, f = alpha[pn, ps], d[pn, ps], coll[pn], seen[ps]
            value = a * (cc * f).sum(1)
            bonus = a * (cc * f * lb).sum(1) / value.clamp_min(1e-30)
            factor = torch.where(a * thr[pn, ps] < full_close_hf * dd, 1.0, close_factor)
            repay = torch.minimum(factor * dd, value / (1 + bonus))
            if math.isfinite(chunk_cap) or limited or realistic:
                seized = (repay * (1 + bonus) / value.clamp_min(1e-30)).clamp(max=1)
                pool = depth[ps] + sold[ps]  # t0 USD of each pool's token reserve now
                if math.isfinite(chunk_cap):
                    room = chunk_cap * bonus[:, None] * pool / (a[:, None] * cc).clamp_min(1e-30)
                    seized = torch.minimum(seized, torch.where(cc > 0, room, math.inf).amin(1))
                if limited:
                    demand = torch.zeros(s, n_assets, dtype=dtype).index_add_(0, ps, (a * seized)[:, None] * cc)
                    share = torch.where(demand > 0, (capacity - used).clamp_min(0) / demand.clamp_min(1e-30), 1.0)
                    seized = seized * share.amin(1).clamp(max=1)[ps]
                repay = seized * value / (1 + bonus)
                if realistic:
                    q = (a * seized)[:, None] * cc  # t0 USD of each asset sold
                    slip = pool / (pool + q) if liquidators.slippage_profit else torch.ones_like(q)
                    proceeds = (q * rho[ps] * torch.nan_to_num(slip, nan=1.0)).sum(1)
                    act = (proceeds - repay > gas[ps, t]) & (repay > DUST_USD)
                else:
                    act = (repay * bonus > gas[ps, t]) & (repay > DUST_USD)
            else:
                act = repay * bonus > gas[ps, t]
            if not bool(act.any()):
                break
            pn, ps, a, dd, cc = pn[act], ps[act], a[act], dd[act], cc[act]
            repay, value, bonus = repay[act], value[act], bonus[act]
            seized = (repay * (1 + bonus) / value.clamp_min(1e-30)).clamp(max=1)
            taken = (a * seized)[:, None] * cc
            sold.index_add_(0, ps, taken)
            if limited:
                used.index_add_(0, ps, taken)
            a_new, d_new = a * (1 - seized), dd - repay
            alpha[pn, ps] = a_new
            d[pn, ps] = d_new
            # no collateral left: never under water again in this model (its debt is bad debt)
            per_scale[pn, ps] = torch.where(a_new > 0, d_new / a_new.clamp_min(1e-30), -1.0)
            liquidated.index_add_(0, ps, repay)
            count.index_add_(0, ps, torch.ones_like(repay))
            seized_steps[:, t].index_add_(0, ps, repay * (1 + bonus))
            touched = max(touched, int(pn.max()) + 1)
            rho = rho_exo[:, t] * _impact(sold, inv_depth)
            seen = feed.observe(rho, t + 1, heartbeat=False)
        lowest = torch.minimum(lowest, rho.min(1).values)
    # positions beyond the last prefix are above water at the end: no bad debt there
    k = max(touched, int(np.searchsorted(hf0, 1.0 / max(float(rho.min()), 1e-12), side="left")))
    bad = (d[:k] - alpha[:k] * (coll[:k] @ rho.T)).clamp_min(0).sum(0)
    return bad, liquidated, count, lowest, seized_steps


def run_cascade(
    market: CascadeMarket,
    params: CascadeParams,
    shocks: Shocks,
    *,
    max_rounds: int = 3,
    chunk: int = 512,
    dtype: torch.dtype = torch.float32,
    liquidators: Liquidators = INSTANT,
    gas_usd: float | np.ndarray | None = None,
    full_close_hf: float | None = HF_FULL_CLOSE,
) -> CascadeResult:
    """Simulate every path of ``shocks`` on ``market`` with ``params``; see the module docstring.

    ``gas_usd`` (one liquidation's gas, broadcastable to paths x steps) overrides the market's; ``full_close_hf``
    is the health factor below which the whole debt may be repaid (``None``: never, as Aave v2)."""
    if params.liquidation_threshold.shape != (market.assets,) or shocks.log_returns.shape[2] != market.assets:
        raise ValueError("parameters, shocks and market disagree on the number of assets")
    if liquidators.feed_deviation is not None and len(liquidators.feed_deviation) != market.assets:
        raise ValueError(f"{len(liquidators.feed_deviation)} feed deviations for {market.assets} assets")
    lt_np, lb_np = params.liquidation_threshold, params.liquidation_bonus
    coll_np, debt_np = market.collateral_usd, market.debt_usd
    # health factor at t0 under the simulated LT; positions sorted by it so that candidates are a prefix
    thr0 = coll_np @ lt_np
    borrowing = debt_np > DUST_USD
    hf0 = np.full(len(debt_np), np.inf)
    hf0[borrowing] = thr0[borrowing] / debt_np[borrowing]
    order = np.argsort(hf0, kind="stable")
    coll = torch.from_numpy(coll_np[order]).to(dtype)
    debt = torch.from_numpy(np.where(borrowing, debt_np, 0.0)[order]).to(dtype)
    lt, lb = torch.from_numpy(lt_np).to(dtype), torch.from_numpy(lb_np).to(dtype)
    returns = shocks.log_returns.double().numpy()
    depth_np = effective_depth(market.depth_usd, path_sigma(returns, liquidators.step_h), liquidators)
    depth_all = torch.from_numpy(np.ascontiguousarray(depth_np)).to(dtype)
    inv_depth_all = torch.from_numpy(np.ascontiguousarray(1 / depth_np)).to(dtype)  # 0 where infinitely deep
    gas_all = torch.from_numpy(
        np.array(_gas_grid(market.gas_usd if gas_usd is None else gas_usd, shocks.paths, shocks.steps))
    ).to(dtype)
    close_below = -math.inf if full_close_hf is None else full_close_hf

    with torch.inference_mode():
        rho_exo_all = torch.exp(torch.cumsum(shocks.log_returns.to(dtype), dim=1))
        # chunks of similar severity, so that a calm chunk is not slowed down by one crash path
        by_severity = torch.argsort(rho_exo_all.amin(dim=(1, 2)))
        out = [torch.zeros(shocks.paths, dtype=dtype) for _ in range(4)]
        seized = torch.zeros(shocks.paths, shocks.steps, dtype=dtype)
        for i in range(0, shocks.paths, chunk):
            idx = by_severity[i : i + chunk]
            *results, seized_chunk = _run_chunk(
                rho_exo_all[idx],
                coll,
                debt,
                hf0[order],
                lt,
                lb,
                depth_all[idx],
                inv_depth_all[idx],
                gas_all[idx],
                market.close_factor,
                close_below,
                liquidators,
                max_rounds,
            )
            for dst, src in zip(out, results, strict=True):
                dst[idx] = src
            seized[idx] = seized_chunk
    bad, liquidated, count, lowest = (o.double().numpy() for o in out)
    return CascadeResult(bad, liquidated, count, lowest, seized_by_step_usd=seized.double().numpy())


# --------------------------------------------------------------------------- reference


def _observe(
    feed: list[float],
    last: list[int],
    rho: list[float],
    elapsed: int,
    liquidators: Liquidators,
    *,
    with_heartbeat: bool = True,
) -> None:
    """The reference's feed update, in place (``_Feed.observe`` one path at a time)."""
    deviation, heartbeat = liquidators.feed_deviation, liquidators.feed_heartbeat_steps
    for a, price in enumerate(rho):
        if deviation is None or heartbeat is None:
            feed[a] = price
        elif abs(price / feed[a] - 1) > deviation[a] or (with_heartbeat and elapsed - last[a] >= heartbeat[a]):
            feed[a], last[a] = price, elapsed


def reference_cascade(
    market: CascadeMarket,
    params: CascadeParams,
    shocks: Shocks,
    *,
    max_rounds: int = 3,
    paths: int | None = None,
    liquidators: Liquidators = INSTANT,
    gas_usd: float | np.ndarray | None = None,
    full_close_hf: float | None = HF_FULL_CLOSE,
) -> CascadeResult:
    """The same model as :func:`run_cascade`, written the straightforward way: one path at a time, one position at
    a time, plain Python floats. Slow; it is the specification the fast version is tested and benchmarked
    against."""
    lt = [float(x) for x in params.liquidation_threshold]
    lb = [float(x) for x in params.liquidation_bonus]
    coll = market.collateral_usd.tolist()
    returns = shocks.log_returns.double().numpy()
    n_paths = shocks.paths if paths is None else paths
    assets = market.assets
    depth_paths = effective_depth(market.depth_usd, path_sigma(returns, liquidators.step_h), liquidators)
    gas_grid = _gas_grid(market.gas_usd if gas_usd is None else gas_usd, shocks.paths, shocks.steps)
    close_below = -math.inf if full_close_hf is None else full_close_hf
    res: list[list[float]] = [[], [], [], []]
    seized_steps = np.zeros((n_paths, shocks.steps))
    for s in range(n_paths):
        depth = [float(x) for x in depth_paths[s]]
        inv_depth = [1 / x for x in depth]
        log_exo = [0.0] * assets
        sold = [0.0] * assets
        alpha = [1.0] * len(coll)
        debt = [float(x) for x in market.debt_usd]
        feed, last = [1.0] * assets, [0] * assets
        liquidated = count = 0.0
        lowest = 1.0
        rho = [1.0] * assets

        for t in range(shocks.steps):
            for a in range(assets):
                log_exo[a] += returns[s, t, a]
                if t > 0:
                    sold[a] *= liquidators.impact_decay

            def prices() -> list[float]:
                # called within this iteration only: the loop's current lists are the ones meant
                return [math.exp(log_exo[a]) * (1 + sold[a] * inv_depth[a]) ** -2 for a in range(assets)]  # noqa: B023

            rho = prices()
            _observe(feed, last, rho, t + 1, liquidators, with_heartbeat=True)
            used = [0.0] * assets
            for _ in range(max_rounds):
                # every liquidation of the round is sized first (on the feed), then capacity is shared pro rata
                planned = []
                for n, c in enumerate(coll):
                    if debt[n] <= DUST_USD:
                        continue
                    thr = alpha[n] * sum(c[a] * feed[a] * lt[a] for a in range(assets))
                    if thr >= debt[n]:
                        continue
                    value = alpha[n] * sum(c[a] * feed[a] for a in range(assets))
                    bonus = alpha[n] * sum(c[a] * feed[a] * lb[a] for a in range(assets)) / max(value, 1e-30)
                    factor = 1.0 if thr < close_below * debt[n] else market.close_factor
                    repay = min(factor * debt[n], value / (1 + bonus))
                    seized = min(repay * (1 + bonus) / max(value, 1e-30), 1.0)
                    if math.isfinite(liquidators.chunk_bonus_share):
                        for a in range(assets):
                            if c[a] > 0:
                                room = liquidators.chunk_bonus_share * bonus * (depth[a] + sold[a])
                                seized = min(seized, room / max(alpha[n] * c[a], 1e-30))
                    planned.append([n, value, bonus, seized])
                if math.isfinite(liquidators.capacity_share):
                    demand = [0.0] * assets
                    for n, _value, _bonus, seized in planned:
                        for a in range(assets):
                            demand[a] += alpha[n] * seized * coll[n][a]
                    share = min(
                        [
                            1.0,
                            *(
                                max(liquidators.capacity_share * depth[a] - used[a], 0.0) / demand[a]
                                for a in range(assets)
                                if demand[a] > 0
                            ),
                        ]
                    )
                    for plan in planned:
                        plan[3] *= share
                acted = False
                sold_round = [0.0] * assets
                for n, value, bonus, seized in planned:
                    c = coll[n]
                    repay = seized * value / (1 + bonus)
                    if liquidators.realistic_profit:
                        proceeds = 0.0
                        for a in range(assets):
                            q = alpha[n] * seized * c[a]
                            pool = depth[a] + sold[a]
                            slip = pool / (pool + q) if liquidators.slippage_profit and q > 0 else 1.0
                            proceeds += q * rho[a] * (1.0 if math.isnan(slip) else slip)
                        if not (proceeds - repay > gas_grid[s, t] and repay > DUST_USD):
                            continue
                    elif repay * bonus <= gas_grid[s, t] or repay <= DUST_USD:
                        continue
                    seized = min(repay * (1 + bonus) / max(value, 1e-30), 1.0)
                    for a in range(assets):
                        sold_round[a] += alpha[n] * seized * c[a]
                    alpha[n] *= 1 - seized
                    debt[n] -= repay
                    liquidated += repay
                    count += 1
                    seized_steps[s, t] += repay * (1 + bonus)
                    acted = True
                if not acted:
                    break
                for a in range(assets):
                    sold[a] += sold_round[a]
                    used[a] += sold_round[a]
                rho = prices()
                _observe(feed, last, rho, t + 1, liquidators, with_heartbeat=False)
            lowest = min(lowest, *rho)
        bad = sum(max(debt[n] - alpha[n] * sum(c[a] * rho[a] for a in range(assets)), 0.0) for n, c in enumerate(coll))
        for dst, v in zip(res, (bad, liquidated, count, lowest), strict=True):
            dst.append(v)
    bad_a, liquidated_a, count_a, lowest_a = (np.array(r) for r in res)
    return CascadeResult(bad_a, liquidated_a, count_a, lowest_a, seized_by_step_usd=seized_steps)
