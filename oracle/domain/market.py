"""The market a policy describes: its stable, its collateral assets with their tokens, price sources, initial
parameters and bounds. ``risk-oracle demo`` / ``deploy`` build a local market from it; the keeper reads the
real one from the chain.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oracle.domain.params import AssetBounds, Bps, Param, RiskParams, linked_rules_hold
from oracle.errors import ConfigError


class TokenSpec(BaseModel):
    """An ERC-20 of the demo market."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    symbol: str
    name: str
    decimals: Annotated[int, Field(ge=0, le=36)]


class AssetSpec(TokenSpec):
    """A collateral asset: its token, where its price history comes from, initial parameters, bounds."""

    price_source: str = Field(description="asset key of the price history, e.g. 'eth' for eth_usd_1d.csv")
    params: RiskParams
    bounds: AssetBounds

    @model_validator(mode="after")
    def _params_inside_bounds(self) -> Self:
        for p in Param:
            b, v = self.bounds.get(p), self.params.get(p)
            if not b.min <= v <= b.max:
                raise ValueError(f"{self.symbol}: {p.name.lower()} {v} outside bounds [{b.min}, {b.max}]")
        if not linked_rules_hold(self.params):
            raise ValueError(f"{self.symbol}: initial parameters break LTV < LT or LT x (1 + LB) < 100 %")
        return self


class MarketSpec(BaseModel):
    """The demo market that ``risk-oracle demo`` / ``deploy`` create on a local chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stable: TokenSpec
    close_factor_bps: Bps = 5_000
    liquidity: Annotated[int, Field(gt=0, description="stable units (whole tokens) lenders supply")]
    assets: Annotated[list[AssetSpec], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique_symbols(self) -> Self:
        symbols = [a.symbol for a in self.assets]
        if len(set(symbols)) != len(symbols):
            raise ValueError(f"duplicate asset symbols: {symbols}")
        return self

    def asset(self, symbol: str) -> AssetSpec:
        """The asset called ``symbol``."""
        for a in self.assets:
            if a.symbol == symbol:
                return a
        raise ConfigError(f"no asset {symbol!r} in the market spec")
