"""Anvil stopped in the middle of a cycle and restarted from its state file: the interrupted cycle is journaled as
failed, nothing is lost or sent twice, and the next cycle carries on from the restored chain."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from eth_account import Account

from oracle.chain.governor import read_governed_asset
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import deploy_market
from oracle.devnet.seed import seed_positions
from oracle.domain.policy import Policy
from oracle.execution.journal import Journal
from tests.support.keeper import build_keeper
from tests.support.rpc_proxy import RpcProxy

pytestmark = pytest.mark.anvil


def test_node_killed_mid_cycle_and_restarted(policy: Policy, tmp_path: Path) -> None:
    state = tmp_path / "anvil-state.json"
    first = AnvilNode(extra_args=["--state", str(state)]).start()
    try:
        w3 = make_web3(first.url, timeout_s=30)
        d = deploy_market(
            w3,
            TxSender(w3, ANVIL_DEFAULT_KEY),
            policy.market,
            keeper=Account.from_key(ANVIL_KEEPER_KEY).address,
            guardian=Account.from_key(ANVIL_GUARDIAN_KEY).address,
            price_history=load_demo_rounds(),
        )
        seed_positions(w3, d, 120, method="storage")
        proxy = RpcProxy(first.url).__enter__()
        via = make_web3(proxy.url, timeout_s=2)
        journal = Journal(tmp_path / "journal.sqlite")
        keeper = build_keeper(via, d, policy, journal, tmp_path / "r")
        sent = keeper.run_cycle(dry_run=False)
        assert sent.status == "done" and sent.sent
        after_first = {
            a.symbol: read_governed_asset(d.governor_contract(w3), d.market_contract(w3), a.token).params
            for a in d.assets
        }

        # the node goes away while the next cycle is reading the chain
        outcome = {}
        thread = threading.Thread(target=lambda: outcome.setdefault("r", keeper.run_cycle(dry_run=False)))
        start_requests = proxy.requests
        thread.start()
        while proxy.requests < start_requests + 3:
            time.sleep(0.005)
        first.stop()  # SIGTERM: anvil writes its state file on the way out
        thread.join(timeout=120)
        interrupted = outcome["r"]
        assert interrupted.status == "failed" and "RpcError" in interrupted.detail
    finally:
        first.stop()

    with AnvilNode(extra_args=["--state", str(state)]) as second:
        proxy.upstream = second.url  # same URL for the keeper: the proxy now points at the restarted node
        w3 = make_web3(second.url, timeout_s=30)
        restored = {
            a.symbol: read_governed_asset(d.governor_contract(w3), d.market_contract(w3), a.token).params
            for a in d.assets
        }
        assert restored == after_first, "the restarted node has the chain as it was"
        resumed = keeper.run_cycle(dry_run=False)
        assert resumed.status == "done", resumed.detail
        assert resumed.sent == {}  # min delays: what the first cycle sent is not sent again
        proxy.__exit__(None, None, None)
    assert [c.status for c in journal.cycles()] == ["done", "failed", "done"]
    mined = [a for a in journal.attempts() if a.status == "mined"]
    assert sorted(a.symbol for a in mined) == sorted(sent.sent) and all(a.cycle_id == 1 for a in mined)
    journal.close()
