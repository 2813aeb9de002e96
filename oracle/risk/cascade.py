"""Liquidation-cascade Monte Carlo over the policy horizon, vectorised in torch.

Model (one horizon, ``steps`` steps):

- **Prices.** Exogenous log returns per asset are Gaussian with the historical correlation, scaled per path by a
  variance shock so that each asset's return over the whole horizon is Student-t with the forecast's dof and
  variance (a scale mixture; one uniform draw per path sets every asset's shock, so stress hits all assets at
  once, as it does in crypto). See :func:`sample_shocks`.
- **Positions.** Collateral of each position (USD value at t0 per asset) and debt (USD); seizure is pro rata over
  a position's collateral, so a position's state is two numbers per path: the scale ``alpha`` of its collateral
  and its debt.
- **Liquidations.** After each step's price move, up to ``max_rounds`` rounds: a position whose health factor is
  below 1 is liquidated for the close factor of its debt (all of it below HF 0.95), the liquidator receiving the
  collateral-weighted bonus, if its profit (``repay x bonus``) exceeds the gas cost; never more collateral than the
  position has.
- **Cascade.** Liquidators sell the seized collateral into a constant-product pool per asset (reserve ``depth`` USD
  of the token at t0): selling ``q`` moves that asset's price by ``(depth / (depth + q))^2``, permanently over the
  horizon, which can make more positions liquidatable in the next round.
- **Bad debt** at the horizon end: ``max(debt - collateral value, 0)`` summed over positions.

Why this shape: the state stays ``paths x positions`` (no per-asset collateral per path) because seizure is pro
rata, so each round is three small matrix products and a few element-wise operations. Paths are processed in
chunks sorted by how far prices fall; within a chunk only positions that *can* become liquidatable are simulated
(a position's health factor can fall at most by the chunk's worst price ratio), and the chunk is re-run with a wider
set if the cascade's own selling pushed prices further than assumed. The pruning is exact: ``reference_cascade``,
a plain per-path Python loop, gives the same numbers (tested).

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
    """Per path (in the order of the shocks): bad debt and liquidated debt in USD, number of liquidations, and the
    lowest price ratio any asset reached (impact included)."""

    bad_debt_usd: np.ndarray
    liquidated_usd: np.ndarray
    liquidations: np.ndarray
    min_price_ratio: np.ndarray


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


def _run_chunk(
    rho_exo: torch.Tensor,
    coll: torch.Tensor,
    debt: torch.Tensor,
    hf0: np.ndarray,
    lt: torch.Tensor,
    lb: torch.Tensor,
    inv_depth: torch.Tensor,
    gas: float,
    close_factor: float,
    max_rounds: int,
) -> tuple[torch.Tensor, ...]:
    """Simulate ``rho_exo`` (chunk paths x steps x assets) on positions sorted by ``hf0`` (their t0 health factor
    under the simulated LT); returns per path bad debt, liquidated debt, count and the lowest price ratio.

    State is positions x paths, so that "the first k positions" is a contiguous block. Before each round only the
    prefix of positions that can be under water is looked at: a position never liquidated has health factor at
    least ``hf0 x`` (lowest price ratio of the chunk), so those with ``hf0 x lowest >= 1`` are skipped; every
    position liquidated earlier stays in the prefix.
    """
    s, steps, _ = rho_exo.shape
    n = coll.shape[0]
    dtype = coll.dtype
    lt_col = lt[:, None]
    alpha = torch.ones(n, s, dtype=dtype)
    d = debt[:, None].expand(n, s).clone()
    per_scale = d.clone()  # debt / alpha: under water when LT-weighted collateral at t0 size is below it
    thr = torch.empty(n, s, dtype=dtype)
    under = torch.empty(n, s, dtype=torch.bool)
    sold = torch.zeros(s, rho_exo.shape[2], dtype=dtype)
    liquidated = torch.zeros(s, dtype=dtype)
    count = torch.zeros(s, dtype=dtype)
    lowest = torch.ones(s, dtype=dtype)
    touched = 0  # positions [0, touched) may have been liquidated
    rho = rho_exo[:, 0]
    for t in range(steps):
        rho = rho_exo[:, t] * _impact(sold, inv_depth)
        for _ in range(max_rounds):
            k = max(touched, int(np.searchsorted(hf0, 1.0 / max(float(rho.min()), 1e-12), side="left")))
            if k == 0:
                break
            torch.matmul(coll[:k], rho.T * lt_col, out=thr[:k])  # LT-weighted collateral value at alpha = 1
            torch.lt(thr[:k], per_scale[:k], out=under[:k])
            pn, ps = under[:k].nonzero(as_tuple=True)
            if pn.numel() == 0:
                break
            a, dd, cc, r = alpha[pn, ps], d[pn, ps], coll[pn], rho[ps]
            value = a * (cc * r).sum(1)
            bonus = a * (cc * r * lb).sum(1) / value.clamp_min(1e-30)
            factor = torch.where(a * thr[pn, ps] < HF_FULL_CLOSE * dd, 1.0, close_factor)
            repay = torch.minimum(factor * dd, value / (1 + bonus))
            act = repay * bonus > gas
            if not bool(act.any()):
                break
            pn, ps, a, dd, cc = pn[act], ps[act], a[act], dd[act], cc[act]
            repay, value, bonus = repay[act], value[act], bonus[act]
            seized = (repay * (1 + bonus) / value.clamp_min(1e-30)).clamp(max=1)
            sold.index_add_(0, ps, (a * seized)[:, None] * cc)
            a_new, d_new = a * (1 - seized), dd - repay
            alpha[pn, ps] = a_new
            d[pn, ps] = d_new
            # no collateral left: never under water again in this model (its debt is bad debt)
            per_scale[pn, ps] = torch.where(a_new > 0, d_new / a_new.clamp_min(1e-30), -1.0)
            liquidated.index_add_(0, ps, repay)
            count.index_add_(0, ps, torch.ones_like(repay))
            touched = max(touched, int(pn.max()) + 1)
            rho = rho_exo[:, t] * _impact(sold, inv_depth)
        lowest = torch.minimum(lowest, rho.min(1).values)
    # positions beyond the last prefix are above water at the end: no bad debt there
    k = max(touched, int(np.searchsorted(hf0, 1.0 / max(float(rho.min()), 1e-12), side="left")))
    bad = (d[:k] - alpha[:k] * (coll[:k] @ rho.T)).clamp_min(0).sum(0)
    return bad, liquidated, count, lowest


def run_cascade(
    market: CascadeMarket,
    params: CascadeParams,
    shocks: Shocks,
    *,
    max_rounds: int = 3,
    chunk: int = 512,
    dtype: torch.dtype = torch.float32,
) -> CascadeResult:
    """Simulate every path of ``shocks`` on ``market`` with ``params``; see the module docstring."""
    if params.liquidation_threshold.shape != (market.assets,) or shocks.log_returns.shape[2] != market.assets:
        raise ValueError("parameters, shocks and market disagree on the number of assets")
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
    inv_depth = torch.from_numpy(1 / market.depth_usd).to(dtype)  # inverse depth: 0 for an infinitely deep pool

    with torch.inference_mode():
        rho_exo_all = torch.exp(torch.cumsum(shocks.log_returns.to(dtype), dim=1))
        # chunks of similar severity, so that a calm chunk is not slowed down by one crash path
        by_severity = torch.argsort(rho_exo_all.amin(dim=(1, 2)))
        out = [torch.zeros(shocks.paths, dtype=dtype) for _ in range(4)]
        for i in range(0, shocks.paths, chunk):
            idx = by_severity[i : i + chunk]
            results = _run_chunk(
                rho_exo_all[idx],
                coll,
                debt,
                hf0[order],
                lt,
                lb,
                inv_depth,
                market.gas_usd,
                market.close_factor,
                max_rounds,
            )
            for dst, src in zip(out, results, strict=True):
                dst[idx] = src
    return CascadeResult(*(o.double().numpy() for o in out))


# --------------------------------------------------------------------------- reference


def reference_cascade(
    market: CascadeMarket, params: CascadeParams, shocks: Shocks, *, max_rounds: int = 3, paths: int | None = None
) -> CascadeResult:
    """The same model as :func:`run_cascade`, written the straightforward way: one path at a time, one position at
    a time, plain Python floats. Slow; it is the specification the fast version is tested and benchmarked
    against."""
    lt = [float(x) for x in params.liquidation_threshold]
    lb = [float(x) for x in params.liquidation_bonus]
    coll = market.collateral_usd.tolist()
    inv_depth = [float(1 / x) for x in market.depth_usd]
    returns = shocks.log_returns.double().numpy()
    n_paths = shocks.paths if paths is None else paths
    assets = market.assets
    res: list[list[float]] = [[], [], [], []]
    for s in range(n_paths):
        log_exo = [0.0] * assets
        sold = [0.0] * assets
        alpha = [1.0] * len(coll)
        debt = [float(x) for x in market.debt_usd]
        liquidated = count = 0.0
        lowest = 1.0
        rho = [1.0] * assets
        for t in range(shocks.steps):
            for a in range(assets):
                log_exo[a] += returns[s, t, a]

            def prices() -> list[float]:
                # called within this iteration only: the loop's current lists are the ones meant
                return [math.exp(log_exo[a]) * (1 + sold[a] * inv_depth[a]) ** -2 for a in range(assets)]  # noqa: B023

            rho = prices()
            for _ in range(max_rounds):
                acted = False
                sold_round = [0.0] * assets
                for n, c in enumerate(coll):
                    if debt[n] <= DUST_USD:
                        continue
                    thr = alpha[n] * sum(c[a] * rho[a] * lt[a] for a in range(assets))
                    if thr >= debt[n]:
                        continue
                    value = alpha[n] * sum(c[a] * rho[a] for a in range(assets))
                    bonus = alpha[n] * sum(c[a] * rho[a] * lb[a] for a in range(assets)) / max(value, 1e-30)
                    factor = 1.0 if thr < HF_FULL_CLOSE * debt[n] else market.close_factor
                    repay = min(factor * debt[n], value / (1 + bonus))
                    if repay * bonus <= market.gas_usd:
                        continue
                    seized = min(repay * (1 + bonus) / max(value, 1e-30), 1.0)
                    for a in range(assets):
                        sold_round[a] += alpha[n] * seized * c[a]
                    alpha[n] *= 1 - seized
                    debt[n] -= repay
                    liquidated += repay
                    count += 1
                    acted = True
                if not acted:
                    break
                for a in range(assets):
                    sold[a] += sold_round[a]
                rho = prices()
            lowest = min(lowest, *rho)
        bad = sum(max(debt[n] - alpha[n] * sum(c[a] * rho[a] for a in range(assets)), 0.0) for n, c in enumerate(coll))
        for dst, v in zip(res, (bad, liquidated, count, lowest), strict=True):
            dst.append(v)
    return CascadeResult(*(np.array(r) for r in res))
