"""The submitter against a real anvil: lands once, replaces a stuck transaction, survives a crash between send and
journal write without double-submitting, notices a nonce consumed by another sender, respects fee caps."""

from __future__ import annotations

import threading
import time

import pytest
from eth_account import Account
from web3 import Web3

from oracle.chain.governor import read_governed_asset
from oracle.devnet.anvil import ANVIL_KEEPER_KEY
from oracle.devnet.deploy import Deployment
from oracle.domain.params import RiskParams
from oracle.errors import ContractRevert, ExecutionError
from oracle.execution.journal import Attempt, Journal
from oracle.execution.submit import FeePolicy, Submitter

pytestmark = pytest.mark.anvil

SAFER = RiskParams(ltv=7800, liquidation_threshold=8250, liquidation_bonus=550)  # WETH: LTV -200, LB +50
HASH = b"\x07" * 32


def _submitter(w3: Web3, deployment: Deployment, journal: Journal, **fees: float) -> Submitter:
    policy = FeePolicy(receipt_timeout_s=fees.pop("receipt_timeout_s", 10.0), receipt_grace_s=1.0, poll_s=0.05, **fees)  # type: ignore[arg-type]
    return Submitter(w3, Account.from_key(ANVIL_KEEPER_KEY), deployment.governor_contract(w3), journal, policy)


def _submit(sub: Submitter, w3: Web3, deployment: Deployment, cycle: int, params: RiskParams = SAFER):
    head = w3.eth.get_block("latest")
    return sub.submit(
        cycle_id=cycle,
        symbol="WETH",
        asset=deployment.asset("WETH").token,
        params=params,
        report_hash=HASH,
        valid_until=head["timestamp"] + 3600,
        block=head["number"],
    )


def _journal_signed(sub: Submitter, w3: Web3, deployment: Deployment, cycle: int, nonce: int) -> Attempt:
    """What a process leaves when it dies right after journaling a signed WETH update (broadcast or not)."""
    fn = deployment.governor_contract(w3).functions.submitUpdate(
        deployment.asset("WETH").token, SAFER.as_tuple(), HASH, w3.eth.get_block("latest")["timestamp"] + 3600
    )
    tx = {
        "to": deployment.governor,
        "data": fn._encode_transaction_data(),
        "value": 0,
        "gas": 300_000,
        "maxFeePerGas": 10**10,
        "maxPriorityFeePerGas": 10**9,
        "nonce": nonce,
        "chainId": sub.chain_id,
        "type": 2,
    }
    return sub._sign(tx, cycle, "WETH", deployment.asset("WETH").token)


def _weth(w3: Web3, deployment: Deployment) -> RiskParams:
    return read_governed_asset(
        deployment.governor_contract(w3), deployment.market_contract(w3), deployment.asset("WETH").token
    ).params


def test_an_update_lands_once_and_is_journaled(
    w3: Web3, deployment: Deployment, journal: Journal, clean_chain: None
) -> None:
    sub = _submitter(w3, deployment, journal)
    cycle = journal.start_cycle(dry_run=False)
    outcome = _submit(sub, w3, deployment, cycle)
    assert outcome.applied and outcome.attempt is not None
    assert [a.status for a in journal.attempts(cycle_id=cycle)] == ["mined"]
    assert outcome.attempt.gas_used and outcome.attempt.effective_gas_price
    assert _weth(w3, deployment) == SAFER
    assert journal.spent_since(sub.address, 0) == outcome.attempt.gas_used * outcome.attempt.effective_gas_price


def test_a_simulated_revert_signs_nothing(
    w3: Web3, deployment: Deployment, journal: Journal, clean_chain: None
) -> None:
    sub = _submitter(w3, deployment, journal)
    too_far = RiskParams(ltv=7000, liquidation_threshold=8250, liquidation_bonus=500)  # LTV -1000 > max step
    with pytest.raises(ContractRevert) as err:
        _submit(sub, w3, deployment, journal.start_cycle(dry_run=False), too_far)
    assert err.value.name == "DecreaseTooLarge"
    assert journal.attempts() == []


def test_a_stuck_transaction_is_replaced(w3: Web3, deployment: Deployment, journal: Journal, clean_chain: None) -> None:
    sub = _submitter(w3, deployment, journal, receipt_timeout_s=0.6)
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:

        def mine_later() -> None:  # the first attempt sits in the pool past its timeout, then a block comes
            time.sleep(1.0)
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

        miner = threading.Thread(target=mine_later)
        miner.start()
        outcome = _submit(sub, w3, deployment, journal.start_cycle(dry_run=False))
        miner.join()
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    attempts = journal.attempts()
    assert outcome.applied and len(attempts) >= 2
    assert len({a.nonce for a in attempts}) == 1, "replacements reuse the nonce"
    assert [a.status for a in attempts].count("mined") == 1
    assert all(a.status == "replaced" for a in attempts if a.tx_hash != outcome.attempt.tx_hash)
    assert attempts[1].max_fee_per_gas > attempts[0].max_fee_per_gas
    assert _weth(w3, deployment) == SAFER


def test_crash_after_send_before_journal_update_does_not_double_submit(
    w3: Web3, deployment: Deployment, journal: Journal, clean_chain: None
) -> None:
    sub = _submitter(w3, deployment, journal)
    cycle = journal.start_cycle(dry_run=False)
    # what a process killed right after broadcasting leaves: a 'signed' attempt whose transaction is on chain
    attempt = _journal_signed(sub, w3, deployment, cycle, sub.next_nonce())
    sent = w3.eth.send_raw_transaction(attempt.raw_tx)
    w3.eth.wait_for_transaction_receipt(sent, timeout=10)  # anvil mines on its own clock: read the id after it has
    governor = deployment.governor_contract(w3)
    ids_before = governor.functions.lastUpdateId(deployment.asset("WETH").token).call()

    restarted = _submitter(w3, deployment, journal)  # a new process on the same journal
    assert restarted.reconcile() == []
    (settled,) = journal.attempts()
    assert settled.status == "mined" and settled.block is not None
    assert governor.functions.lastUpdateId(deployment.asset("WETH").token).call() == ids_before
    # the same update again would be a no-op: the governor refuses it, nothing is signed
    with pytest.raises(ContractRevert, match="NoChange"):
        _submit(restarted, w3, deployment, journal.start_cycle(dry_run=False))
    assert len(journal.attempts()) == 1


def test_crash_before_broadcast_is_sent_by_the_restart(
    w3: Web3, deployment: Deployment, journal: Journal, clean_chain: None
) -> None:
    sub = _submitter(w3, deployment, journal)
    cycle = journal.start_cycle(dry_run=False)
    _journal_signed(sub, w3, deployment, cycle, sub.next_nonce())  # journaled, never broadcast
    restarted = _submitter(w3, deployment, journal)
    pending = restarted.reconcile()  # broadcasts the journaled raw transaction (anvil mines it at once)
    assert len(pending) == 1
    assert restarted.reconcile() == []
    assert [a.status for a in journal.attempts()] == ["mined"]
    assert _weth(w3, deployment) == SAFER


def test_a_receipt_that_lags_the_nonce_settles_the_attempt_as_mined(
    w3: Web3, deployment: Deployment, journal: Journal, clean_chain: None
) -> None:
    """Nodes can show a nonce used before the receipt that used it can be read (anvil does under load); an attempt
    whose receipt appears within the grace is mined, never dropped."""
    sub = _submitter(w3, deployment, journal)
    cycle = journal.start_cycle(dry_run=False)
    attempt = _journal_signed(sub, w3, deployment, cycle, sub.next_nonce())
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    try:
        w3.eth.send_raw_transaction(attempt.raw_tx)
        miner = threading.Timer(0.3, lambda: w3.provider.make_request("evm_mine", []))  # type: ignore[arg-type]
        miner.start()
        settled = sub._settle_by_nonce(attempt)  # what reconcile does once it has seen the nonce used
        miner.join()
    finally:
        w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert settled is not None and settled.status == "mined"
    assert [a.status for a in journal.attempts()] == ["mined"]
    assert _weth(w3, deployment) == SAFER


def test_a_nonce_consumed_by_another_sender_is_noticed(
    w3: Web3, deployment: Deployment, journal: Journal, clean_chain: None
) -> None:
    sub = _submitter(w3, deployment, journal)
    cycle = journal.start_cycle(dry_run=False)
    nonce = sub.next_nonce()
    _journal_signed(sub, w3, deployment, cycle, nonce)
    # the same key used elsewhere (another keeper instance, a wallet) takes the nonce first
    other = Account.from_key(ANVIL_KEEPER_KEY).sign_transaction(
        {
            "to": sub.address,
            "value": 1,
            "gas": 21_000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
            "nonce": nonce,
            "chainId": sub.chain_id,
            "type": 2,
        }
    )
    w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(other.raw_transaction))
    assert sub.reconcile() == []
    (dropped,) = journal.attempts()
    assert dropped.status == "dropped" and "another sender" in (dropped.detail or "")
    # the next submission takes a fresh nonce and lands
    assert _submit(sub, w3, deployment, cycle).applied
    assert _weth(w3, deployment) == SAFER


def test_fee_caps_refuse_before_signing(w3: Web3, deployment: Deployment, journal: Journal, clean_chain: None) -> None:
    cycle = journal.start_cycle(dry_run=False)
    with pytest.raises(ExecutionError, match="exceeds the cap"):
        _submit(_submitter(w3, deployment, journal, max_fee_gwei=1e-6, priority_fee_gwei=1e-6), w3, deployment, cycle)
    with pytest.raises(ExecutionError, match="daily gas budget"):
        _submit(_submitter(w3, deployment, journal, max_spend_per_day_eth=1e-9), w3, deployment, cycle)
    assert journal.attempts() == []
