"""Adapter for our reference ``LendingMarket`` (contracts/market/LendingMarket.sol)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_abi import decode as abi_decode
from web3 import Web3

from oracle.chain.abi_fast import checksum_address, decode_uint_array_and_uint
from oracle.chain.adapters.base import RawAsset, RawMarket, RawPosition
from oracle.chain.multicall import Call, Multicall, make_call
from oracle.domain.params import BPS, RiskParams

WAD = 10**18
MAX_UINT = 2**256 - 1
_COLLATERAL_CONFIG = "(address,uint8,uint8,bool,(uint16,uint16,uint16))"


def _one(types: Sequence[str]) -> Any:
    def decode(data: bytes) -> Any:
        values = abi_decode(list(types), data)
        return values[0] if len(values) == 1 else values

    return decode


class NativeMarketAdapter:
    """Reads the reference market: one batch for market-wide state, one per asset, then the positions."""

    books_rounding_per_position = 0  # totals are kept as sums of the positions' amounts

    def __init__(self, address: str) -> None:
        self.address: str = Web3.to_checksum_address(address)

    def _call(
        self,
        signature: str,
        types: Sequence[str] = (),
        args: Sequence[object] = (),
        label: str = "",
        gas: int = 30_000,
        target: str | None = None,
    ) -> Call:
        return make_call(target or self.address, signature, types, args, label or signature, gas=gas)

    def read_market(self, mc: Multicall, block: int) -> RawMarket:
        head = [
            self._call("assets()"),
            self._call("borrowersCount()"),
            self._call("totalDebt()"),
            self._call("badDebt()"),
            self._call("totalSupplied()"),
            self._call("closeFactorBps()"),
            self._call("stable()"),
            self._call("stableDecimals()"),
        ]
        results = mc.run(head, block)
        assets = abi_decode(["address[]"], results[0].data)[0]
        borrowers, total_debt, bad_debt, supplied, close_factor = (
            abi_decode(["uint256"], r.data)[0] for r in results[1:6]
        )
        stable = abi_decode(["address"], results[6].data)[0]
        stable_decimals = abi_decode(["uint8"], results[7].data)[0]

        per_asset: list[Call] = [
            self._call("balanceOf(address)", ["address"], [self.address], "stable.balanceOf(market)", target=stable)
        ]
        for a in assets:
            per_asset += [
                self._call("collateralConfig(address)", ["address"], [a], f"collateralConfig({a})"),
                self._call("totalCollateral(address)", ["address"], [a], f"totalCollateral({a})"),
                self._call("symbol()", label=f"{a}.symbol()", target=a),
                self._call("decimals()", label=f"{a}.decimals()", target=a),
            ]
        res = mc.run(per_asset, block)
        cash = abi_decode(["uint256"], res[0].data)[0]
        raw_assets = []
        for i, a in enumerate(assets):
            cfg, total, symbol, decimals = res[1 + 4 * i : 5 + 4 * i]
            feed, token_dec, feed_dec, _listed, params = abi_decode([_COLLATERAL_CONFIG], cfg.data)[0]
            raw_assets.append(
                RawAsset(
                    address=Web3.to_checksum_address(a),
                    symbol=abi_decode(["string"], symbol.data)[0],
                    token_decimals=abi_decode(["uint8"], decimals.data)[0],
                    recorded_token_decimals=token_dec,
                    feed=Web3.to_checksum_address(feed),
                    recorded_feed_decimals=feed_dec,
                    params=RiskParams.from_tuple(params),
                    total_collateral=abi_decode(["uint256"], total.data)[0],
                )
            )
        return RawMarket(
            stable=Web3.to_checksum_address(stable),
            stable_decimals=stable_decimals,
            close_factor_bps=close_factor,
            total_supplied=supplied,
            total_debt=total_debt,
            bad_debt=bad_debt,
            available_liquidity=cash,
            borrowers=borrowers,
            assets=tuple(raw_assets),
        )

    def read_positions(self, mc: Multicall, block: int, market: RawMarket) -> tuple[RawPosition, ...]:
        n_assets = len(market.assets)
        accounts = [
            checksum_address(r.data[12:32])
            for r in mc.run(
                [
                    self._call("borrowerAt(uint256)", ["uint256"], [i], f"borrowerAt({i})", 8_000)
                    for i in range(market.borrowers)
                ],
                block,
            )
        ]
        # collateralOf x assets + debtOf: cold storage reads dominate the gas
        gas = 6_000 + 4_500 * n_assets
        results = mc.run(
            [self._call("positionOf(address)", ["address"], [a], f"positionOf({a})", gas) for a in accounts], block
        )
        return tuple(
            RawPosition(account=a, collateral=c, debt=d)
            for a, (c, d) in zip(accounts, (decode_uint_array_and_uint(r.data) for r in results), strict=True)
        )

    def health_factor_wad(self, market: RawMarket, prices: tuple[int, ...], position: RawPosition) -> int:
        """``LendingMarket.accountData``'s integer arithmetic, rounding included."""
        debt_value = position.debt * WAD // 10**market.stable_decimals
        if debt_value == 0:
            return MAX_UINT
        liquidation_value = 0
        for asset, price, amount in zip(market.assets, prices, position.collateral, strict=True):
            if amount == 0:
                continue
            value = amount * price * WAD // 10 ** (asset.recorded_token_decimals + asset.recorded_feed_decimals)
            liquidation_value += value * asset.params.liquidation_threshold // BPS
        return liquidation_value * WAD // debt_value
