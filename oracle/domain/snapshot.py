"""``MarketSnapshot``: one consistent, validated picture of a lending market at one block.

Why frozen pydantic: every later stage (features, forecast, policy, report) is a pure function of this object,
so it must not change after validation and must serialise to JSON exactly (a report's inputs are a snapshot).
On-chain amounts stay integers in their own decimals; USD values derived from them are floats, named ``*_usd``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from oracle.domain.params import AssetBounds, LastChanged, RiskParams

WAD = 10**18
DENSITY_BANDS = (0.01, 0.02, 0.05, 0.10)  # price drops for liquidation density


class FeedRound(BaseModel):
    """One round of a Chainlink-style feed."""

    model_config = ConfigDict(frozen=True)

    round_id: int
    answer: int
    updated_at: int


class AssetState(BaseModel):
    """A collateral asset at the snapshot's block."""

    model_config = ConfigDict(frozen=True)

    address: str
    symbol: str
    token_decimals: int
    feed: str
    feed_decimals: int
    price: int = Field(description="latest answer, in the feed's decimals")
    price_updated_at: int
    staleness_s: int
    history: tuple[FeedRound, ...] = Field(description="the last rounds, oldest first, the latest included")
    params: RiskParams
    bounds: AssetBounds | None
    last_changed_at: LastChanged
    total_collateral: int = Field(description="token units held by the market for borrowers")
    collateral_value_usd: float
    debt_usd: float = Field(description="debt of the positions using this collateral, pro rata by value")
    liquidation_density_usd: dict[str, float] = Field(
        description="collateral value of positions liquidatable after a fall of this asset's price by at most "
        "1/2/5/10 % (keys '1%', '2%', '5%', '10%'), positions already liquidatable included"
    )
    top10_share: float = Field(description="share of the asset's collateral held by its 10 largest holders")

    @property
    def price_usd(self) -> float:
        return self.price / 10**self.feed_decimals


class Position(BaseModel):
    """One borrower."""

    model_config = ConfigDict(frozen=True)

    account: str
    collateral: tuple[int, ...] = Field(description="token units per asset, in the snapshot's asset order")
    debt: int = Field(description="stable units")
    health_factor_wad: int = Field(description="as the market computes it; 2**256-1 without debt")

    @property
    def health_factor(self) -> float:
        return float("inf") if self.debt == 0 else self.health_factor_wad / WAD


class MarketTotals(BaseModel):
    """The market-wide figures every protocol reports: the stable it lends, its close factor, its books."""

    model_config = ConfigDict(frozen=True)

    stable: str
    stable_decimals: int
    close_factor_bps: int
    total_supplied: int
    total_debt: int
    bad_debt: int
    available_liquidity: int = Field(description="stable the market holds (what can still be borrowed)")


class SnapshotHeader(BaseModel):
    """Where and when a snapshot was read: chain, block, market and its governor."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    block_number: int
    block_timestamp: int
    base_fee_wei: int = Field(default=0, description="the block's base fee: the gas level liquidators face")
    market: str
    governor: str
    paused: bool


# pydantic orders inherited fields from the last base to the first: the header's, then the totals', then these,
# the order report.json has always had (so earlier reports re-render byte for byte)
class MarketSnapshot(MarketTotals, SnapshotHeader):
    """The whole market at one block."""

    utilisation: float = Field(description="total debt / total supplied")
    assets: tuple[AssetState, ...]
    positions: tuple[Position, ...]

    def asset(self, symbol: str) -> AssetState:
        """The asset called ``symbol``."""
        for a in self.assets:
            if a.symbol == symbol:
                return a
        raise KeyError(symbol)
