"""The borrowers of a backtest: each holds a target share of its borrowing power and, if it is an active one,
returns to it once a day, borrowing more when prices have risen (or the LTV has) and repaying when they have fallen.

Why: a book that never re-levers is not the one a crisis meets. In a rally, borrowers draw on their new borrowing
power up to the LTV limit, and the next fall meets them at the edge; that is what the oracle's LTV and LT are for.
A static book only measures what the oracle's cuts cost, never what they protect.

Targets and activity are drawn per account from the task's seed (the same for every strategy: common random
numbers): a share ``active_share`` of accounts rebalance, to targets uniform in ``target_range``; the others never
act. A borrower acts only outside ``band`` of its target, borrows through ``LendingMarket.borrow`` from its own
account (anvil impersonates it) and repays through ``repay`` with outside money (the market's owner mints it), so
the contract's LTV limit and its liquidity apply exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from oracle.backtest.liquidator import FEED_DECIMALS, MarketState
from oracle.chain.adapters.base import RawPosition
from oracle.chain.tx import TxSender
from oracle.domain.params import BPS

BORROW_GAS = 400_000
MONEY = 10**30  # what the repaying owner may spend: unlimited for the test tokens


@dataclass(frozen=True)
class BorrowerPlan:
    account: str
    target: float  # debt / borrowing power it returns to
    active: bool


def plan_borrowers(
    positions: tuple[RawPosition, ...],
    seed: int,
    *,
    active_share: float,
    target_range: tuple[float, float] = (0.6, 0.97),
) -> dict[str, BorrowerPlan]:
    """One plan per account, from ``seed`` alone (the accounts' order is the market's enumeration order)."""
    rng = np.random.default_rng([seed, 16])
    active = rng.random(len(positions)) < active_share
    targets = rng.uniform(*target_range, size=len(positions))
    return {
        p.account: BorrowerPlan(p.account, float(t), bool(a))
        for p, t, a in zip(positions, targets, active, strict=True)
    }


@dataclass
class BorrowStep:
    borrowed_usd: float = 0.0
    repaid_usd: float = 0.0
    transactions: int = 0
    refused: int = 0  # borrows the market refused (LTV limit or liquidity at the block)


@dataclass
class BorrowerAgents:
    """The active borrowers of one market, acting on chain."""

    w3: Web3
    market: Contract
    owner: TxSender  # mints and repays on a borrower's behalf
    stable: Contract
    plans: dict[str, BorrowerPlan]
    band: float = 0.05
    poll_s: float = 0.002

    def prepare(self) -> None:
        """Let anvil send for every active borrower (gas money, impersonation) and the owner repay for them."""
        rpc = self.w3.provider.make_request
        rpc("anvil_autoImpersonateAccount", [True])  # type: ignore[arg-type]  # anvil's own method
        for plan in self.plans.values():
            if plan.active:
                rpc("anvil_setBalance", [plan.account, hex(10**21)])  # type: ignore[arg-type]  # anvil's own method
        self.owner.transact(self.stable.functions.approve(self.market.address, MONEY))

    def step(self, state: MarketState) -> BorrowStep:
        """Every active borrower outside its band returns to its target, at the block's feed prices and LTVs."""
        out = BorrowStep()
        assets = state.market.assets
        feed_usd = [p / 10**FEED_DECIMALS for p in state.prices]
        scale = 10**state.market.stable_decimals
        for p in state.positions:
            plan = self.plans.get(p.account)
            if plan is None or not plan.active:
                continue
            limit = sum(
                amount / 10**a.recorded_token_decimals * price * a.params.ltv / BPS
                for a, amount, price in zip(assets, p.collateral, feed_usd, strict=True)
            )
            if limit <= 0:
                continue
            debt = p.debt / scale
            gap = plan.target * limit - debt
            if abs(gap) <= self.band * limit or abs(gap) < 1.0:
                continue
            if gap > 0:
                fn = self.market.functions.borrow(int(gap * scale))
                try:
                    fn.call({"from": p.account})
                except ContractLogicError:
                    out.refused += 1
                    continue
                h = fn.transact({"from": p.account, "gas": BORROW_GAS})
                receipt = self.w3.eth.wait_for_transaction_receipt(h, poll_latency=self.poll_s)
                if receipt["status"] != 1:
                    out.refused += 1
                    out.transactions += 1
                    continue
                out.borrowed_usd += gap
            else:
                amount = int(-gap * scale)
                self.owner.transact(self.stable.functions.mint(self.owner.address, amount))
                self.owner.transact(self.market.functions.repay(p.account, amount))
                out.transactions += 1
                out.repaid_usd += -gap
            out.transactions += 1
        return out
