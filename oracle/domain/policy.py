"""A policy file (``policies/*.toml``) as a value: what the oracle may do to a market (bounds, update lifetime),
what makes a snapshot trustworthy, the risk appetite, and the market's definition. Loading it from disk is
``oracle.config.load_policy``'s job; everything else only reads this object.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from oracle.domain.appetite import RiskAppetite
from oracle.domain.fields import unset
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


class ManipulationGuard(BaseModel):
    """When a liquidation-threshold cut may follow a price jump (``[manipulation_guard]`` in the policy file).

    Why: a single feed round far from the last ones (a manipulated or broken source that stays under
    ``snapshot.max_round_jump``) raises the volatility forecast at once, and through it the recommendation would cut
    LT, which liquidates borrowers at once: what someone who wants positions liquidated would do. Cutting LTV only
    limits new borrowing, so LTV (and LB) moves are never held back. An LT cut may go only as deep as the
    *confirmed* price history supports: each round at most ``jump_ratio`` from the median of its trailing window
    (at least ``confirm_rounds`` rounds spanning at least ``confirm_s``) stands, a farther one (a jump) is replaced
    by that median, so a jump counts only once more than half of its window shows it (``oracle.data.confirm``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    confirm_rounds: int = Field(ge=2, le=1000, description="rounds a jump's confirmation window holds at least")
    confirm_s: int = Field(ge=0, description="seconds a jump's confirmation window spans at least")
    jump_ratio: float = Field(
        gt=1.0, description="a round farther than this ratio (either direction) from its window's median is a jump"
    )

    @property
    def binding(self) -> str:
        """How a held LT cut is labelled in the bounded update's clamps (the report's "binding limit")."""
        return f"manipulation guard: move not yet confirmed over {self.confirm_rounds} rounds / {_span(self.confirm_s)}"


class StressHold(BaseModel):
    """When LTV and LT may rise (and LB fall): only in calm (``[stress_hold]`` in the policy file).

    Why: in a crisis (June 2022, σ 5-9 % a day) a recommendation fitted to the recent market can still ask for
    a higher LT, and the governor would let it rise by its ``max_increase_bps``; loosening is what a lender must
    never do while prices crash. So a loosening move (LTV up, LT up, LB down) is held at the current value while
    any of these holds, per asset (``oracle.policy.stress``): the forecast's regime label is at least
    ``regime_at_least`` (unknown, as with the EWMA fallback, counts as stressed); the cycle's forecast σ is above
    the median of the RiskMetrics EWMA σ (λ 0.94) over the last ``median_days`` days of the feed's daily candles
    (fewer when the snapshot carries fewer); a day of the last ``breach_days`` fell below its one-day VaR99
    (the EWMA σ known the day before x the normal 99 % quantile); with ``drawdown_max``, the latest close is more
    than that share below the highest close of the last ``drawdown_days`` days (a bear market: the σ rules let a
    quiet week between two crashes count as calm, as in June 2022 between Terra and 3AC). Cuts (LTV down, LT
    down, LB up) are never held.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    regime_at_least: float = Field(
        gt=0, le=1, description="a regime label at least this (0 calm, 0.5, 1 stressed) holds loosening"
    )
    median_days: int = Field(
        ge=1, le=10_000, description="days of daily EWMA σ whose median the forecast σ must not exceed"
    )
    breach_days: int = Field(
        ge=0, le=10_000, description="days after a VaR99 breach during which nothing loosens (0: rule off)"
    )
    # optional, and left out of the JSON when unset, so that the policies embedded in earlier reports re-serialise
    # as written (they had no drawdown rule; `verify` re-runs them without one)
    drawdown_max: float | None = Field(
        default=None,
        gt=0,
        lt=1,
        exclude_if=unset,
        description="a close this far below the highest close of the last drawdown_days days holds loosening",
    )
    drawdown_days: int | None = Field(
        default=None, ge=1, le=10_000, exclude_if=unset, description="days of closes the drawdown's high is over"
    )

    @model_validator(mode="after")
    def _drawdown_pair(self) -> Self:
        if (self.drawdown_max is None) != (self.drawdown_days is None):
            raise ValueError("stress_hold: drawdown_max and drawdown_days go together (set both or neither)")
        return self


def _span(seconds: int) -> str:
    """``3600`` -> ``1 h``, ``5400`` -> ``90 min``, ``45`` -> ``45 s``."""
    if seconds and seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds and seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


class Policy(BaseModel):
    """A policy file (``policies/*.toml``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    source: Path | None = Field(default=None, exclude=True, description="the file it was loaded from")
    update: UpdatePolicy
    snapshot: SnapshotPolicy
    risk: RiskAppetite
    market: MarketSpec
    # Absent = disabled: the policies embedded in earlier report.json files have no such section, and
    # `risk-oracle verify` must re-run them to the same result; left out of the JSON when unset, so that those
    # reports re-serialise (and hash) byte for byte.
    manipulation_guard: ManipulationGuard | None = Field(
        default=None, exclude_if=unset, description="holds LT cuts back until a price jump is confirmed"
    )
    # Absent = disabled, for the same reason as the guard.
    stress_hold: StressHold | None = Field(
        default=None,
        exclude_if=unset,
        description="holds LTV / LT rises and LB cuts back while the market is stressed",
    )

    @model_validator(mode="after")
    def _depth_for_every_asset(self) -> Self:
        missing = {a.symbol for a in self.market.assets} - set(self.risk.depth_usd)
        if missing:
            raise ValueError(f"risk.depth_usd has no depth for {sorted(missing)}")
        return self
