"""More of the keeper's fault matrix against a real anvil: a flaky or dead RPC behind a proxy, a transaction that
passes simulation but reverts on chain, a broken feed. Each checks the journal and that the chain holds only
in-bounds changes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from eth_account import Account
from web3 import Web3

from oracle.chain.governor import read_governed_asset
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender, contract_at
from oracle.devnet.anvil import ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import Deployment
from oracle.domain.params import RiskParams
from oracle.domain.policy import Policy
from oracle.execution.journal import Journal
from oracle.execution.submit import FeePolicy, Submitter
from oracle.policy.bounds import check_change
from tests.support.keeper import build_keeper, governed_params
from tests.support.rpc_proxy import RpcProxy

pytestmark = pytest.mark.anvil


def _assert_in_bounds(w3: Web3, d: Deployment, before: dict[str, RiskParams]) -> None:
    governor, market = d.governor_contract(w3), d.market_contract(w3)
    for a in d.assets:
        state = read_governed_asset(governor, market, a.token)
        if state.params != before[a.symbol]:
            assert state.bounds is not None
            assert check_change(a.token, before[a.symbol], state.params, state.bounds, (0, 0, 0), 0) is None


def test_dropped_rpc_requests_are_retried_and_the_cycle_completes(
    anvil: AnvilNode,
    w3: Web3,
    seeded: Deployment,
    policy: Policy,
    journal: Journal,
    tmp_path: Path,
    clean_chain: None,
) -> None:
    before = governed_params(w3, seeded)
    with RpcProxy(anvil.url) as proxy:
        flaky = make_web3(proxy.url, timeout_s=5)
        keeper = build_keeper(flaky, seeded, policy, journal, tmp_path / "reports")
        proxy.drop(3, after=5)  # three connections dropped early in the cycle
        result = keeper.run_cycle(dry_run=False)
        assert proxy.dropped == 3
    assert result.status == "done" and result.sent, result.detail
    assert len([a for a in journal.attempts() if a.status == "mined"]) == len(result.sent)
    _assert_in_bounds(w3, seeded, before)


def test_a_dead_rpc_mid_run_fails_the_cycle_and_the_next_one_recovers(
    anvil: AnvilNode,
    w3: Web3,
    seeded: Deployment,
    policy: Policy,
    journal: Journal,
    tmp_path: Path,
    clean_chain: None,
) -> None:
    before = governed_params(w3, seeded)
    with RpcProxy(anvil.url) as proxy:
        keeper = build_keeper(make_web3(proxy.url, timeout_s=2), seeded, policy, journal, tmp_path / "reports")
        proxy.drop(-1)  # the node is unreachable
        failed = keeper.run_cycle(dry_run=False)
        proxy.heal()
        recovered = keeper.run_cycle(dry_run=False)
    assert failed.status == "failed" and "RpcError" in failed.detail
    assert recovered.status == "done" and recovered.sent
    assert [c.status for c in journal.cycles()] == ["failed", "done"]
    _assert_in_bounds(w3, seeded, before)


def test_a_transaction_that_reverts_on_chain_is_journaled_and_changes_nothing(
    w3: Web3, seeded: Deployment, journal: Journal, guardian: TxSender, clean_chain: None
) -> None:
    token = seeded.asset("WETH").token
    before = governed_params(w3, seeded)
    submitter = Submitter(
        w3,
        Account.from_key(ANVIL_KEEPER_KEY),
        seeded.governor_contract(w3),
        journal,
        FeePolicy(poll_s=0.05, receipt_timeout_s=30, priority_fee_gwei=1),
    )
    cycle = journal.start_cycle(dry_run=False)
    head = w3.eth.get_block("latest")
    outcome = {}
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:

        def submit() -> None:
            outcome["value"] = submitter.submit(
                cycle_id=cycle,
                symbol="WETH",
                asset=token,
                params=RiskParams(ltv=7800, liquidation_threshold=8250, liquidation_bonus=550),
                report_hash=b"\x09" * 32,
                valid_until=head["timestamp"] + 3600,
                block=head["number"],
            )

        thread = threading.Thread(target=submit)
        thread.start()
        deadline = time.monotonic() + 30
        while not [a for a in journal.attempts() if a.status == "sent"] and time.monotonic() < deadline:
            time.sleep(0.05)
        # the guardian pauses with a higher tip: its transaction is mined first, ours then reverts
        pause = (
            seeded.governor_contract(w3)
            .functions.pause()
            .build_transaction(
                {
                    "from": guardian.address,
                    "nonce": w3.eth.get_transaction_count(guardian.address, "pending"),
                    "maxPriorityFeePerGas": 50 * 10**9,
                    "maxFeePerGas": 100 * 10**9,
                    "gas": 100_000,
                }
            )
        )
        w3.eth.send_raw_transaction(guardian.account.sign_transaction(pause).raw_transaction)
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        thread.join(timeout=30)
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    result = outcome["value"]
    assert not result.applied and result.reason == "reverted on chain"
    (attempt,) = journal.attempts()
    assert attempt.status == "reverted" and attempt.gas_used
    assert seeded.governor_contract(w3).functions.paused().call()
    assert governed_params(w3, seeded) == before


def test_a_broken_feed_stops_the_cycle_with_its_reason(
    w3: Web3,
    seeded: Deployment,
    policy: Policy,
    journal: Journal,
    tmp_path: Path,
    owner: TxSender,
    clean_chain: None,
) -> None:
    feed = contract_at(w3, "PriceFeed", seeded.asset("LINK").feed)
    owner.transact(feed.functions.updateAnswer(0))  # a zero answer: a broken or NaN price upstream
    before = governed_params(w3, seeded)
    result = build_keeper(w3, seeded, policy, journal, tmp_path / "reports").run_cycle(dry_run=False)
    assert result.status == "failed" and "SnapshotError" in result.detail and "LINK" in result.detail
    assert journal.attempts() == [] and governed_params(w3, seeded) == before
