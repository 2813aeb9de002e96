"""Signing and sending transactions from a local key: simulate first, then send, then check the receipt.

Why: every transaction the oracle sends is simulated (``eth_call`` / ``eth_estimateGas``) before it is signed, so
that a revert surfaces as the contract's custom error by name and costs no gas. The key stays in an eth-account
``LocalAccount``; it is never logged. Nonces are tracked locally so that batches of transactions (deployment,
seeding) can be pipelined: sent back to back, then awaited together.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import BlockIdentifier, Nonce, TxParams, TxReceipt

from oracle.chain.artifacts import decode_revert, load_artifact
from oracle.errors import ContractRevert, ExecutionError


def revert_data(exc: ContractLogicError) -> str:
    """The raw revert data carried by a web3 ``ContractLogicError``."""
    data = exc.data
    if isinstance(data, dict):
        data = data.get("data") or next(iter(data.values()), "0x")
    return data if isinstance(data, str) else "0x"


def simulate(fn: ContractFunction, sender: str, block: BlockIdentifier = "latest") -> Any:
    """``eth_call`` of ``fn`` from ``sender``; a revert raises ``ContractRevert`` decoded by name."""
    try:
        return fn.call({"from": sender}, block_identifier=block)
    except ContractLogicError as exc:
        raise decode_revert(revert_data(exc), context=fn.fn_name) from exc


class TxSender:
    """Sends transactions from one local account, simulating each before signing it."""

    def __init__(
        self,
        w3: Web3,
        account: LocalAccount | str,
        receipt_timeout_s: float = 60.0,
        poll_s: float = 0.1,
        gas_margin: float = 1.25,
    ) -> None:
        self.w3 = w3
        # a gas estimate is exact for the state it ran on; mined a block later (Aave accrues interest every second)
        # the call may do more work and run out of gas: the limit is the estimate times this margin
        self.gas_margin = gas_margin
        self.poll_s = poll_s  # between receipt polls: web3's 0.1 s, or a few ms on a local automining node
        self.account: LocalAccount = account if isinstance(account, LocalAccount) else Account.from_key(account)
        self.receipt_timeout_s = receipt_timeout_s
        self.chain_id = w3.eth.chain_id
        self._nonce = w3.eth.get_transaction_count(self.account.address, "pending")

    @property
    def address(self) -> str:
        """The sending account's checksummed address."""
        return self.account.address

    def __repr__(self) -> str:  # never show the key
        return f"TxSender({self.address})"

    def resync_nonce(self) -> None:
        """Take the account's pending nonce from the node (after something else sent from this account)."""
        self._nonce = self.w3.eth.get_transaction_count(self.account.address, "pending")

    def _base(self) -> TxParams:
        return {"from": self.address, "nonce": self._nonce, "chainId": self.chain_id}

    def _sign_and_send(self, tx: TxParams) -> HexBytes:
        signed = self.account.sign_transaction(dict(tx))  # type: ignore[arg-type]  # TxParams is a TypedDict of the same keys
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        self._nonce = Nonce(self._nonce + 1)
        return tx_hash

    def send(self, fn: ContractFunction) -> HexBytes:
        """Simulate, sign and send a contract call; returns its hash without waiting for it."""
        try:
            tx = fn.build_transaction(self._base())  # estimates gas: simulates at the pending block
        except ContractLogicError as exc:
            raise decode_revert(revert_data(exc), context=fn.fn_name) from exc
        tx["gas"] = int(tx["gas"] * self.gas_margin)
        return self._sign_and_send(tx)

    def wait(self, tx_hashes: Iterable[HexBytes]) -> list[TxReceipt]:
        """Wait for every receipt; a failed or missing one raises ``ExecutionError`` naming the hash."""
        receipts = []
        for h in tx_hashes:
            try:
                receipt = self.w3.eth.wait_for_transaction_receipt(
                    h, timeout=self.receipt_timeout_s, poll_latency=self.poll_s
                )
            except Exception as exc:  # web3 raises TimeExhausted; keep the hash in the message
                raise ExecutionError(f"no receipt for {h.to_0x_hex()} within {self.receipt_timeout_s}s") from exc
            if receipt["status"] != 1:
                raise ExecutionError(f"transaction {h.to_0x_hex()} reverted on chain (block {receipt['blockNumber']})")
            receipts.append(receipt)
        return receipts

    def transact(self, fn: ContractFunction) -> TxReceipt:
        """Simulate, send and wait for one contract call."""
        return self.wait([self.send(fn)])[0]

    def transact_all(self, fns: Iterable[ContractFunction]) -> list[TxReceipt]:
        """Send calls back to back (pipelined), then wait for all of them.

        Each call is simulated against the pending state when it is sent: use it for calls whose success does not
        depend on an earlier call of the batch being mined (on an automining dev chain it always is).
        """
        return self.wait([self.send(fn) for fn in fns])

    def deploy(self, name: str, *args: Any) -> Contract:
        """Deploy the contract ``name`` from ``abi/`` with constructor ``args``; returns it bound to its address."""
        artifact = load_artifact(name)
        factory = self.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
        try:
            tx = factory.constructor(*args).build_transaction(self._base())
        except ContractLogicError as exc:
            raise decode_revert(revert_data(exc), context=f"deploy {name}") from exc
        receipt = self.wait([self._sign_and_send(tx)])[0]
        address = receipt["contractAddress"]
        if address is None:
            raise ExecutionError(f"deploy {name}: the receipt names no contract address")
        return contract_at(self.w3, name, address)


def contract_at(w3: Web3, name: str, address: str) -> Contract:
    """Contract ``name`` from ``abi/`` at ``address``."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact(name)["abi"])


__all__ = ["ContractRevert", "TxSender", "contract_at", "revert_data", "simulate"]
