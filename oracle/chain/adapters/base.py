"""The adapter interface: what the snapshot reader needs from any lending market, in protocol-neutral terms.

Why: the reader (block pinning, feeds, governor state, validation, derived risk figures) is the same for every
protocol; only how assets, totals and positions are read differs. An Aave v3 adapter implements these two
methods with ``getReserveData`` / ``getUserAccountData``; nothing downstream changes.
"""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from oracle.chain.multicall import Multicall
from oracle.domain.params import RiskParams
from oracle.domain.snapshot import MarketTotals


class RawAsset(BaseModel):
    """A collateral asset as the market records it."""

    model_config = ConfigDict(frozen=True)

    address: str
    symbol: str
    token_decimals: int  # as the token reports it
    recorded_token_decimals: int  # as the market recorded it when listing
    feed: str
    recorded_feed_decimals: int
    params: RiskParams
    total_collateral: int


class RawMarket(MarketTotals):
    """Market-wide state and its assets, in the market's order."""

    borrowers: int
    assets: tuple[RawAsset, ...]


class RawPosition(BaseModel):
    """A borrower's collateral (per asset, in the market's asset order) and debt."""

    model_config = ConfigDict(frozen=True)

    account: str
    collateral: tuple[int, ...]
    debt: int


class MarketAdapter(Protocol):
    """Reads one market through a ``Multicall`` at a given block (every call pinned to it)."""

    address: str
    books_rounding_per_position: int
    """How far, in token units per position, the sum of positions may be from the market's totals: 0 where the
    market keeps totals as the sum of balances (ours); 1 on Aave, whose balances and totals are each a scaled amount
    times an index, rounded half up one by one."""

    def read_market(self, mc: Multicall, block: int) -> RawMarket:
        """Market-wide state and the listed collateral assets."""
        ...

    def read_positions(self, mc: Multicall, block: int, market: RawMarket) -> tuple[RawPosition, ...]:
        """Every position, in the market's enumeration order."""
        ...

    def health_factor_wad(self, market: RawMarket, prices: tuple[int, ...], position: RawPosition) -> int:
        """The position's health factor exactly as the market computes it, from the snapshot's prices."""
        ...
