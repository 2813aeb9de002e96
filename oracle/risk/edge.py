"""The worst admissible book ("edge book") of one asset, and its bad-debt ES99 over the policy's two horizons.

Why: today's book is not the one a crisis meets. Before an LT cut can land, every position may borrow up to the
LTV limit and a fall takes them all to the edge, so the parameters are judged on the asset's collateral rearranged
so that every position sits at health factor ``hf_low``-``hf_high`` under the parameters judged, one holder owning
``top_share`` of it as a single position, the rest in positions of real sizes (lognormal, as the seeded markets and
the Aave borrower snapshot). The book is deterministic (quantiles, not draws), so the calibration, the gate, the
report and ``verify`` build the very same one.

Over two horizons: one update interval, and the time a cut takes to land (``EdgeBook.cut_horizon_h``, the LT
min delay), the price paths of the longer one scaled in variance with its length.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict
from scipy import stats

from oracle.domain.appetite import EdgeBook, RiskAppetite
from oracle.risk.cascade import CascadeMarket, CascadeParams, Liquidators, Shocks, run_cascade, sample_shocks
from oracle.risk.metrics import expected_shortfall, expected_shortfall_se

SIZE_SIGMA = 1.0  # lognormal spread of position sizes (the seeded market's and roughly the Aave snapshot's)


@contextmanager
def single_thread() -> Iterator[None]:
    """Run torch on one thread inside: an edge book is small (a hundred positions), so its many small operations
    only lose to intra-op threading, by 30x when the machine is busy (measured on 2 cores under load)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def edge_book(
    collateral_usd: float,
    lt: float,
    *,
    top_share: float,
    positions: int,
    hf_low: float = 1.0,
    hf_high: float = 1.05,
    depth_usd: float,
    gas_usd: float,
    close_factor: float,
) -> CascadeMarket:
    """One asset's ``collateral_usd`` as ``positions`` positions at the edge under liquidation threshold ``lt``."""
    rest = positions - 1
    probs = (np.arange(rest) + 0.5) / rest
    sizes = np.exp(SIZE_SIGMA * stats.norm.ppf(probs))
    sizes = sizes / sizes.sum() * (1 - top_share) * collateral_usd
    coll = np.concatenate([[top_share * collateral_usd], sizes])
    hf = np.linspace(hf_low, hf_high, positions)
    hf = np.concatenate([[hf_low], np.roll(hf[1:], rest // 2)])  # the whale at the very edge, sizes and HFs mixed
    return CascadeMarket(coll[:, None], coll * lt / hf, np.array([depth_usd]), gas_usd, close_factor)


class EdgeRisk(BaseModel):
    """Bad-debt ES99 of an asset's edge book, as a share of its collateral, over the two horizons."""

    model_config = ConfigDict(frozen=True)

    top_share: float
    es99_1d_share: float
    es99_cut_share: float
    cut_horizon_h: int
    # Monte Carlo standard errors of the two estimates (``expected_shortfall_se``), same unit
    es99_1d_se_share: float
    es99_cut_se_share: float

    @property
    def worst_share(self) -> float:
        return max(self.es99_1d_share, self.es99_cut_share)

    def worst_upper(self, z: float) -> float:
        """The larger horizon's ES99 plus ``z`` standard errors: what a calibration bounds so that it holds on
        paths it has not seen."""
        return max(self.es99_1d_share + z * self.es99_1d_se_share, self.es99_cut_share + z * self.es99_cut_se_share)


def edge_shocks(
    sigma_1d: float, dof: float, appetite: RiskAppetite, edge: EdgeBook, *, paths: int, seed: int
) -> tuple[Shocks, Shocks]:
    """One asset's price paths over the update horizon and over the cut horizon (hourly steps in both)."""
    step_h = appetite.horizon_h / appetite.steps
    short = sample_shocks(
        np.array([sigma_1d * math.sqrt(appetite.horizon_h / 24)]),
        np.array([dof]),
        np.eye(1),
        paths=paths,
        steps=appetite.steps,
        seed=seed,
    )
    long = sample_shocks(
        np.array([sigma_1d * math.sqrt(edge.cut_horizon_h / 24)]),
        np.array([dof]),
        np.eye(1),
        paths=paths,
        steps=max(1, round(edge.cut_horizon_h / step_h)),
        seed=seed + 1,
    )
    return short, long


def edge_es99(
    collateral_usd: float,
    lt: float,
    lb: float,
    *,
    top_share: float,
    edge: EdgeBook,
    depth_usd: float,
    gas_usd: float,
    close_factor: float,
    liquidators: Liquidators,
    shocks: tuple[Shocks, Shocks],
    cut_horizon_h: int,
) -> EdgeRisk:
    """ES99 of bad debt on the edge book under (``lt``, ``lb``) over both horizons' ``shocks``."""
    if collateral_usd <= 0:
        return EdgeRisk(
            top_share=top_share,
            es99_1d_share=0.0,
            es99_cut_share=0.0,
            cut_horizon_h=cut_horizon_h,
            es99_1d_se_share=0.0,
            es99_cut_se_share=0.0,
        )
    market = edge_book(
        collateral_usd,
        lt,
        top_share=top_share,
        positions=edge.positions,
        hf_low=edge.hf_low,
        hf_high=edge.hf_high,
        depth_usd=depth_usd,
        gas_usd=gas_usd,
        close_factor=close_factor,
    )
    params = CascadeParams(np.array([lt]), np.array([lb]))
    shares, errors = [], []
    with single_thread():
        for shock in shocks:
            result = run_cascade(market, params, shock, liquidators=liquidators, dtype=torch.float64)
            shares.append(expected_shortfall(result.bad_debt_usd, 0.99) / collateral_usd)
            errors.append(expected_shortfall_se(result.bad_debt_usd, 0.99) / collateral_usd)
    return EdgeRisk(
        top_share=top_share,
        es99_1d_share=shares[0],
        es99_cut_share=shares[1],
        cut_horizon_h=cut_horizon_h,
        es99_1d_se_share=errors[0],
        es99_cut_se_share=errors[1],
    )


@dataclass(frozen=True)
class EdgeCase:
    """One asset's edge-book test, everything but the parameters fixed: what the gate judges each update on."""

    collateral_usd: float
    depth_usd: float
    top_share: float  # the larger of today's largest holder and the policy's configured concentration
    gas_usd: float
    close_factor: float
    liquidators: Liquidators  # the asset's own feed
    shocks: tuple[Shocks, Shocks]
    edge: EdgeBook

    def risk(self, lt_bps: int, lb_bps: int) -> EdgeRisk:
        return edge_es99(
            self.collateral_usd,
            lt_bps / 1e4,
            lb_bps / 1e4,
            top_share=self.top_share,
            edge=self.edge,
            depth_usd=self.depth_usd,
            gas_usd=self.gas_usd,
            close_factor=self.close_factor,
            liquidators=self.liquidators,
            shocks=self.shocks,
            cut_horizon_h=self.edge.cut_horizon_h,
        )
