"""Aave v3's reserve configuration bitmap (``Pool.getConfiguration(asset).data``), decoded.

Why: on an Aave market the risk parameters live in this one word, nowhere else; the risk target reads them from it
on chain, and off-chain code (tests, the future Aave adapter) must read exactly the same fields. Layout as in
``ReserveConfiguration.sol`` of the pinned ``@aave/core-v3`` (1.19.3).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from oracle.domain.params import RiskParams

BPS = 10_000


def _bits(data: int, start: int, width: int) -> int:
    return (data >> start) & ((1 << width) - 1)


class ReserveConfiguration(BaseModel):
    """The fields of one reserve's configuration bitmap. ``liquidation_bonus`` is Aave's stored 10000 + LB."""

    model_config = ConfigDict(frozen=True)

    data: int
    ltv: int
    liquidation_threshold: int
    liquidation_bonus: int
    decimals: int
    active: bool
    frozen: bool
    borrowing_enabled: bool
    stable_borrowing_enabled: bool
    paused: bool
    borrowable_in_isolation: bool
    siloed_borrowing: bool
    flashloan_enabled: bool
    reserve_factor: int
    borrow_cap: int
    supply_cap: int
    liquidation_protocol_fee: int
    emode_category: int
    unbacked_mint_cap: int
    debt_ceiling: int

    @classmethod
    def decode(cls, data: int) -> ReserveConfiguration:
        """Decode the bitmap word ``data``."""
        return cls(
            data=data,
            ltv=_bits(data, 0, 16),
            liquidation_threshold=_bits(data, 16, 16),
            liquidation_bonus=_bits(data, 32, 16),
            decimals=_bits(data, 48, 8),
            active=bool(_bits(data, 56, 1)),
            frozen=bool(_bits(data, 57, 1)),
            borrowing_enabled=bool(_bits(data, 58, 1)),
            stable_borrowing_enabled=bool(_bits(data, 59, 1)),
            paused=bool(_bits(data, 60, 1)),
            borrowable_in_isolation=bool(_bits(data, 61, 1)),
            siloed_borrowing=bool(_bits(data, 62, 1)),
            flashloan_enabled=bool(_bits(data, 63, 1)),
            reserve_factor=_bits(data, 64, 16),
            borrow_cap=_bits(data, 80, 36),
            supply_cap=_bits(data, 116, 36),
            liquidation_protocol_fee=_bits(data, 152, 16),
            emode_category=_bits(data, 168, 8),
            unbacked_mint_cap=_bits(data, 176, 36),
            debt_ceiling=_bits(data, 212, 40),
        )

    @property
    def is_collateral(self) -> bool:
        """Aave's reserve is collateral when its liquidation threshold is not 0."""
        return self.liquidation_threshold != 0

    def risk_params(self) -> RiskParams:
        """LTV, LT and LB (the bonus over repaid debt, ``liquidation_bonus - 10000``) in the oracle's terms."""
        return RiskParams(
            ltv=self.ltv,
            liquidation_threshold=self.liquidation_threshold,
            liquidation_bonus=max(self.liquidation_bonus - BPS, 0),
        )
