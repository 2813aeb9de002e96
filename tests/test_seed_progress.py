"""Seeding reports its progress through a plain callback (the CLI draws it with rich), and refuses, before sending
anything, more positions than the market can lend to (it used to fail at the first unfunded borrow, minutes in)."""

from __future__ import annotations

import pytest
from web3 import Web3

from oracle.devnet.deploy import Deployment
from oracle.devnet.seed import SeedMethod, seed_positions
from oracle.errors import ExecutionError

pytestmark = pytest.mark.anvil

FITS_DEFAULT_MARKET = 1032  # positions (seed 7) whose debt the default policy's 50M USDS of liquidity can fund


@pytest.mark.usefixtures("clean_chain")
@pytest.mark.parametrize("method", ["transactions", "storage"])
def test_progress_rises_to_its_total(w3: Web3, deployment: Deployment, method: SeedMethod) -> None:
    calls: list[tuple[int, int]] = []
    summary = seed_positions(w3, deployment, 60, seed=5, method=method, progress=lambda d, t: calls.append((d, t)))
    (total,) = {t for _d, t in calls}
    done = [d for d, _t in calls]
    assert done[0] == 0 and done[-1] == total and done == sorted(done)
    # transactions: each one encoded, sent, mined and checked, and a gas-money balance per position; storage: each slot
    # written, and the balances
    per_request = 4 if method == "transactions" else 1
    assert total == per_request * summary.requests + summary.positions
    # a call per batch and (transactions) per mined block: at least send, mine, check for each of the 4 phases
    assert len(calls) > (12 if method == "transactions" else 2)


@pytest.mark.usefixtures("clean_chain")
@pytest.mark.parametrize("method", ["transactions", "storage"])
def test_more_positions_than_the_market_can_fund_are_refused_up_front(
    w3: Web3, deployment: Deployment, method: SeedMethod
) -> None:
    market = deployment.market_contract(w3)
    block = w3.eth.block_number
    calls: list[tuple[int, int]] = []
    with pytest.raises(ExecutionError, match=rf"at most {FITS_DEFAULT_MARKET} positions fit this market"):
        seed_positions(w3, deployment, 2000, method=method, progress=lambda d, t: calls.append((d, t)))
    assert calls == [] and w3.eth.block_number == block and market.functions.borrowersCount().call() == 0
