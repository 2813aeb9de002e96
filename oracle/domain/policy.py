"""A policy file (``policies/*.toml``) as a value: what the oracle may do to a market (bounds, update lifetime),
what makes a snapshot trustworthy, the risk appetite, and the market's definition. Loading it from disk is
``oracle.config.load_policy``'s job; everything else only reads this object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oracle.domain.appetite import RiskAppetite
from oracle.domain.market import MarketSpec


class SnapshotPolicy(BaseModel):
    """What makes a snapshot trustworthy enough to act on (``[snapshot]`` in the policy file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_feed_age_s: int = Field(gt=0, description="a feed older than this is stale")
    max_round_jump: float = Field(
        gt=1.0, description="largest ratio between consecutive rounds (either direction) a feed may show"
    )
    history_rounds: int = Field(ge=2, le=10_000, description="feed rounds of price history to read")


class UpdatePolicy(BaseModel):
    """How the keeper submits."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    valid_for_s: Annotated[int, Field(gt=0, description="lifetime of a submitted update (validUntil - now)")]
    min_change_bps: Annotated[int, Field(ge=0, le=1000, description="smaller moves are not made (hysteresis)")] = 0


class Policy(BaseModel):
    """A policy file (``policies/*.toml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: Path | None = Field(default=None, exclude=True, description="the file it was loaded from")
    update: UpdatePolicy
    snapshot: SnapshotPolicy
    risk: RiskAppetite
    market: MarketSpec

    @model_validator(mode="after")
    def _depth_for_every_asset(self) -> Self:
        missing = {a.symbol for a in self.market.assets} - set(self.risk.depth_usd)
        if missing:
            raise ValueError(f"risk.depth_usd has no depth for {sorted(missing)}")
        return self
