"""Replay real Aave crisis windows through the liquidation simulator and compare with what was liquidated.

Why: the cascade simulator (``oracle.risk.cascade``) decides LT and bonus; its liquidator behaviour terms
(``Liquidators``) are only worth something if, fed the real ETH path, it liquidates about what Aave really did. A
window's check: build a book of WETH-collateral positions at the window's start, replay the real hourly ETH path
(one path, hourly steps, the real daily gas), and compare simulated with real USD of WETH collateral seized per day
(``liquidated_usd`` of the WETH reserve, bonus included, which is what ``CascadeResult.seized_by_step_usd``
measures).

The book (every assumption stated; the fitted ones are :class:`BookParams`):

- **Positions.** One position per account of the 2023-06 Aave (w)stETH borrower snapshot whose debt is mostly not
  WETH (``stable_debt_share >= 0.5``: its health factor moves with ETH/USD, as a WETH-collateral stable borrower's
  does; stETH/WETH loops and v3 e-mode accounts are left out) and whose health factor is at least 1 (the few below
  are dust nobody liquidates): 1,332 accounts. All of a position's collateral is WETH, all its debt stablecoins
  (whose price does not move). Each position keeps its account's share of the selected accounts' collateral (so
  the size distribution, whales included, is the snapshot's) and its account's health factor (size and health
  factor stay paired: large accounts tend to be safer).
- **How much WETH backs stable debt** (fitted), one of: ``debt_share``, the share of the market's stable debt
  (USDC + USDT + DAI ``borrowed_usd`` at the start) that WETH collateral backs, the collateral following from the
  health factors; or ``collateral_share``, the share of the WETH reserve's ``supplied_usd`` (its last hourly row
  before the window) that backs borrowing. The rest of the supplied WETH is one idle position without debt
  (suppliers who do not borrow), so the book's collateral is the reserve's supplied value exactly. A book whose
  debt exceeds the stable debt, or whose collateral exceeds the supply, is inconsistent and never chosen.
- **Health factors** (fitted): the snapshot's, spread around 1 by ``hf_scale`` (``HF = 1 + hf_scale x (HF_snap -
  1)``), since the 2023 stETH borrowers' cushions need not be those of 2021-22 WETH borrowers; with ``anchor_days
  > 0`` that spread holds at the mean ETH close of the ``anchor_days`` before the window and has moved since by
  ``(start price / that mean)^anchor_power`` (borrowers set their cushion when they borrow; a rally since widens
  it, a slide narrows it). Accounts this takes below 1 were liquidated or deleveraged on the way and sit, evenly
  spread, between 1 and the post-liquidation health factor ``2 - (1 + LB) LT``. With ``anchor="vintage"`` each
  account instead set its cushion at the close of its own day among the ``anchor_days`` before the window (spread
  evenly, :func:`vintage_days`); one whose cushion the lowest price since then took below 1 was liquidated there
  and restarts at the post-liquidation health factor at that low. Debt = collateral x LT / HF.
- **Accounts** (fitted): every selected snapshot account, or (``accounts="version"``) only those of the window's
  Aave version, v2 for the 2021-22 windows and v3 for 2024-08 (the snapshot's v3 borrowers run tighter: median
  health factor 1.59 by collateral, against 2.00 on v2).
- **Market.** Aave's WETH parameters at the time (:data:`WETH_PARAMS`): v2 LTV 8000 / LT 8250 / bonus 500, v3
  (2024-08) 8050 / 8300 / 500 (see ``oracle/data/history/PROVENANCE.md``); close factor 50 %, and on v3 the whole
  debt below HF 0.95 (v2 never). Pool depth :data:`ETH_DEPTH_USD` per side (the demo policy's stressed WETH depth,
  so that the fitted shares mean the same in the policy's stress); ``capacity_share``, ``chunk_bonus_share`` and
  ``depth_beta`` (fitted) scale what liquidators absorb. The profit test counts the sale's slippage
  (``slippage_profit``, as the policy's stress runs it).
- **Path** (fitted): the hourly closes, or each hour's low (``price="low"``: liquidations trigger on the worst print
  of the hour, as the Chainlink feed follows a wick within its 0.5 % deviation; Binance's own wicks may be deeper
  than the oracle's). The real path is fed as exogenous returns, as the forward stress feeds sampled ones; it already
  contains the real liquidations' price impact, which the simulator's own impact counts a second time.
- **Gas.** One liquidation costs :data:`GAS_PER_LIQUIDATION` gas at the day's Etherscan average gas price, in USD at
  the step's ETH price.
- **Not modelled.** Users topping up, repaying, withdrawing or opening positions during the window; collateral
  other than WETH in the same accounts; the feed's lag (hourly steps are at least its 1 h heartbeat).

The fit (:func:`fit_grid`): a grid (:func:`default_grid`) on the fitted windows only, objective :func:`objective`
(mean ``|log(sim / real)|`` over the days with more than :data:`SCORED_USD` really liquidated), among the
:func:`admissible` points only (liquidators that could absorb each fitted window's largest real hour), frozen in
``liquidators_fit.json`` next to this file (:func:`load_fit`) and then scored out of sample unchanged.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field

from oracle.data.aave_history import (
    DAILY_CONTEXT_DAYS,
    WINDOWS,
    BorrowerSnapshot,
    Window,
    borrower_snapshot,
    daily_liquidated_usd,
    eth_daily_before,
    eth_path,
    gas_gwei_daily,
    hourly_liquidated_usd,
    reserve_state,
    stable_borrowed_usd,
)
from oracle.domain.appetite import LiquidatorBehaviour
from oracle.risk.cascade import (
    CascadeMarket,
    CascadeParams,
    Liquidators,
    Shocks,
    effective_depth,
    path_sigma,
    run_cascade,
)

FIT_FILE = Path(__file__).with_name("liquidators_fit.json")
ETH_DEPTH_USD = 400e6  # USD per side of the pool liquidators sell WETH into (oracle/policies/default.toml, WETH)
GAS_PER_LIQUIDATION = 500_000  # gas of one liquidationCall with a flash loan and a swap of the seized WETH
CLOSE_FACTOR = 0.5
SCORED_USD = 5e6  # days with more real liquidations than this are scored
SIM_FLOOR_USD = 1e5  # a simulated day below this counts as this in the log ratio (log 0 is undefined)
MIN_STABLE_SHARE = 0.5  # snapshot accounts whose debt is at least this share non-WETH


@dataclass(frozen=True)
class WethParams:
    """Aave's WETH reserve parameters in bps, and the HF below which the whole debt may be repaid."""

    ltv_bps: int
    lt_bps: int
    lb_bps: int
    full_close_hf: float | None

    @property
    def cascade_params(self) -> CascadeParams:
        return CascadeParams.from_bps([self.lt_bps], [self.lb_bps])


WETH_PARAMS: dict[str, WethParams] = {
    # aave/protocol-v2 markets/aave/reservesConfigs.ts strategyWETH; bonus checked on the 2021-05 events (1.050)
    "v2": WethParams(ltv_bps=8000, lt_bps=8250, lb_bps=500, full_close_hf=None),
    # Chaos Labs AIP 2023-05-29; no WETH change in the 2023-11 - 2024-12 payload diffs
    "v3": WethParams(ltv_bps=8050, lt_bps=8300, lb_bps=500, full_close_hf=0.95),
}


@dataclass(frozen=True)
class BookParams:
    """The fitted book assumptions (see the module docstring): how much WETH backs stable debt, given either as a
    share of the WETH reserve's supplied value (``collateral_share``) or as a share of the market's stable debt
    (``debt_share``), exactly one of them; and the spread of health factors."""

    collateral_share: float | None = None  # share of the WETH reserve's supplied value that backs borrowing
    debt_share: float | None = None  # share of the market's stable debt that WETH collateral backs
    hf_scale: float = 1.0  # HF = 1 + hf_scale x (HF_snapshot - 1)
    anchor_days: int = 0  # the spread holds at the mean close of this many days before the start (0: at the start)
    anchor_power: float = 1.0  # health factors move by (start price / anchor price)^anchor_power since then
    anchor: Literal["mean", "vintage"] = "mean"  # one anchor price for all, or each account its own day
    accounts: Literal["all", "version"] = "all"  # every snapshot account, or only those of the window's Aave version

    def __post_init__(self) -> None:
        if not (0 <= self.anchor_days <= DAILY_CONTEXT_DAYS and self.anchor_power >= 0):
            raise ValueError(f"anchor_days in [0, {DAILY_CONTEXT_DAYS}] and anchor_power >= 0 are required")
        if self.anchor == "vintage" and self.anchor_days == 0:
            raise ValueError("a vintage anchor needs anchor_days > 0")
        if (self.collateral_share is None) == (self.debt_share is None):
            raise ValueError("give exactly one of collateral_share and debt_share")
        share = self.collateral_share if self.collateral_share is not None else self.debt_share
        if not (share is not None and 0 < share <= 1 and self.hf_scale > 0):
            raise ValueError("the share must be in (0, 1] and hf_scale > 0")


@dataclass(frozen=True)
class FitParams:
    """Everything the fit chooses: the book's assumptions and the liquidators' behaviour."""

    book: BookParams
    liquidators: Liquidators
    price: Literal["close", "low"] = "close"  # the hourly path replayed: closes, or each hour's low (its wick)


@dataclass(frozen=True)
class Book:
    """A window's start book: WETH collateral (USD at the start price) and stable debt per position; the last
    position is the idle supply (no debt)."""

    window: Window
    collateral_usd: np.ndarray
    debt_usd: np.ndarray
    health_factor: np.ndarray  # inf for the idle position
    supplied_usd: float
    stable_borrowed_usd: float
    params: WethParams

    @property
    def debt_total_usd(self) -> float:
        return float(self.debt_usd.sum())

    @property
    def backing_usd(self) -> float:
        """WETH collateral of the borrowing positions (all but the idle supply)."""
        return float(self.collateral_usd[:-1].sum())

    @property
    def stable_debt_share(self) -> float:
        """Share of the market's stable debt the book's WETH collateral backs (at most 1 for a consistent book)."""
        return self.debt_total_usd / self.stable_borrowed_usd

    @property
    def consistent(self) -> bool:
        """Whether the book fits the market: its debt within the stable debt, its collateral within the supply."""
        return self.stable_debt_share <= 1 and self.backing_usd <= self.supplied_usd * (1 + 1e-12)

    def market(self) -> CascadeMarket:
        return CascadeMarket(
            self.collateral_usd[:, None],
            self.debt_usd,
            np.array([ETH_DEPTH_USD]),
            gas_usd=0.0,
            close_factor=CLOSE_FACTOR,
        )


def snapshot_accounts(snapshot: BorrowerSnapshot) -> BorrowerSnapshot:
    """The snapshot accounts that stand for WETH-collateral stable borrowers (see the module docstring)."""
    keep = (~snapshot.emode) & (snapshot.stable_debt_share >= MIN_STABLE_SHARE) & (snapshot.health_factor >= 1.0)
    return snapshot.select(keep)


def post_liquidation_hf(params: WethParams) -> float:
    """The health factor of a WETH-collateral stable borrower just after one close-factor liquidation at HF 1:
    ``(C - (1 + LB) D / 2) LT / (D / 2)`` with ``C LT = D``, i.e. ``2 - (1 + LB) LT`` (1.134 on v2)."""
    lt, lb = params.lt_bps / 1e4, params.lb_bps / 1e4
    return (1 - CLOSE_FACTOR * (1 + lb) * lt) / CLOSE_FACTOR


def start_health_factors(
    w: Window, book: BookParams, snapshot_hf: np.ndarray, params: WethParams, data_dir: Path | None = None
) -> np.ndarray:
    """Health factors at the window's start: the snapshot's spread by ``hf_scale``, holding at the anchor price
    (``anchor_days > 0``) and moved since by ``(start / anchor)^anchor_power``. Accounts this takes below 1
    crossed HF 1 on the way: they were liquidated (or deleveraged) and sit between 1 and the post-liquidation health
    factor, spread evenly in the order of how far below 1 they would be."""
    hf = 1.0 + book.hf_scale * (snapshot_hf - 1.0)
    if book.anchor_days == 0:
        return hf
    daily = eth_daily_before(w, book.anchor_days, data_dir)
    start = float(eth_path(w, data_dir).iloc[0])
    if book.anchor == "vintage":
        return vintage_health_factors(hf, daily, start, book.anchor_power, params)
    anchor = float(daily["close"].mean())
    moved = hf * (start / anchor) ** book.anchor_power
    crossed = moved < 1.0
    if crossed.any():
        rank = np.argsort(np.argsort(moved[crossed]))  # 0 = the deepest below 1
        u = 1.0 - (rank + 0.5) / crossed.sum()
        moved[crossed] = 1.0 + (post_liquidation_hf(params) - 1.0) * u
    return moved


def vintage_days(n_accounts: int, n_days: int) -> np.ndarray:
    """The day (0 = the oldest of ``n_days``) each account borrowed on: spread evenly over the days, independent
    of the account's size and health factor (a golden-ratio sequence over the snapshot's order, so the assignment
    is deterministic and no day is favoured)."""
    golden = (np.sqrt(5.0) - 1.0) / 2.0
    return np.floor(((np.arange(n_accounts) + 0.5) * golden % 1.0) * n_days).astype(int)


def vintage_health_factors(
    hf_at_open: np.ndarray, daily: pd.DataFrame, start: float, power: float, params: WethParams
) -> np.ndarray:
    """Health factors at the start when each account set its cushion ``hf_at_open`` at the close of its own day
    (:func:`vintage_days` over the daily candles ``daily``) and health factors move by the price ratio to
    ``power`` since. An account whose health factor the lowest price since its day took below 1 was liquidated
    there: it restarts at the post-liquidation health factor at that low and moves from it to the start.

    Why: borrowers open positions at many prices; a book anchored on one mean price has no memory of where the
    price has been, so it cannot hold the lumps of positions opened near a recent level that a crash reaches."""
    closes = daily["close"].to_numpy(float)
    lows = daily["low"].to_numpy(float)
    day = vintage_days(hf_at_open.size, closes.size)
    # the lowest low from each account's day to the window's start (its own day included)
    low_since = np.minimum.accumulate(lows[::-1])[::-1][day]
    low_since = np.minimum(low_since, start)
    at_low = hf_at_open * (low_since / closes[day]) ** power
    reset = post_liquidation_hf(params)
    liquidated = at_low < 1.0
    return np.where(liquidated, reset * (start / low_since) ** power, hf_at_open * (start / closes[day]) ** power)


def build_book(
    w: Window, book: BookParams, *, data_dir: Path | None = None, snapshot: BorrowerSnapshot | None = None
) -> Book:
    """The start book of window ``w`` under ``book`` (see the module docstring)."""
    accounts = snapshot_accounts(borrower_snapshot(data_dir) if snapshot is None else snapshot)
    if book.accounts == "version":
        accounts = accounts.select(accounts.version == w.version)
    params = WETH_PARAMS[w.version]
    supplied = reserve_state(w, "weth", data_dir).supplied_usd
    stable = stable_borrowed_usd(w, data_dir)
    share = accounts.collateral_usd / accounts.collateral_usd.sum()
    hf = start_health_factors(w, book, accounts.health_factor, params, data_dir)
    debt_per_collateral = (params.lt_bps / 1e4) / hf
    if book.collateral_share is not None:
        backing = book.collateral_share * supplied
    else:
        assert book.debt_share is not None
        backing = book.debt_share * stable / float(share @ debt_per_collateral)
    coll = backing * share
    debt = coll * debt_per_collateral
    return Book(
        window=w,
        collateral_usd=np.append(coll, max(supplied - backing, 0.0)),
        debt_usd=np.append(debt, 0.0),
        health_factor=np.append(hf, np.inf),
        supplied_usd=supplied,
        stable_borrowed_usd=stable,
        params=params,
    )


# --------------------------------------------------------------------------- the replay


@dataclass(frozen=True)
class Replay:
    """A window replayed: real and simulated USD seized per day (index: UTC day) and per hour."""

    window: Window
    real_usd: pd.Series
    sim_usd: pd.Series
    sim_hourly_usd: np.ndarray
    book: Book

    @property
    def scored(self) -> pd.Series:
        """Days that count in the objective: more than ``SCORED_USD`` really liquidated."""
        return self.real_usd > SCORED_USD

    @property
    def ratio(self) -> pd.Series:
        """Simulated / real per day (simulated floored at ``SIM_FLOOR_USD``; NaN where nothing was liquidated)."""
        return self.sim_usd.clip(lower=SIM_FLOOR_USD) / self.real_usd.where(self.real_usd > 0)

    def log_errors(self) -> np.ndarray:
        """``|log(sim / real)|`` on the scored days."""
        return np.abs(np.log(self.ratio[self.scored].to_numpy(float)))


def gas_usd_per_step(w: Window, prices: np.ndarray, data_dir: Path | None = None) -> np.ndarray:
    """USD gas of one liquidation per hourly step: the day's average gas price x ``GAS_PER_LIQUIDATION`` at the
    step's ETH price (``prices``: the path, ``hours + 1`` values)."""
    gwei = np.repeat(gas_gwei_daily(w, data_dir).to_numpy(float), 24)
    return gwei * 1e-9 * GAS_PER_LIQUIDATION * prices[1:]


def replay(
    w: Window,
    fit: FitParams,
    *,
    data_dir: Path | None = None,
    prices: np.ndarray | None = None,
    snapshot: BorrowerSnapshot | None = None,
    book: Book | None = None,
) -> Replay:
    """Replay the window's real hourly ETH path (or ``prices``, ``hours + 1`` values, for what-ifs) through the
    simulator on the window's start book under ``fit``."""
    path = eth_path(w, data_dir, fit.price).to_numpy(float) if prices is None else np.asarray(prices, dtype=float)
    if path.shape != (w.hours + 1,) or not np.all(np.isfinite(path)) or np.any(path <= 0):
        raise ValueError(f"window {w.name}: a path of {w.hours + 1} positive prices is needed, got {path.shape}")
    start_book = build_book(w, fit.book, data_dir=data_dir, snapshot=snapshot) if book is None else book
    returns = torch.tensor(np.diff(np.log(path))[None, :, None], dtype=torch.float32)
    result = run_cascade(
        start_book.market(),
        start_book.params.cascade_params,
        Shocks(returns, seed=0),
        liquidators=fit.liquidators,
        gas_usd=gas_usd_per_step(w, path, data_dir),
        full_close_hf=start_book.params.full_close_hf,
        dtype=torch.float64,
    )
    assert result.seized_by_step_usd is not None
    hourly = result.seized_by_step_usd[0]
    days = pd.DatetimeIndex([pd.Timestamp(d, tz="UTC") for d in w.days])
    sim = pd.Series(hourly.reshape(len(days), 24).sum(axis=1), index=days, name="sim_usd")
    return Replay(w, daily_liquidated_usd(w, "weth", data_dir), sim, hourly, start_book)


def objective(replays: Iterable[Replay]) -> float:
    """Mean ``|log(sim / real)|`` over every scored day of ``replays`` (0 is a perfect fit; log 2 = 0.693 is a
    factor of 2 on average)."""
    errors = np.concatenate([r.log_errors() for r in replays])
    return float(errors.mean()) if errors.size else math.nan


# --------------------------------------------------------------------------- the fit


def default_grid() -> list[FitParams]:
    """The grid searched (see the module docstring): both book bases, the health-factor spread and anchor (one mean
    price, or each account's own day), the accounts (all, or the window's Aave version's), the liquidators'
    capacity, chunk size and depth response, and the path. Fixed: ``depth_sigma_ref`` 0.04, ``step_h`` 1,
    ``slippage_profit`` on, feed terms off."""
    shares = [BookParams(debt_share=d) for d in (0.015, 0.02, 0.03, 0.05, 0.08, 0.12)]
    shares += [BookParams(collateral_share=c) for c in (0.05, 0.1, 0.2)]
    anchors: list[tuple[int, float, Literal["mean", "vintage"]]] = [(0, 1.0, "mean")]
    anchors += [(n, p, a) for a in ("mean", "vintage") for n in (30, 60, 120) for p in (0.5, 1.0)]
    accounts: tuple[Literal["all", "version"], ...] = ("all", "version")
    books = [
        BookParams(b.collateral_share, b.debt_share, hf_scale=k, anchor_days=n, anchor_power=p, anchor=a, accounts=acc)
        for b, k, (n, p, a), acc in itertools.product(shares, (1.0, 1.5, 2.0, 3.0), anchors, accounts)
    ]
    liquidators = [
        Liquidators(capacity_share=c, chunk_bonus_share=ch, depth_beta=beta, slippage_profit=True)
        for c, ch, beta in itertools.product((0.02, 0.05, 0.1, 0.2, 0.3, math.inf), (0.25, math.inf), (0.0, 0.5, 1.0))
    ]
    prices: tuple[Literal["close", "low"], ...] = ("close", "low")
    return [FitParams(b, liq, pr) for b, liq, pr in itertools.product(books, liquidators, prices)]


def peak_hour_t0_usd(w: Window, data_dir: Path | None = None) -> float:
    """The window's largest real hour of WETH seized, in the simulator's capacity unit (USD at the start price)."""
    path = eth_path(w, data_dir).to_numpy(float)
    seized = hourly_liquidated_usd(w, "weth", data_dir).to_numpy(float)
    return float((seized * path[0] / path[1:]).max())


def hourly_capacity_t0_usd(w: Window, liquidators: Liquidators, data_dir: Path | None = None) -> float:
    """What the liquidators can absorb per hourly step on the window's real path (``capacity_share`` of the
    effective depth at that path's volatility), in USD at the start price."""
    path = eth_path(w, data_dir).to_numpy(float)
    sigma = path_sigma(np.diff(np.log(path))[None, :, None], liquidators.step_h)
    return float(liquidators.capacity_share * effective_depth(np.array([ETH_DEPTH_USD]), sigma, liquidators)[0, 0])


def admissible(fit: FitParams, windows: Sequence[Window], *, data_dir: Path | None = None) -> bool:
    """Whether ``fit``'s liquidators could have absorbed the largest real hour of every window in ``windows``.

    Why: the objective scores days, and a capacity of a few million USD an hour spreads any book's liquidations into
    a steady drip that matches daily totals on average, while the fitted windows' own hourly record shows liquidators
    taking 29-41 M USD (start prices) in one hour. Such a fit describes the data's daily sums, not liquidators."""
    return all(hourly_capacity_t0_usd(w, fit.liquidators, data_dir) >= peak_hour_t0_usd(w, data_dir) for w in windows)


@dataclass(frozen=True)
class Scored:
    fit: FitParams
    objective: float
    replays: tuple[Replay, ...]


def score(fit: FitParams, windows: Sequence[Window], *, data_dir: Path | None = None) -> Scored:
    """``fit`` replayed on ``windows``; books inconsistent with the market score ``inf``."""
    snapshot = borrower_snapshot(data_dir)
    books = [build_book(w, fit.book, data_dir=data_dir, snapshot=snapshot) for w in windows]
    if not all(b.consistent for b in books):
        return Scored(fit, math.inf, ())
    replays = tuple(replay(w, fit, data_dir=data_dir, book=b) for w, b in zip(windows, books, strict=True))
    return Scored(fit, objective(replays), replays)


def _score_on_fitted(args: tuple[FitParams, Path | None]) -> tuple[float, FitParams]:
    """One grid point's objective on the fitted windows (a module-level function, so that processes can run it)."""
    fit, data_dir = args
    return score(fit, [w for w in WINDOWS if w.fitted], data_dir=data_dir).objective, fit


@dataclass(frozen=True)
class GridResult:
    """The grid's admissible points scored, best first (the best ten with their replays), and how many points the
    admissibility test left out."""

    ranked: list[Scored]
    points: int
    inadmissible: int

    @property
    def best(self) -> Scored:
        return self.ranked[0]


def fit_grid(grid: Sequence[FitParams] | None = None, *, data_dir: Path | None = None, workers: int = 1) -> GridResult:
    """Every admissible grid point scored on the fitted windows of ``WINDOWS`` (never the out-of-sample ones), best
    first (ties keep the grid's order); ``workers`` processes share the grid."""
    points = default_grid() if grid is None else list(grid)
    fitted = [w for w in WINDOWS if w.fitted]
    # admissibility depends on the liquidators only: test each distinct one once
    allowed = {
        liq: admissible(FitParams(points[0].book, liq), fitted, data_dir=data_dir)
        for liq in {p.liquidators for p in points}
    }
    jobs = [(f, data_dir) for f in points if allowed[f.liquidators]]
    if not jobs:
        raise ValueError("no admissible grid point")
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers, initializer=torch.set_num_threads, initargs=(1,)) as pool:
            results = list(pool.map(_score_on_fitted, jobs, chunksize=max(1, len(jobs) // (workers * 20))))
    else:
        results = [_score_on_fitted(job) for job in jobs]
    order = sorted(range(len(results)), key=lambda i: results[i][0])
    ranked = [
        score(results[i][1], fitted, data_dir=data_dir) if rank < 10 else Scored(results[i][1], results[i][0], ())
        for rank, i in enumerate(order)
    ]
    return GridResult(ranked, len(points), len(points) - len(jobs))


# --------------------------------------------------------------------------- the frozen fit


def _finite_or_none(x: float) -> float | None:
    return None if math.isinf(x) else x


class FrozenFit(BaseModel):
    """``liquidators_fit.json``: the fitted values, the objective they reached, where and how they were fitted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity_share: float | None = Field(description="per hourly step, share of the effective depth; null: unlimited")
    chunk_bonus_share: float | None = Field(description="null: unlimited")
    depth_beta: float
    depth_sigma_ref: float
    step_h: float
    slippage_profit: bool
    collateral_share: float | None = Field(description="book basis: share of the WETH supply backing stable debt")
    debt_share: float | None = Field(description="book basis: share of the market's stable debt backed by WETH")
    hf_scale: float
    anchor_days: int
    anchor_power: float
    anchor: Literal["mean", "vintage"] = "mean"
    accounts: Literal["all", "version"] = "all"
    price: Literal["close", "low"]
    objective: float = Field(description="mean |log(sim/real)| over the fitted windows' days > scored_usd")
    out_of_sample_objective: float | None = Field(
        default=None, description="the same objective on the out-of-sample windows, computed after freezing"
    )
    scored_usd: float
    windows: list[str] = Field(description="the windows fitted on")
    out_of_sample: list[str] = Field(description="windows never used for fitting")
    grid_points: int
    inadmissible_points: int = Field(description="grid points left out: capacity below a fitted window's peak hour")
    date: str
    command: str
    assumptions: dict[str, float | str]

    @classmethod
    def of(
        cls,
        fit: FitParams,
        objective_value: float,
        *,
        out_of_sample_objective: float | None,
        windows: list[str],
        out_of_sample: list[str],
        grid_points: int,
        inadmissible_points: int,
        date: str,
        command: str,
    ) -> FrozenFit:
        liq = fit.liquidators
        return cls(
            capacity_share=_finite_or_none(liq.capacity_share),
            chunk_bonus_share=_finite_or_none(liq.chunk_bonus_share),
            depth_beta=liq.depth_beta,
            depth_sigma_ref=liq.depth_sigma_ref,
            step_h=liq.step_h,
            slippage_profit=liq.slippage_profit,
            collateral_share=fit.book.collateral_share,
            debt_share=fit.book.debt_share,
            hf_scale=fit.book.hf_scale,
            anchor_days=fit.book.anchor_days,
            anchor_power=fit.book.anchor_power,
            anchor=fit.book.anchor,
            accounts=fit.book.accounts,
            price=fit.price,
            objective=objective_value,
            out_of_sample_objective=out_of_sample_objective,
            scored_usd=SCORED_USD,
            windows=windows,
            out_of_sample=out_of_sample,
            grid_points=grid_points,
            inadmissible_points=inadmissible_points,
            date=date,
            command=command,
            assumptions={
                "eth_depth_usd": ETH_DEPTH_USD,
                "gas_per_liquidation": GAS_PER_LIQUIDATION,
                "close_factor": CLOSE_FACTOR,
                "sim_floor_usd": SIM_FLOOR_USD,
                "min_stable_share": MIN_STABLE_SHARE,
                "snapshot": "aave_steth_positions_2023-06 (non-e-mode, debt >= 50 % non-WETH, HF >= 1)",
            },
        )

    @property
    def fit(self) -> FitParams:
        liquidators = Liquidators(
            capacity_share=math.inf if self.capacity_share is None else self.capacity_share,
            chunk_bonus_share=math.inf if self.chunk_bonus_share is None else self.chunk_bonus_share,
            depth_beta=self.depth_beta,
            depth_sigma_ref=self.depth_sigma_ref,
            step_h=self.step_h,
            slippage_profit=self.slippage_profit,
        )
        book = BookParams(
            self.collateral_share,
            self.debt_share,
            self.hf_scale,
            self.anchor_days,
            self.anchor_power,
            self.anchor,
            self.accounts,
        )
        return FitParams(book, liquidators, self.price)

    def with_behaviour(self, behaviour: LiquidatorBehaviour) -> FitParams:
        """The frozen book and path with a policy's liquidators instead of the fitted ones: what the calibration
        and the keeper simulate, replayed on the same history."""
        liquidators = Liquidators(
            capacity_share=behaviour.capacity_share,
            chunk_bonus_share=behaviour.chunk_limit,
            depth_beta=behaviour.depth_beta,
            depth_sigma_ref=behaviour.depth_sigma_ref,
            step_h=self.step_h,
            slippage_profit=self.slippage_profit,
        )
        return FitParams(self.fit.book, liquidators, self.price)


def load_fit(path: Path = FIT_FILE) -> FrozenFit:
    return FrozenFit.model_validate_json(path.read_text())


def save_fit(frozen: FrozenFit, path: Path = FIT_FILE) -> None:
    path.write_text(json.dumps(frozen.model_dump(mode="json"), indent=1) + "\n")
