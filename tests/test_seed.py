"""Seeding gives a market with a realistic spread of health factors, readable through the enumerable API."""

from __future__ import annotations

import pytest
from web3 import Web3

from oracle.chain.deploy import Deployment
from oracle.chain.seed import borrower_address, seed_positions
from oracle.chain.tx import TxSender

pytestmark = pytest.mark.usefixtures("clean_chain")


def test_seed_spread_and_books(w3: Web3, deployment: Deployment, owner: TxSender) -> None:
    summary = seed_positions(w3, deployment, 120, seed=3)
    market = deployment.market_contract(w3)
    assert market.functions.borrowersCount().call() == 120
    assert market.functions.borrowerAt(0).call() == borrower_address(3, 0)
    assert market.functions.totalDebt().call() == summary.total_debt
    hfs = []
    for i in range(120):
        who = market.functions.borrowerAt(i).call()
        collateral, debt = market.functions.positionOf(who).call()
        assert sum(collateral) > 0
        hf = market.functions.healthFactor(who).call() / 1e18
        if debt:
            hfs.append(hf)
    assert len(hfs) == summary.with_debt
    assert all(h >= 1.0 for h in hfs), "seeded positions start healthy"
    near = sum(h < 1.15 for h in hfs)
    assert near == summary.near_liquidation and 5 <= near <= 40
    assert sum(h > 1.3 for h in hfs) > len(hfs) / 2, "most positions are comfortably healthy"
    # the owner's signed transactions still work after seeding (its nonce is taken from the node)
    owner.resync_nonce()
    owner.transact(market.functions.setCloseFactor(6000))
