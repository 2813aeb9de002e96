"""The risk appetite (``[risk]`` of a policy file): what the oracle must keep true, and the market facts it
cannot read from the lending market itself (DEX depth, gas of a liquidation).

Why in the policy and not in code: these are the DAO's choices ("bad-debt ES99 over 24 h at most 0.1 % of
supplied collateral"); they are reviewed like code, and the recommendation function is calibrated against them.
"""

from __future__ import annotations

import math
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oracle.domain.fields import unset
from oracle.domain.params import Bps


class LiquidatorBehaviour(BaseModel):
    """``[risk.liquidators]``: how liquidations really happen, beyond the contract's rules (the simulator's realism
    terms, ``oracle.risk.cascade.Liquidators``). The behaviour parameters are fitted to real Aave liquidations
    (``benchmarks/bench_liquidations_real.py``, ``oracle/risk/liquidators_fit.json``); the feeds' deviation and
    heartbeat are the feeds' own configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    capacity_share: Annotated[float, Field(gt=0, le=10)] = Field(
        description="per hour and asset, USD of collateral liquidators absorb, as a share of the pool's depth"
    )
    chunk_bonus_share: Annotated[float, Field(gt=0, le=10)] | None = Field(
        default=None,
        exclude_if=unset,
        description="one liquidation seizes at most what moves its pool by this share of the bonus (profitable "
        "size); left out: no such limit (the close factor alone sizes a liquidation)",
    )
    depth_beta: Annotated[float, Field(ge=0, le=5)] = Field(
        description="pool depth shrinks as (depth_sigma_ref / sigma)^beta when daily volatility exceeds the reference"
    )
    depth_sigma_ref: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.04, description="daily volatility at which depth_usd holds"
    )
    impact_half_life_h: Annotated[float, Field(gt=0)] = Field(
        description="hours in which arbitrage buys back half of what liquidators sold into the pool"
    )
    feed_deviation: dict[str, Annotated[float, Field(ge=0, lt=1)]] = Field(
        description="per asset (symbol or token address): the feed's deviation threshold, as a fraction"
    )
    feed_heartbeat_s: dict[str, Annotated[int, Field(gt=0)]] = Field(
        description="per asset (symbol or token address): the feed's heartbeat, seconds"
    )

    @property
    def chunk_limit(self) -> float:
        """``chunk_bonus_share`` as the simulator takes it: ``math.inf`` when the policy sets no limit."""
        return math.inf if self.chunk_bonus_share is None else self.chunk_bonus_share


class EdgeBook(BaseModel):
    """``[risk.edge_book]``: the worst book the parameters must survive before the next cut can land.

    Why: today's book is not the one a crisis meets. Before an LT cut can land (the governor's min delay), every
    position may borrow up to the LTV limit and a price fall takes them all to the edge; so LT is calibrated, and the
    gate checks it, on the book rearranged so that every position sits at health factor ``hf_low``-``hf_high``, the
    largest holding at least ``top_holder_share`` of the collateral as one position.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    top_holder_share: Annotated[float, Field(gt=0, le=1)] = Field(
        description="the concentration the book may reach: one holder's share of an asset's collateral"
    )
    hf_low: Annotated[float, Field(ge=1, le=2)] = 1.0
    hf_high: Annotated[float, Field(ge=1, le=2)] = 1.05
    cut_horizon_h: Annotated[int, Field(gt=0, le=24 * 30)] = Field(
        description="hours a cut takes to land (the LT min delay): the second horizon simulated and reported"
    )
    positions: Annotated[int, Field(ge=10, le=100_000)] = Field(default=100, description="positions in the edge book")


class RiskAppetite(BaseModel):
    """``[risk]`` of a policy file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon_h: Annotated[int, Field(gt=0, le=24 * 7, description="stress horizon (one update interval)")] = 24
    steps: Annotated[int, Field(gt=0, le=24 * 7, description="price steps in the horizon (liquidation rounds)")] = 24
    paths: Annotated[int, Field(ge=100, le=1_000_000, description="Monte Carlo paths of the risk gate")] = 4000
    seed: int = Field(default=20221109, description="seed of the gate's common random numbers")
    es99_max_share: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.001, description="bad-debt ES99 over the horizon, as a share of supplied collateral value"
    )
    max_liquidated_at_once_share: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.02, description="largest share of debt an update may make liquidatable at once (LT cuts)"
    )
    liquidation_gas: Annotated[int, Field(gt=0)] = Field(default=300_000, description="gas of one liquidation")
    gas_stress_multiplier: Annotated[float, Field(ge=1)] = Field(
        default=10.0, description="base fee multiple liquidators pay in a crash (gas spikes with volatility)"
    )
    priority_fee_gwei: Annotated[float, Field(ge=0)] = 2.0
    native_asset: str = Field(default="WETH", description="collateral asset whose price prices gas")
    native_price_usd: Annotated[float, Field(gt=0)] = Field(
        default=3000.0, description="gas token price when the native asset is not a collateral of the market"
    )
    depth_usd: dict[str, Annotated[float, Field(gt=0)]] = Field(
        description="per asset, by token address (survives a renamed symbol) or symbol: USD on each side of the "
        "constant-product pool liquidators sell into"
    )
    lb_margin_bps: Bps = Field(default=100, description="liquidator margin above gas, slippage and price risk")
    lt_floor_bps: Bps = 3000
    lt_cap_bps: Bps = 9500
    lb_floor_bps: Bps = 200
    lb_cap_bps: Bps = 2500
    ltv_gap_min_bps: Annotated[int, Field(ge=1, le=5000)] = Field(default=50, description="smallest LT - LTV")
    linked_margin_bps: Annotated[int, Field(ge=1, le=5000)] = Field(
        default=50, description="smallest 1 - LT x (1 + LB): the buffer a liquidation at HF 1 leaves"
    )
    calibration: str = Field(
        default="default.calibration.json", description="coefficients file, relative to the policy file"
    )
    # Absent = the first simulator (instant liquidators, feed = market, today's book only): the policies embedded in
    # earlier reports have neither section and must re-run to the same result; left out of the JSON when unset.
    liquidators: LiquidatorBehaviour | None = Field(default=None, exclude_if=unset)
    edge_book: EdgeBook | None = Field(default=None, exclude_if=unset)

    def depth_of(self, address: str, symbol: str) -> float | None:
        """The pool depth of an asset: keyed by its token address (any case) first, since a symbol is a label the
        token's owner may change, else by its symbol; ``None`` when the policy names it neither way."""
        by_address = {k.lower(): v for k, v in self.depth_usd.items() if k.startswith("0x")}
        return by_address.get(address.lower(), self.depth_usd.get(symbol))

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.lt_floor_bps >= self.lt_cap_bps or self.lb_floor_bps >= self.lb_cap_bps:
            raise ValueError("floors must be below caps")
        if self.lt_floor_bps * (10_000 + self.lb_cap_bps) >= (10_000 - self.linked_margin_bps) * 10_000:
            raise ValueError("lt_floor x (1 + lb_cap) leaves no liquidation buffer")
        if self.edge_book is not None and self.edge_book.hf_low > self.edge_book.hf_high:
            raise ValueError("edge_book: hf_low above hf_high")
        return self

    def feed_of(self, address: str, symbol: str) -> tuple[float, int] | None:
        """The feed's (deviation, heartbeat seconds) of an asset, keyed like ``depth_of``; None when unset."""
        if self.liquidators is None:
            return None
        dev, hb = self.liquidators.feed_deviation, self.liquidators.feed_heartbeat_s

        def of(table: dict[str, float] | dict[str, int]) -> float | int | None:
            by_address = {k.lower(): v for k, v in table.items() if k.startswith("0x")}
            return by_address.get(address.lower(), table.get(symbol))

        d, h = of(dev), of(hb)
        return None if d is None or h is None else (float(d), int(h))

    @property
    def horizon_days(self) -> float:
        return self.horizon_h / 24
