"""Gauntlet's public LLTV method for Morpho Blue, as a peer baseline for this oracle's liquidation thresholds.

Why a second method: our LTs come from a calibrated Monte Carlo of a whole market. A reviewer asks "what would
the public, widely cited method say for the same asset?" This module answers with an independent
re-implementation (no code copied) of the risk tool Gauntlet published for Morpho Blue:
``github.com/morpho-org/morpho-blue-lltv-recommendation``, commit b76a492ed4a5252d981d616ec17968a57ff55d6e
(2024-02-22; ``gauntlet/sim.py``, ``gauntlet/data_utils.py``, ``gauntlet/constants.py``, ``main.py``,
``optimize.py``, ``README.md``).

The method, as that source implements it:

1. **Drawdown.** For every day, the drawdown from the highest of the last 31 daily closes (30 days back) to that
   day's close; the scenario's depth is the 99th percentile of those (``np.percentile``, linear interpolation)
   of the collateral/debt price ratio. ``heuristic_drawdown`` then floors it at 40 % for blue-chip pairs and 60 %
   for others, unless it is below 10 % (LSTs, stablecoins), where it is only floored at 2 %.
2. **Borrower.** One concentrated position borrows the full LLTV against its collateral (LTV = LLTV at t0).
3. **Stepped drawdown.** Each step the price falls by 0.5 % *of the starting price* (linear steps, not
   compounding) until it reaches ``1 - drawdown``, where it stays.
4. **Liquidation in chunks.** After each step, if LTV >= LLTV, one liquidator repays one chunk of debt - the
   smaller of the swap sizes of the collateral and of the debt asset with 0.5 % price impact (CowSwap quotes) -
   and seizes chunk x (1 + LI). LI = min(0.15, 1 / (0.3 LLTV + 0.7) - 1): Morpho Blue's LIF =
   min(1.15, 1 / (1 - 0.3 (1 - LLTV))) (``LIQUIDATION_CURSOR`` 0.3, ``MAX_LIQUIDATION_INCENTIVE_FACTOR`` 1.15),
   floored at ``--min_liq_bonus`` 0.5 % in ``main.py`` (``optimize.py`` and Morpho's contract have no floor).
5. **Recommendation.** Candidates are scanned upwards (``main.py``: 1 %..99 % by 1 %; ``optimize.py``: by
   0.1 %); the first candidate whose run ends with debt and no collateral stops the scan, and the one before it
   is the LLTV. A candidate with LLTV x (1 + LI) < 1 - drawdown is safe without simulating.

What is ours, and why:

- Liquidity is a price-impact curve ``q USD -> fractional impact``; the default is this project's market model,
  a constant-product pool of ``depth_usd`` per side, where selling ``q`` moves the price by
  ``1 - (depth / (depth + q))^2`` (``constant_product_price_impact``). The source's "price impact" is CowSwap's
  execution shortfall ``1 - out / in``, which for the same pool is ``q / (depth + q)``
  (``constant_product_execution_slippage``) and gives a chunk about twice as large; pass it to reproduce the
  source's definition.
- Candidates are in bps: a fine grid (default every 10 bps, ``optimize.py``'s 0.1 %) to compare with our LTs, or
  Morpho's governance-enabled LLTVs; the result also names the largest enabled LLTV at or below the fine one.
- Once the price rests at its floor, the run is settled in closed form (at a fixed price every chunk keeps the
  sign of debt x (1 + LI) - collateral), where the source keeps stepping up to its iteration cap of
  ceil(collateral / chunk + 1) + 10 steps; the outcome is the same, the cost no longer grows with the position.
  A run that repays all debt with the last collateral (both exhausted to rounding) counts as no bad debt, where
  the source's order of checks reports the rounding residue as insolvency.

Checked against the source: its notebook's published runs (WETH/USDC, 360.38 M whale: LLTV 0.93 at a 40 %
drawdown and 20.9 M chunks, 0.79 at 70 % and 5 M) are reproduced (``tests/test_lltv.py``); once, when this was
written, the 0.1 %-grid LLTV of 300 random scenarios equalled that of the source's ``simulate_insolvency`` (run
as a reference outside this repo, bad debt equal to rounding), and its cached 30-day p99 drawdowns (2022-07-01
to 2023-09-08, CoinGecko vs USDC: WETH 29.5 %, WBTC 24.0 %, LINK 30.7 %, AAVE 39.9 %) came out within 1 pp from
``../shared/data`` (29.8, 23.6, 29.9, 40.5 %).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict
from scipy.optimize import brentq

from oracle.errors import PriceDataError

SOURCE_REPO = "morpho-org/morpho-blue-lltv-recommendation"
SOURCE_COMMIT = "b76a492ed4a5252d981d616ec17968a57ff55d6e"

# Morpho Blue's ConstantsLib: LIF = min(MAX_LIF, 1 / (1 - CURSOR x (1 - LLTV)))
LIQUIDATION_CURSOR = 0.3
MAX_LIQUIDATION_INCENTIVE_FACTOR = 1.15
MIN_LIQUIDATION_BONUS = 0.005  # main.py --min_liq_bonus

# Governance-enabled LLTVs of Morpho Blue on Ethereum (38.5 % ... 98 %), in bps (0 is enabled too: idle markets)
MORPHO_ENABLED_LLTVS_BPS: tuple[int, ...] = (3850, 6250, 7700, 8600, 9150, 9450, 9650, 9800)

# The source's scenario (constants.py, sim.py, main.py defaults)
DRAWDOWN_WINDOW_DAYS = 30
DRAWDOWN_PERCENTILE = 99.0
LARGE_CAP_DRAWDOWN_FLOOR = 0.4  # both assets blue chips (WETH, WBTC, LSTs, stablecoins)
SMALL_CAP_DRAWDOWN_FLOOR = 0.6  # any other pair
LOW_DRAWDOWN_CUTOFF = 0.1  # below it (LSTs, stablecoin pairs) the floor is not applied ...
LOW_DRAWDOWN_MIN = 0.02  # ... only this minimum
STEP = 0.005  # price fall per step, as a share of the starting price
CHUNK_IMPACT = 0.005  # a chunk is the swap with this price impact
LARGE_CAP_MIN_WHALE_USD = 200_000_000.0
SMALL_CAP_MIN_WHALE_USD = 50_000_000.0
WHALE_IMPACT = 0.25  # the source's default whale: max(floor above, the sell with 25 % impact)

BPS = 10_000
FINE_GRID_STEP_BPS = 10

ImpactCurve = Callable[[float], float]
"""Fractional price impact (0..1, increasing) of selling ``q`` USD of the collateral."""

Candidates = Literal["fine", "morpho"] | Sequence[int]


# --------------------------------------------------------------------------- liquidation incentive


def liquidation_incentive(
    lltv: float,
    *,
    cursor: float = LIQUIDATION_CURSOR,
    max_factor: float = MAX_LIQUIDATION_INCENTIVE_FACTOR,
    min_bonus: float = MIN_LIQUIDATION_BONUS,
) -> float:
    """The liquidation bonus (LIF - 1) Morpho Blue derives from ``lltv``, floored at ``min_bonus`` as ``main.py``
    does (pass ``min_bonus=0`` for the contract's own value): a high LLTV earns liquidators too little to act
    otherwise."""
    factor = min(max_factor, 1.0 / (1.0 - cursor * (1.0 - lltv)))
    return max(factor - 1.0, min_bonus)


# --------------------------------------------------------------------------- drawdown


def monthly_drawdowns(closes: pd.Series, window_days: int = DRAWDOWN_WINDOW_DAYS) -> pd.Series:
    """Per day, the fall of its close from the highest close of the ``window_days + 1`` days ending on it (the
    source's ``rolling(d + 1)`` with ``(max - last) / max``); the first ``window_days`` days, which have no full
    window, are left out.

    ``closes`` are daily closes in units of the debt asset (USD for a USD stablecoin), oldest first, one a day:
    the window counts rows, so a DatetimeIndex must have no missing or duplicate day."""
    values = _daily_closes(closes, window_days)
    peak = values.rolling(window_days + 1).max()
    return ((peak - values) / peak).iloc[window_days:]


def percentile_drawdown(
    closes: pd.Series, window_days: int = DRAWDOWN_WINDOW_DAYS, percentile: float = DRAWDOWN_PERCENTILE
) -> float:
    """The ``percentile`` (0..100, linear interpolation as ``np.percentile``) of ``monthly_drawdowns``."""
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile {percentile} is not in [0, 100]")
    return float(np.percentile(monthly_drawdowns(closes, window_days).to_numpy(), percentile))


def source_drawdown(historical: float, floor: float) -> float:
    """The source's ``heuristic_drawdown``: a historical drawdown below 10 % (a pegged pair) is only raised to
    2 %; any other is raised to ``floor`` (``LARGE_CAP_DRAWDOWN_FLOOR`` or ``SMALL_CAP_DRAWDOWN_FLOOR``), because
    a year or so of history understates what a volatile pair can do in a month."""
    if historical < LOW_DRAWDOWN_CUTOFF:
        return max(historical, LOW_DRAWDOWN_MIN)
    return max(floor, historical)


def _daily_closes(closes: pd.Series, window_days: int) -> pd.Series:
    if window_days < 1:
        raise ValueError(f"window_days {window_days} must be >= 1")
    values = pd.to_numeric(closes, errors="coerce").astype(float)
    if not np.all(np.isfinite(values.to_numpy())) or (values <= 0).any():
        raise PriceDataError("closes must be finite positive prices")
    if len(values) <= window_days:
        raise PriceDataError(f"{len(values)} closes: a {window_days}-day drawdown needs at least {window_days + 1}")
    if isinstance(values.index, pd.DatetimeIndex):
        steps = values.index[1:] - values.index[:-1]
        if len(steps) and not (steps == pd.Timedelta(days=1)).all():
            bad = int(np.argmax(steps != pd.Timedelta(days=1)))
            raise PriceDataError(
                f"closes are not one a day: {values.index[bad]} is followed by {values.index[bad + 1]}"
            )
    return values.reset_index(drop=True)


# --------------------------------------------------------------------------- liquidity


def constant_product_price_impact(depth_usd: float) -> ImpactCurve:
    """This project's DEX model: selling ``q`` USD into a constant-product pool of ``depth_usd`` per side moves
    the marginal price by ``1 - (depth / (depth + q))^2`` (as ``oracle.risk.cascade``)."""
    if not depth_usd > 0:
        raise ValueError(f"depth_usd {depth_usd} must be > 0")
    return lambda q: 1.0 - (depth_usd / (depth_usd + q)) ** 2


def constant_product_execution_slippage(depth_usd: float) -> ImpactCurve:
    """The source's notion of price impact (CowSwap's ``1 - USD out / USD in``) for the same pool:
    ``q / (depth + q)``."""
    if not depth_usd > 0:
        raise ValueError(f"depth_usd {depth_usd} must be > 0")
    return lambda q: q / (depth_usd + q)


def swap_size_usd(impact: ImpactCurve, target: float = CHUNK_IMPACT, max_usd: float = 1e15) -> float:
    """The sell size with ``target`` impact: the source bisects CowSwap quotes to 5 %; here it is solved to
    machine precision (``brentq``), so the chunk is a function of the curve alone."""
    if not 0 < target < 1:
        raise ValueError(f"target impact {target} is not in (0, 1)")
    hi = 1.0
    while impact(hi) < target:
        hi *= 2.0
        if hi > max_usd:
            raise ValueError(f"no sell below {max_usd:.3g} USD reaches {target:.2%} impact")
    if impact(0.0) >= target:
        return 0.0
    return float(brentq(lambda q: impact(q) - target, 0.0, hi, xtol=1e-9, rtol=1e-14))


def source_whale_collateral_usd(impact: ImpactCurve, *, large_cap: bool) -> float:
    """The source's default concentrated position: the larger of 200 M USD (blue-chip pair) or 50 M USD (other)
    and the sell with 25 % impact. Offered for comparison; the benchmark states its own sizes."""
    floor = LARGE_CAP_MIN_WHALE_USD if large_cap else SMALL_CAP_MIN_WHALE_USD
    return max(floor, swap_size_usd(impact, WHALE_IMPACT))


# --------------------------------------------------------------------------- the stepped-drawdown run


class RunOutcome(NamedTuple):
    """One candidate's run: bad debt left (USD at t0 prices), price steps taken, liquidations made."""

    bad_debt_usd: float
    steps: int
    liquidations: int


def simulate_bad_debt(
    lltv: float,
    collateral_usd: float,
    chunk_usd: float,
    drawdown: float,
    *,
    step: float = STEP,
    bonus: float | None = None,
) -> RunOutcome:
    """Run the concentrated position through the stepped drawdown and return the debt left without collateral.

    The price is normalised to 1 at t0 (only the collateral/debt ratio matters); step ``k`` puts it at
    ``max(1 - drawdown, 1 - k x step)``. After each step a position with debt >= LLTV x collateral value has one
    chunk of ``min(debt, chunk_usd)`` repaid and ``repaid x (1 + bonus)`` of collateral (at most all of it)
    seized. ``bonus`` defaults to ``liquidation_incentive(lltv)``.

    Once the price rests at its floor the rest is settled in closed form (``_settle_at_floor``) rather than chunk
    by chunk, so a run costs the steps of the drawdown, not the number of chunks in the position."""
    if not 0 < lltv < 1:
        raise ValueError(f"lltv {lltv} is not in (0, 1)")
    if not collateral_usd > 0 or not chunk_usd > 0:
        raise ValueError("collateral_usd and chunk_usd must be > 0")
    if not 0 <= drawdown < 1 or not 0 < step < 1:
        raise ValueError(f"drawdown {drawdown} must be in [0, 1) and step {step} in (0, 1)")
    li = liquidation_incentive(lltv) if bonus is None else bonus
    floor = 1.0 - drawdown
    tol = 1e-12 * collateral_usd
    tokens = collateral_usd  # collateral in units worth 1 USD at t0
    debt = lltv * collateral_usd
    liquidations = 0
    k = 0
    while True:
        k += 1
        price = max(floor, 1.0 - k * step)
        value = tokens * price
        if debt >= lltv * value:
            repaid = min(debt, chunk_usd)
            seized = min(repaid * (1.0 + li), value)
            tokens -= seized / price
            debt -= seized / (1.0 + li)
            value -= seized
            liquidations += 1
        if debt <= tol:
            return RunOutcome(0.0, k, liquidations)
        if value <= tol:
            return RunOutcome(debt, k, liquidations)
        if price == floor:
            bad, more = _settle_at_floor(debt, value, lltv, li, chunk_usd)
            return RunOutcome(bad if bad > tol else 0.0, k + more, liquidations + more)


def _settle_at_floor(debt: float, value: float, lltv: float, li: float, chunk: float) -> tuple[float, int]:
    """Bad debt and further liquidations (one a step) of a position at a price that no longer moves.

    Why closed form: at a fixed price a chunk changes (debt, value) by (-c, -c (1 + LI)), so the sign of
    debt x (1 + LI) - value never changes. Above zero every chunk raises the LTV until the collateral is gone:
    the bad debt is debt - value / (1 + LI). At or below zero the chunks lower it until it is under the LLTV or
    the debt is repaid: no bad debt."""
    if debt < lltv * value:
        return 0.0, 0
    if debt * (1.0 + li) > value:
        return debt - value / (1.0 + li), math.ceil(value / (chunk * (1.0 + li)))
    repaid_out = math.ceil(debt / chunk)
    margin = 1.0 - lltv * (1.0 + li)
    if margin <= 0:
        return 0.0, repaid_out
    return 0.0, min(repaid_out, math.floor((debt - lltv * value) / (chunk * margin)) + 1)


# --------------------------------------------------------------------------- the recommendation


class LltvResult(BaseModel):
    """Gauntlet's LLTV for one asset and borrower, with the inputs it rests on."""

    model_config = ConfigDict(frozen=True)

    lltv: float  # fraction; 0 when even the first candidate leaves bad debt
    lltv_bps: int
    morpho_lltv_bps: int  # largest governance-enabled Morpho LLTV at or below lltv_bps (0 if none)
    liquidation_bonus: float  # LIF - 1 at lltv
    historical_drawdown: float | None  # the percentile drawdown of the price history (None: drawdown given)
    drawdown: float  # the drawdown the scenario used (after the source's floor, when one was applied)
    drawdown_steps: int  # price steps to reach 1 - drawdown
    step: float
    chunk_usd: float  # debt repaid per liquidation
    collateral_usd: float
    candidates: str  # "fine/<step> bps", "morpho" or "custom"
    next_candidate_bps: int | None  # the candidate that stopped the scan (None: the grid ran out)
    next_candidate_bad_debt_usd: float | None
    bad_debt_at_next: bool
    source: str = f"github.com/{SOURCE_REPO}@{SOURCE_COMMIT[:12]}"


def candidate_grid(candidates: Candidates = "fine", grid_step_bps: int = FINE_GRID_STEP_BPS) -> tuple[int, ...]:
    """Candidate LLTVs in bps, ascending: every ``grid_step_bps`` below 100 %, Morpho's enabled LLTVs, or given."""
    if candidates == "fine":
        if not 1 <= grid_step_bps < BPS:
            raise ValueError(f"grid_step_bps {grid_step_bps} is not in [1, {BPS})")
        return tuple(range(grid_step_bps, BPS, grid_step_bps))
    if candidates == "morpho":
        return MORPHO_ENABLED_LLTVS_BPS
    grid = tuple(sorted({int(c) for c in candidates}))
    if not grid or grid[0] <= 0 or grid[-1] >= BPS:
        raise ValueError("candidate LLTVs must be in (0, 10000) bps")
    return grid


def morpho_lltv_at_or_below(lltv_bps: int) -> int:
    """The largest governance-enabled Morpho LLTV not above ``lltv_bps``: the tranche a lender following the
    method would pick (rounding up would pick one the method has not cleared); 0 when none is."""
    return max((x for x in MORPHO_ENABLED_LLTVS_BPS if x <= lltv_bps), default=0)


def lltv_for_drawdown(
    drawdown: float,
    collateral_usd: float,
    chunk_usd: float,
    *,
    step: float = STEP,
    candidates: Candidates = "fine",
    grid_step_bps: int = FINE_GRID_STEP_BPS,
    min_bonus: float = MIN_LIQUIDATION_BONUS,
    historical_drawdown: float | None = None,
) -> LltvResult:
    """The method's scan for a given scenario: the last candidate before the first one that leaves bad debt.

    A candidate with LLTV x (1 + LI) < 1 - drawdown is cleared without a run (the floor price never brings the
    position to where seizing all collateral repays less than the debt), as in the source."""
    grid = candidate_grid(candidates, grid_step_bps)
    label = f"fine/{grid_step_bps} bps" if candidates == "fine" else "morpho" if candidates == "morpho" else "custom"
    best = 0
    stop: tuple[int, float] | None = None
    for bps in grid:
        lltv = bps / BPS
        li = liquidation_incentive(lltv, min_bonus=min_bonus)
        if lltv * (1.0 + li) < 1.0 - drawdown:
            best = bps
            continue
        bad = simulate_bad_debt(lltv, collateral_usd, chunk_usd, drawdown, step=step, bonus=li).bad_debt_usd
        if bad > 0:
            stop = (bps, bad)
            break
        best = bps
    return LltvResult(
        lltv=best / BPS,
        lltv_bps=best,
        morpho_lltv_bps=morpho_lltv_at_or_below(best),
        liquidation_bonus=liquidation_incentive(best / BPS, min_bonus=min_bonus) if best else 0.0,
        historical_drawdown=historical_drawdown,
        drawdown=drawdown,
        drawdown_steps=math.ceil(drawdown / step - 1e-12),
        step=step,
        chunk_usd=chunk_usd,
        collateral_usd=collateral_usd,
        candidates=label,
        next_candidate_bps=None if stop is None else stop[0],
        next_candidate_bad_debt_usd=None if stop is None else stop[1],
        bad_debt_at_next=stop is not None,
    )


def gauntlet_lltv(
    closes: pd.Series,
    collateral_usd: float,
    *,
    depth_usd: float | None = None,
    impact: ImpactCurve | None = None,
    debt_chunk_usd: float | None = None,
    chunk_impact: float = CHUNK_IMPACT,
    window_days: int = DRAWDOWN_WINDOW_DAYS,
    percentile: float = DRAWDOWN_PERCENTILE,
    drawdown_floor: float | None = None,
    step: float = STEP,
    candidates: Candidates = "fine",
    grid_step_bps: int = FINE_GRID_STEP_BPS,
    min_bonus: float = MIN_LIQUIDATION_BONUS,
) -> LltvResult:
    """Gauntlet's LLTV for a concentrated borrower of ``collateral_usd`` of an asset with daily ``closes``.

    - drawdown: the ``percentile`` of ``window_days`` drawdowns of ``closes`` (``percentile_drawdown``); with
      ``drawdown_floor`` (``LARGE_CAP_DRAWDOWN_FLOOR`` / ``SMALL_CAP_DRAWDOWN_FLOOR``) the source's heuristic
      floor is applied (``source_drawdown``), without it the historical figure is used as it is;
    - liquidity: ``impact`` (a curve, e.g. ``constant_product_execution_slippage`` for the source's definition)
      or, by default, this project's constant-product pool of ``depth_usd`` per side; one of the two is needed;
    - chunk: the sell with ``chunk_impact`` impact, capped by ``debt_chunk_usd`` (the debt asset's own 0.5 %
      swap; ``None``: the stablecoin is not the limit).
    """
    if impact is None:
        if depth_usd is None:
            raise ValueError("give depth_usd or impact")
        curve = constant_product_price_impact(depth_usd)
    elif depth_usd is not None:
        raise ValueError("give depth_usd or impact, not both")
    else:
        curve = impact
    chunk = swap_size_usd(curve, chunk_impact)
    if debt_chunk_usd is not None:
        chunk = min(chunk, debt_chunk_usd)
    historical = percentile_drawdown(closes, window_days, percentile)
    drawdown = historical if drawdown_floor is None else source_drawdown(historical, drawdown_floor)
    return lltv_for_drawdown(
        drawdown,
        collateral_usd,
        chunk,
        step=step,
        candidates=candidates,
        grid_step_bps=grid_step_bps,
        min_bonus=min_bonus,
        historical_drawdown=historical,
    )
