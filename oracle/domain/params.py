"""The three risk parameters and their bounds, as pydantic models mirroring the contract's structs, and the linked
rules every parameter set must obey.

Units are basis points (``int``) everywhere, as on chain; a float never crosses this boundary.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import IntEnum
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

BPS = 10_000

Bps = Annotated[int, Field(ge=0, le=BPS, description="basis points, 10_000 = 100 %")]
LastChanged = tuple[int, int, int]
"""When each parameter (LTV, LT, LB) last changed on the governor, unix seconds (0 = never)."""


class Param(IntEnum):
    """Index of each parameter, as in the contract's ``ParamBounds[3]`` and error arguments."""

    LTV = 0
    LIQUIDATION_THRESHOLD = 1
    LIQUIDATION_BONUS = 2

    @property
    def label(self) -> str:
        """Short name used in tables and reports: LTV, LT, LB."""
        return ("LTV", "LT", "LB")[self]


class RiskParams(BaseModel):
    """Risk parameters of one collateral asset (the contract's ``RiskParams`` struct)."""

    model_config = ConfigDict(frozen=True)

    ltv: Bps
    liquidation_threshold: Bps
    liquidation_bonus: Bps

    def get(self, p: Param) -> int:
        """The parameter at index ``p``."""
        return (self.ltv, self.liquidation_threshold, self.liquidation_bonus)[p]

    def as_tuple(self) -> tuple[int, int, int]:
        """ABI encoding order: (ltv, liquidationThreshold, liquidationBonus)."""
        return (self.ltv, self.liquidation_threshold, self.liquidation_bonus)

    @classmethod
    def from_tuple(cls, values: tuple[int, int, int] | list[int] | Mapping[str, int]) -> RiskParams:
        """From the ABI value of the struct: a tuple (call results) or a dict by field name (event args)."""
        if isinstance(values, Mapping):
            values = (values["ltv"], values["liquidationThreshold"], values["liquidationBonus"])
        ltv, lt, lb = values
        return cls(ltv=ltv, liquidation_threshold=lt, liquidation_bonus=lb)


class ParamBounds(BaseModel):
    """Bounds of one parameter (the contract's ``ParamBounds`` struct).

    Steps are absolute basis points of the parameter per change, one limit per direction, so that
    de-risking can be fast while loosening is slow.
    """

    model_config = ConfigDict(frozen=True)

    min: Bps
    max: Bps
    max_increase_bps: Annotated[int, Field(ge=0, lt=2**16)]
    max_decrease_bps: Annotated[int, Field(ge=0, lt=2**16)]
    min_delay_s: Annotated[int, Field(ge=0, lt=2**32)]

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Self:
        if self.min > self.max:
            raise ValueError(f"min {self.min} > max {self.max}")
        return self

    def as_tuple(self) -> tuple[int, int, int, int, int]:
        """ABI encoding order of the struct."""
        return (self.min, self.max, self.max_increase_bps, self.max_decrease_bps, self.min_delay_s)

    @classmethod
    def from_tuple(cls, values: tuple[int, ...] | list[int]) -> ParamBounds:
        """From the ABI tuple a contract call returns."""
        lo, hi, inc, dec, delay = values
        return cls(min=lo, max=hi, max_increase_bps=inc, max_decrease_bps=dec, min_delay_s=delay)


class AssetBounds(BaseModel):
    """Bounds of the three parameters of one asset (the contract's ``ParamBounds[3]``)."""

    model_config = ConfigDict(frozen=True)

    ltv: ParamBounds
    liquidation_threshold: ParamBounds
    liquidation_bonus: ParamBounds

    def get(self, p: Param) -> ParamBounds:
        """Bounds of the parameter at index ``p``."""
        return (self.ltv, self.liquidation_threshold, self.liquidation_bonus)[p]

    def as_tuple(self) -> list[tuple[int, int, int, int, int]]:
        """ABI encoding of ``ParamBounds[3]``."""
        return [b.as_tuple() for b in (self.ltv, self.liquidation_threshold, self.liquidation_bonus)]

    @classmethod
    def from_tuple(cls, values: list[tuple[int, ...]] | tuple[tuple[int, ...], ...]) -> AssetBounds:
        """From the ABI value a contract call returns."""
        ltv, lt, lb = (ParamBounds.from_tuple(v) for v in values)
        return cls(ltv=ltv, liquidation_threshold=lt, liquidation_bonus=lb)


def linked_rules_hold(params: RiskParams) -> bool:
    """``LTV < LT`` and ``LT x (1 + LB) < 100 %`` (a liquidation cannot create bad debt by construction)."""
    return (
        params.ltv < params.liquidation_threshold
        and params.liquidation_threshold * (BPS + params.liquidation_bonus) < BPS * BPS
    )
