"""Simulate-then-send of ``submitUpdate``, with fee caps, stuck-transaction replacement and a write-ahead journal.

One update goes through:

1. ``eth_call`` at the cycle's pinned block (custom errors decoded by name): the update must be valid for the
   state it was computed from; then ``eth_estimateGas`` against the latest state (a second simulation);
2. fee caps: ``maxFeePerGas`` = 2 x base fee + tip, refused above ``max_fee_gwei``; the day's spend (journal)
   plus this transaction's worst case must stay under ``max_spend_per_day_eth``;
3. sign with the eth-account key (never logged) and journal the signed transaction *before* broadcasting it;
4. wait for the receipt; if none within ``receipt_timeout_s``, replace it on the same nonce with fees raised by
   ``bump_pct`` (at most ``max_bumps`` times, never above the cap): whichever of them is mined wins, the others are
   marked replaced.

``reconcile`` settles what a previous process left open: by hash (mined or reverted), then by nonce (another
transaction used it: ours replaced, or someone else's: dropped), else the raw transaction is broadcast again
(idempotent). Nonces come from the chain and the journal together, so a nonce consumed elsewhere is noticed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from pydantic import BaseModel, ConfigDict, Field, model_validator
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError, TransactionNotFound, Web3RPCError

from oracle.chain.artifacts import decode_revert
from oracle.chain.tx import revert_data, simulate
from oracle.domain.params import RiskParams
from oracle.errors import ExecutionError
from oracle.execution.journal import Attempt, AttemptStatus, Journal

GWEI = 10**9
GAS_MARGIN = 1.25
MAX_FEE_GWEI = 10_000  # upper bound of max_fee_gwei: 50x the default, far above any mainnet base fee
MAX_SPEND_PER_DAY_ETH = 100.0  # upper bound of max_spend_per_day_eth: 200x the default


class FeePolicy(BaseModel):
    """Gas and fee limits of the keeper (``[execution]`` of the settings).

    Every limit is finite and bounded above: ``inf`` (or ``1e400``, which parses to it) would switch a cap off
    without a word, ``nan`` compares false with everything (so ``cost > cap`` never refuses), and a typo such as
    ``1e9`` gwei is a limit nobody means. The maxima are far above any sane setting and only catch those mistakes.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    max_fee_gwei: float = Field(
        default=200.0,
        gt=0,
        le=MAX_FEE_GWEI,
        description=f"never pay more per gas than this (at most {MAX_FEE_GWEI:,} gwei)",
    )
    priority_fee_gwei: float = Field(
        default=1.5,
        ge=0,
        le=MAX_FEE_GWEI,
        description="tip per gas; at most max_fee_gwei (above it every transaction would fail the fee cap)",
    )
    max_spend_per_day_eth: float = Field(
        default=0.5,
        gt=0,
        le=MAX_SPEND_PER_DAY_ETH,
        description=f"cap on gas spent in any 24 h (at most {MAX_SPEND_PER_DAY_ETH:g} ETH)",
    )
    receipt_timeout_s: float = Field(
        default=60.0, gt=0, le=3600, description="wait this long before replacing (at most 3600 s)"
    )
    max_bumps: int = Field(default=3, ge=0, le=10)
    bump_pct: float = Field(
        default=15.0, ge=10.0, le=100.0, description="fee rise of a replacement (nodes want >= 10 %; at most 100 %)"
    )
    poll_s: float = Field(default=0.5, gt=0, le=60, description="receipt polling interval (at most 60 s)")
    receipt_grace_s: float = Field(
        default=5.0,
        ge=0,
        le=600,
        description="once our nonce is used, wait this long for one of our receipts before calling the attempts "
        "dropped: nodes (anvil included) can show the new nonce before the receipt is indexed (at most 600 s)",
    )

    @model_validator(mode="after")
    def _tip_within_cap(self) -> FeePolicy:
        """A tip above the fee cap makes every transaction fail the cap check: refused at load time instead. A model
        validator, not a field one, so that the default tip is checked against a lowered cap too."""
        if self.priority_fee_gwei > self.max_fee_gwei:
            raise ValueError(
                f"priority_fee_gwei {self.priority_fee_gwei:g} exceeds max_fee_gwei {self.max_fee_gwei:g} (gwei)"
            )
        return self


@dataclass(frozen=True)
class Outcome:
    """How one update ended: the mined attempt (status mined or reverted), or a reason nothing landed."""

    attempt: Attempt | None
    reason: str = ""

    @property
    def applied(self) -> bool:
        return self.attempt is not None and self.attempt.status == "mined"


class Submitter:
    """Sends governor updates from one key, journaling every attempt."""

    def __init__(self, w3: Web3, account: LocalAccount, governor: Contract, journal: Journal, fees: FeePolicy) -> None:
        self.w3, self.account, self.governor, self.journal, self.fees = w3, account, governor, journal, fees
        self.chain_id = w3.eth.chain_id

    def __repr__(self) -> str:  # never show the key
        return f"Submitter({self.account.address})"

    @property
    def address(self) -> ChecksumAddress:
        return self.account.address

    # ------------------------------------------------------------------ nonces and fees
    def next_nonce(self) -> int:
        """The chain's pending nonce, or one past the journal's highest open attempt if that is higher."""
        chain = self.w3.eth.get_transaction_count(self.address, "pending")
        journaled = [a.nonce for a in self.journal.open_attempts(self.address)]
        return max([chain, *(n + 1 for n in journaled)])

    def _fees(self) -> tuple[int, int]:
        base = int(self.w3.eth.get_block("latest").get("baseFeePerGas", 0) or 0)
        tip = int(self.fees.priority_fee_gwei * GWEI)
        cap = int(self.fees.max_fee_gwei * GWEI)
        if base + tip > cap:
            raise ExecutionError(f"base fee {base / GWEI:.2f} gwei + tip exceeds the cap {self.fees.max_fee_gwei} gwei")
        return min(2 * base + tip, cap), tip

    def _check_spend(self, gas: int, max_fee: int) -> None:
        spent = self.journal.spent_since(self.address, time.time() - 86_400)
        cap = int(self.fees.max_spend_per_day_eth * 10**18)
        if spent + gas * max_fee > cap:
            raise ExecutionError(
                f"daily gas budget: spent {spent / 1e18:.6f} ETH, this transaction may cost "
                f"{gas * max_fee / 1e18:.6f}, cap {self.fees.max_spend_per_day_eth} ETH"
            )

    # ------------------------------------------------------------------ sending
    def _sign(self, tx: dict[str, Any], cycle_id: int, symbol: str, asset: str) -> Attempt:
        signed = self.account.sign_transaction(tx)
        return self.journal.record_signed(
            cycle_id=cycle_id,
            symbol=symbol,
            asset=asset,
            sender=self.address,
            nonce=int(tx["nonce"]),
            tx_hash=signed.hash.to_0x_hex(),
            raw_tx=signed.raw_transaction.to_0x_hex(),
            gas_limit=int(tx["gas"]),
            max_fee_per_gas=int(tx["maxFeePerGas"]),
            priority_fee_per_gas=int(tx["maxPriorityFeePerGas"]),
        )

    def _broadcast(self, attempt: Attempt) -> None:
        """Send the journaled raw transaction; 'already known' is success (it was sent before)."""
        try:
            self.w3.eth.send_raw_transaction(HexStr(attempt.raw_tx))
        except Web3RPCError as exc:
            message = str(exc).lower()
            if "already" in message or "known" in message:
                pass
            elif "nonce too low" in message or "nonce is too low" in message:
                if self._settle_by_nonce(attempt) is not None:
                    return  # one of ours used the nonce (mined between our look and this send)
                raise ExecutionError(f"nonce {attempt.nonce} was consumed before {attempt.tx_hash} landed") from exc
            else:
                self.journal.set_status(attempt.tx_hash, "dropped", detail=f"broadcast refused: {exc}")
                raise ExecutionError(f"broadcast of {attempt.tx_hash} refused: {exc}") from exc
        self.journal.set_status(attempt.tx_hash, "sent")

    def _receipt(self, tx_hash: str) -> dict | None:
        try:
            return dict(self.w3.eth.get_transaction_receipt(HexStr(tx_hash)))
        except TransactionNotFound:
            return None

    def _settle(self, mined: Attempt, receipt: dict, rivals: list[Attempt]) -> Attempt:
        status: AttemptStatus = "mined" if receipt["status"] == 1 else "reverted"
        self.journal.set_status(
            mined.tx_hash,
            status,
            block=receipt["blockNumber"],
            gas_used=receipt["gasUsed"],
            effective_gas_price=receipt.get("effectiveGasPrice"),
        )
        for other in rivals:
            if other.tx_hash != mined.tx_hash:
                self.journal.set_status(other.tx_hash, "replaced", detail=f"nonce used by {mined.tx_hash}")
        return self.journal.attempt(mined.id)

    def _wait_any(self, attempts: list[Attempt], timeout_s: float) -> Attempt | None:
        """The first of ``attempts`` (same nonce) to be mined within ``timeout_s``, settled in the journal."""
        deadline = time.monotonic() + timeout_s
        while True:
            for a in attempts:
                receipt = self._receipt(a.tx_hash)
                if receipt is not None:
                    return self._settle(a, receipt, attempts)
            if time.monotonic() >= deadline:
                return None
            time.sleep(self.fees.poll_s)

    def submit(
        self,
        *,
        cycle_id: int,
        symbol: str,
        asset: str,
        params: RiskParams,
        report_hash: bytes,
        valid_until: int,
        block: int,
    ) -> Outcome:
        """Simulate at ``block``, then send ``submitUpdate`` with replacement if stuck; see the module docstring.
        A simulated revert raises ``ContractRevert`` (nothing signed); fee-cap problems raise ``ExecutionError``."""
        fn = self.governor.functions.submitUpdate(asset, params.as_tuple(), report_hash, valid_until)
        simulate(fn, self.address, block)
        try:
            gas = int(fn.estimate_gas({"from": self.address}) * GAS_MARGIN)
        except ContractLogicError as exc:  # valid at the pinned block, not any more (time, another update)
            raise decode_revert(revert_data(exc), context="submitUpdate (latest state)") from exc
        max_fee, tip = self._fees()
        self._check_spend(gas, max_fee)
        tx: dict[str, int | str] = {
            "to": self.governor.address,
            "data": fn._encode_transaction_data(),
            "value": 0,
            "gas": gas,
            "maxFeePerGas": max_fee,
            "maxPriorityFeePerGas": tip,
            "nonce": self.next_nonce(),
            "chainId": self.chain_id,
            "type": 2,
        }
        attempts: list[Attempt] = []
        for bump in range(self.fees.max_bumps + 1):
            attempt = self._sign(tx, cycle_id, symbol, asset)
            attempts.append(attempt)
            self._broadcast(attempt)
            settled = self._wait_any(attempts, self.fees.receipt_timeout_s)
            if settled is not None:
                return Outcome(settled, "" if settled.status == "mined" else "reverted on chain")
            if bump == self.fees.max_bumps:
                break
            factor = 1 + self.fees.bump_pct / 100
            cap = int(self.fees.max_fee_gwei * GWEI)
            new_fee = int(int(tx["maxFeePerGas"]) * factor) + 1
            if new_fee > cap:
                return Outcome(
                    None,
                    f"stuck: replacement would exceed the fee cap ({self.fees.max_fee_gwei} gwei); "
                    f"nonce {tx['nonce']} left pending",
                )
            tx = {
                **tx,
                "maxFeePerGas": new_fee,
                "maxPriorityFeePerGas": int(int(tx["maxPriorityFeePerGas"]) * factor) + 1,
            }
        return Outcome(None, f"stuck after {self.fees.max_bumps} replacements; nonce {tx['nonce']} left pending")

    # ------------------------------------------------------------------ recovery
    def _settle_by_nonce(self, attempt: Attempt) -> Attempt | None:
        """Settle every open attempt on ``attempt``'s nonce once the chain has used it.

        The nonce can be seen used a moment before the receipt of the transaction that used it can be read (the
        node updates state before indexing receipts; behind a load balancer, one backend lags another), so our
        receipts are polled for ``receipt_grace_s`` before the attempts are called dropped."""
        rivals = [a for a in self.journal.attempts() if a.sender == self.address and a.nonce == attempt.nonce]
        settled = self._wait_any(rivals, self.fees.receipt_grace_s)
        if settled is not None:
            return settled
        for a in rivals:
            if a.status in ("signed", "sent"):
                self.journal.set_status(a.tx_hash, "dropped", detail=f"nonce {a.nonce} consumed by another sender")
        return None

    def reconcile(self) -> list[Attempt]:
        """Settle the attempts a previous process left open; returns those still pending (broadcast again)."""
        mined_nonce = self.w3.eth.get_transaction_count(self.address, "latest")
        pending: list[Attempt] = []
        for a in self.journal.open_attempts(self.address):
            current = self.journal.attempt(a.id)
            if current.status not in ("signed", "sent"):
                continue  # settled while handling a rival on the same nonce
            receipt = self._receipt(a.tx_hash)
            if receipt is not None:
                rivals = [r for r in self.journal.attempts() if r.sender == self.address and r.nonce == a.nonce]
                self._settle(a, receipt, rivals)
            elif a.nonce < mined_nonce:
                self._settle_by_nonce(a)
            else:
                self._broadcast(a)
                if (after := self.journal.attempt(a.id)).status == "sent":
                    pending.append(after)
        return pending


class NodeSignedSubmitter(Submitter):
    """A submitter for an account the node signs for: the keeper impersonated on an anvil fork
    (``anvil_impersonateAccount``), so that a cycle can be rehearsed against a live chain's state without its key.

    There is no raw transaction to journal ahead of the broadcast (the node signs), so the attempt is journaled
    right after the node accepted it; for rehearsals on a fork only, never for a real chain.
    """

    def __init__(self, w3: Web3, address: str, governor: Contract, journal: Journal, fees: FeePolicy) -> None:
        self._sender = Web3.to_checksum_address(address)
        self.w3, self.governor, self.journal, self.fees = w3, governor, journal, fees
        self.chain_id = w3.eth.chain_id

    def __repr__(self) -> str:
        return f"NodeSignedSubmitter({self._sender})"

    @property
    def address(self) -> ChecksumAddress:
        return self._sender

    def _sign(self, tx: dict[str, Any], cycle_id: int, symbol: str, asset: str) -> Attempt:
        tx_hash = self.w3.eth.send_transaction({**tx, "from": self._sender})  # type: ignore[typeddict-item]  # tx is the TxParams dict _sign takes
        return self.journal.record_signed(
            cycle_id=cycle_id,
            symbol=symbol,
            asset=asset,
            sender=self._sender,
            nonce=int(tx["nonce"]),
            tx_hash=tx_hash.to_0x_hex(),
            raw_tx="",
            gas_limit=int(tx["gas"]),
            max_fee_per_gas=int(tx["maxFeePerGas"]),
            priority_fee_per_gas=int(tx["maxPriorityFeePerGas"]),
        )

    def _broadcast(self, attempt: Attempt) -> None:
        if attempt.raw_tx:  # cannot happen for attempts this class signed; kept for journals shared with a key
            super()._broadcast(attempt)
        else:
            self.journal.set_status(attempt.tx_hash, "sent")
