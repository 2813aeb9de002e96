"""Seeding gives a market with a realistic spread of health factors, readable through the enumerable API; the
storage method builds exactly the market the transaction method builds."""

from __future__ import annotations

import pytest
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender, contract_at
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, AnvilNode
from oracle.devnet.deploy import Deployment, deploy_market
from oracle.devnet.seed import borrower_address, seed_positions
from oracle.domain.policy import Policy

pytestmark = pytest.mark.anvil


@pytest.mark.usefixtures("clean_chain")
def test_seed_spread_and_books(w3: Web3, deployment: Deployment, owner: TxSender) -> None:
    summary = seed_positions(w3, deployment, 120, seed=3)
    market = deployment.market_contract(w3)
    assert market.functions.borrowersCount().call() == 120
    assert {market.functions.borrowerAt(i).call() for i in range(120)} == {borrower_address(3, i) for i in range(120)}
    assert market.functions.totalDebt().call() == summary.total_debt
    hfs = []
    for i in range(120):
        who = market.functions.borrowerAt(i).call()
        collateral, debt = market.functions.positionOf(who).call()
        assert sum(collateral) > 0
        if debt:
            hfs.append(market.functions.healthFactor(who).call() / 1e18)
    assert len(hfs) == summary.with_debt
    assert all(h >= 1.0 for h in hfs), "seeded positions start healthy"
    near = sum(h < 1.15 for h in hfs)
    assert near == summary.near_liquidation and 5 <= near <= 40
    assert sum(h > 1.3 for h in hfs) > len(hfs) / 2, "most positions are comfortably healthy"
    # the owner's signed transactions still work after seeding (its nonce is taken from the node)
    owner.resync_nonce()
    owner.transact(market.functions.setCloseFactor(6000))


def test_storage_seeding_equals_transaction_seeding(policy: Policy) -> None:
    snapshots = []
    for method in ("transactions", "storage"):
        with AnvilNode() as node:
            w3 = make_web3(node.url)
            sender = TxSender(w3, ANVIL_DEFAULT_KEY)
            d = deploy_market(
                w3,
                sender,
                policy.market,
                keeper=sender.address,
                guardian=sender.address,
                price_history=load_demo_rounds(),
            )
            seed_positions(w3, d, 150, seed=11, method=method)
            source = ChainSource(w3, NativeMarketAdapter(d.market), d.governor, d.multicall, policy.snapshot)
            snapshots.append(read_snapshot(source))
            # either way the market works as usual: a seeded borrower repays its debt and takes its collateral back
            market, stable = d.market_contract(w3), contract_at(w3, "TestToken", d.stable)
            who = next(p for p in snapshots[-1].positions if p.debt)
            w3.provider.make_request("anvil_impersonateAccount", [who.account])
            stable.functions.approve(d.market, who.debt).transact({"from": who.account})
            market.functions.repay(who.account, who.debt).transact({"from": who.account})
            k = next(i for i, c in enumerate(who.collateral) if c)
            market.functions.withdraw(d.assets[k].token, who.collateral[k]).transact({"from": who.account})
            assert market.functions.positionOf(who.account).call()[1] == 0
    by_tx, by_storage = snapshots
    assert sorted(by_tx.positions, key=lambda p: p.account) == sorted(by_storage.positions, key=lambda p: p.account)
    assert by_tx.total_debt == by_storage.total_debt
    assert by_tx.available_liquidity == by_storage.available_liquidity
    assert [a.total_collateral for a in by_tx.assets] == [a.total_collateral for a in by_storage.assets]
    assert [a.liquidation_density_usd for a in by_tx.assets] == [a.liquidation_density_usd for a in by_storage.assets]
