"""The liquidators of a backtest: an agent that reads the market on chain every step and calls
``LendingMarket.liquidate`` on what is worth liquidating, within the capacity real liquidators have.

Why an agent on chain and not the cascade simulator: a backtest must show what the *contracts* do with the
parameters the keeper sent, so the liquidations are real transactions and the contract's own rules (close factor,
full close below HF 0.95, seizure rounding, bad debt on an emptied position) apply exactly. What the agent adds is
the behaviour the contracts cannot know, with the policy's fitted terms (``[risk.liquidators]``):

- **profit after gas and slippage**: the bonus it earns on the seized collateral, valued at the *market* price
  (the feed may lag it), must exceed the gas of the call (the day's real gas price × ``liquidation_gas`` ×
  ETH's price) and the loss of selling the collateral into a constant-product pool of the policy's depth
  (selling ``x`` of depth ``D`` returns ``D·x / (D + x)``);
- **capacity**: per hour and asset, it seizes at most ``capacity_share`` × the pool's depth;
- **profitable chunks**: a position too large to sell at a profit at once is liquidated in chunks of the size
  that earns most (:func:`best_chunk`), while a chunk still pays; every liquidation of a step sells into the same
  pool, which arbitrage restores by the next hour (the market price is history's);
- **worst first**: positions are taken in order of health factor, on the collateral the position holds most of
  (by value), at most ``max_calls`` calls per position and step (a liquidator's latency).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict
from web3.contract import Contract
from web3.logs import DISCARD

from oracle.chain.adapters.base import RawMarket, RawPosition
from oracle.chain.adapters.native import WAD, NativeMarketAdapter
from oracle.chain.multicall import Multicall, make_call
from oracle.chain.tx import TxSender
from oracle.domain.params import BPS
from oracle.errors import ContractRevert, ExecutionError

FEED_DECIMALS = 8


class MarketState(BaseModel):
    """What the chain holds at one block: the market, every position, each asset's feed price (raw answer)."""

    model_config = ConfigDict(frozen=True)

    block: int
    market: RawMarket
    positions: tuple[RawPosition, ...]
    prices: tuple[int, ...]  # feed answers, in the market's asset order


def read_state(adapter: NativeMarketAdapter, mc: Multicall, block: int) -> MarketState:
    """The market, its positions and its feed prices at ``block``, in batched calls pinned to it."""
    market = adapter.read_market(mc, block)
    positions = adapter.read_positions(mc, block, market)
    calls = [
        make_call(adapter.address, "priceOf(address)", ["address"], [a.address], f"priceOf({a.symbol})")
        for a in market.assets
    ]
    prices = tuple(int.from_bytes(r.data[:32], "big") for r in mc.run(calls, block))
    return MarketState(block=block, market=market, positions=positions, prices=prices)


def collateral_usd(state: MarketState, position: RawPosition, prices_usd: Sequence[float]) -> float:
    """The position's collateral at ``prices_usd`` (one per asset)."""
    return sum(
        amount / 10**a.recorded_token_decimals * p
        for a, amount, p in zip(state.market.assets, position.collateral, prices_usd, strict=True)
    )


def debt_usd(state: MarketState, position: RawPosition) -> float:
    return position.debt / 10**state.market.stable_decimals


@dataclass
class Liquidation:
    """One liquidation call that landed."""

    account: str
    asset: str  # symbol
    repaid_usd: float
    seized_usd: float  # at the market price
    bonus_usd: float  # the borrower's penalty: collateral taken (market price) less the debt repaid
    gas_used: int


@dataclass
class LiquidationStep:
    """What the liquidators did in one step."""

    liquidations: list[Liquidation] = field(default_factory=list)
    unprofitable: int = 0  # liquidatable positions left alone: gas and slippage exceed the bonus
    over_capacity: int = 0  # liquidatable positions left for a later step: the hour's capacity is used up
    reverted: int = 0


def pool_cost(sold: float, depth: float) -> float:
    """What selling ``sold`` (USD at the market price) into a constant-product pool with ``depth`` USD a side loses
    against the market price: it returns ``depth·sold / (depth + sold)``."""
    return sold * sold / (depth + sold)


def best_chunk(bonus_share: float, depth: float, sold: float) -> float:
    """The sale (USD) that maximises ``s·b - (cost(sold + s) - cost(sold))`` after ``sold`` has already gone into
    the pool this step: where the pool's marginal loss reaches the bonus, ``(depth + sold + s)² = depth² / (1 - b)``."""
    return max(0.0, depth / (1 - bonus_share) ** 0.5 - depth - sold)


@dataclass
class LiquidatorAgent:
    """Liquidates on ``market`` from ``sender``, who holds enough stable and has approved the market."""

    market: Contract
    sender: TxSender
    capacity_share: float  # per hour and asset, of the pool's depth
    depth_usd: dict[str, float]  # per asset symbol
    liquidation_gas: int
    step_h: float = 1.0
    max_calls: int = 8  # per position and step: a liquidator's latency

    def step(self, state: MarketState, market_usd: Sequence[float], gas_gwei: float, eth_usd: float) -> LiquidationStep:
        """Liquidate what is liquidatable in ``state`` (the feed's view), judged at the market's prices: per
        position, worst first, chunks of the most profitable size on the collateral it holds most of, while a
        chunk still pays for its gas and its pool's loss (the pool is shared by every liquidation of the step)."""
        out = LiquidationStep()
        assets = state.market.assets
        hf_of = NativeMarketAdapter(self.market.address).health_factor_wad
        unhealthy = sorted(
            ((hf, p) for p in state.positions if p.debt > 0 and (hf := hf_of(state.market, state.prices, p)) < WAD),
            key=lambda x: x[0],
        )
        if not unhealthy:
            return out
        gas_usd = gas_gwei * 1e-9 * self.liquidation_gas * eth_usd
        capacity = {a.symbol: self.capacity_share * self.step_h * self.depth_usd[a.symbol] for a in assets}
        sold = {a.symbol: 0.0 for a in assets}
        feed_usd = [p / 10**FEED_DECIMALS for p in state.prices]
        cf = state.market.close_factor_bps / BPS
        scale = 10**state.market.stable_decimals
        for hf, position in unhealthy:
            for _ in range(self.max_calls):
                if position.debt == 0 or hf >= WAD:
                    break
                values = [
                    amount / 10**a.recorded_token_decimals * feed_usd[k]
                    for k, (a, amount) in enumerate(zip(assets, position.collateral, strict=True))
                ]
                i = max(range(len(assets)), key=lambda k: values[k])
                asset, lb = assets[i], assets[i].params.liquidation_bonus / BPS
                if values[i] <= 0:
                    break
                to_market = market_usd[i] / feed_usd[i]
                debt = position.debt / scale
                closable = debt if hf < 95 * WAD // 100 else debt * cf
                depth = self.depth_usd[asset.symbol]
                chunk = best_chunk(lb / (1 + lb), depth, sold[asset.symbol])  # market USD of collateral
                seized_feed = min(closable * (1 + lb), values[i], capacity[asset.symbol], chunk / to_market)
                if seized_feed < 1.0:
                    out.over_capacity += capacity[asset.symbol] < 1.0 or chunk < 1.0
                    break
                repay = seized_feed / (1 + lb)
                seized = seized_feed * to_market
                loss = pool_cost(sold[asset.symbol] + seized, depth) - pool_cost(sold[asset.symbol], depth)
                if seized - repay - loss - gas_usd <= 0:
                    out.unprofitable += 1
                    break
                try:
                    receipt = self.sender.transact(
                        self.market.functions.liquidate(position.account, asset.address, int(repay * scale))
                    )
                except (ContractRevert, ExecutionError):
                    self.sender.resync_nonce()
                    out.reverted += 1
                    break
                repaid, taken = _liquidated(self.market, receipt)
                capacity[asset.symbol] -= seized_feed
                sold[asset.symbol] += seized
                collateral = list(position.collateral)
                collateral[i] -= taken
                position = position.model_copy(
                    update={"debt": max(0, position.debt - repaid), "collateral": tuple(collateral)}
                )
                hf = hf_of(state.market, state.prices, position)
                taken_usd = taken / 10**asset.recorded_token_decimals * market_usd[i]
                out.liquidations.append(
                    Liquidation(
                        account=position.account,
                        asset=asset.symbol,
                        repaid_usd=repaid / scale,
                        seized_usd=taken_usd,
                        bonus_usd=taken_usd - repaid / scale,
                        gas_used=int(receipt["gasUsed"]),
                    )
                )
        return out


def _liquidated(market: Contract, receipt: Any) -> tuple[int, int]:
    """``(repaid, seized)`` of the ``Liquidated`` event in ``receipt`` (the contract's own rounding)."""
    (event,) = market.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    return int(event["args"]["repaid"]), int(event["args"]["seized"])
