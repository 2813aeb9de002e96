"""The keeper's client of ``RiskParameterGovernor``: read an asset's governed state, submit a bounded update.

Why separate from the keeper: the demo, the tests and the execution layer all need the same two operations,
and both must speak the contract's language (custom errors by name, ``ParametersUpdated`` decoded).
"""

from __future__ import annotations

import functools

from pydantic import BaseModel, ConfigDict
from web3 import Web3
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import BlockIdentifier, TxReceipt

from oracle.chain.rpc import rpc_call
from oracle.chain.tx import TxSender, contract_at, simulate
from oracle.domain.params import AssetBounds, LastChanged, RiskParams


class GovernedAsset(BaseModel):
    """An asset's parameters and the governor's state for it, read at one block."""

    model_config = ConfigDict(frozen=True)

    asset: str
    block: int
    timestamp: int
    params: RiskParams
    bounds: AssetBounds | None  # None when the governor has no bounds for it (updates impossible)
    last_changed_at: LastChanged
    last_update_id: int
    paused: bool


class AppliedUpdate(BaseModel):
    """A ``ParametersUpdated`` event: what changed on chain, by which transaction."""

    model_config = ConfigDict(frozen=True)

    asset: str
    update_id: int
    old: RiskParams
    new: RiskParams
    report_hash: str
    tx_hash: str
    block: int
    gas_used: int


def read_governed_asset(governor: Contract, market: Contract, asset: str, block: int | None = None) -> GovernedAsset:
    """Read ``asset``'s parameters (from the market) and its bounds, clocks and pause state (from the governor),
    all at the same block."""
    w3 = governor.w3
    at: BlockIdentifier = block if block is not None else w3.eth.block_number
    header = w3.eth.get_block(at)
    configured = governor.functions.isConfigured(asset).call(block_identifier=at)
    return GovernedAsset(
        asset=asset,
        block=header["number"],
        timestamp=header["timestamp"],
        params=RiskParams.from_tuple(market.functions.getRiskParams(asset).call(block_identifier=at)),
        bounds=AssetBounds.from_tuple(governor.functions.getBounds(asset).call(block_identifier=at))
        if configured
        else None,
        last_changed_at=tuple(governor.functions.getLastChangedAt(asset).call(block_identifier=at)),
        last_update_id=governor.functions.lastUpdateId(asset).call(block_identifier=at),
        paused=governor.functions.paused().call(block_identifier=at),
    )


def submit_update(
    sender: TxSender,
    governor: Contract,
    asset: str,
    params: RiskParams,
    report_hash: bytes,
    valid_until: int,
) -> AppliedUpdate:
    """Simulate ``submitUpdate`` (a revert raises ``ContractRevert`` by name and sends nothing), send it, wait,
    and return the decoded ``ParametersUpdated`` event."""
    fn = governor.functions.submitUpdate(asset, params.as_tuple(), report_hash, valid_until)
    simulate(fn, sender.address)
    return applied_update(governor, sender.transact(fn))


def applied_update(governor: Contract, receipt: TxReceipt) -> AppliedUpdate:
    """The ``ParametersUpdated`` event of a mined ``submitUpdate`` receipt."""
    (event,) = governor.events.ParametersUpdated().process_receipt(receipt, errors=DISCARD)  # skip market logs
    args = event["args"]
    return AppliedUpdate(
        asset=args["asset"],
        update_id=args["updateId"],
        old=RiskParams.from_tuple(args["oldParams"]),
        new=RiskParams.from_tuple(args["newParams"]),
        report_hash="0x" + bytes(args["reportHash"]).hex(),
        tx_hash=receipt["transactionHash"].to_0x_hex(),
        block=receipt["blockNumber"],
        gas_used=receipt["gasUsed"],
    )


def setup_problems(
    w3: Web3, governor: str, market: str, *, chain_id: int | None = None, keeper: str | None = None
) -> list[str]:
    """What is wrong with a keeper's setup, checked on chain before a live cycle: the node is the expected chain
    (``chain_id``, from ``deployment.json``), the governor and market have code, the governor governs this market
    and is its risk admin, and ``keeper`` (the key's address, when given) is the governor's keeper. Empty when all
    holds. Each problem is one sentence naming the addresses involved."""
    problems: list[str] = []
    node_chain = rpc_call(w3, lambda: w3.eth.chain_id, "chain id")
    if chain_id is not None and node_chain != chain_id:
        return [f"the node is chain {node_chain}, the deployment is on chain {chain_id}"]
    for name, address in (("governor", governor), ("market", market)):
        code = functools.partial(w3.eth.get_code, Web3.to_checksum_address(address))
        if not rpc_call(w3, code, f"code of the {name}"):
            problems.append(f"no contract at the {name} address {address} on chain {node_chain}")
    if problems:
        return problems
    gov = contract_at(w3, "RiskParameterGovernor", governor)
    target = rpc_call(w3, lambda: gov.functions.target().call(), "governor.target()")
    if target.lower() != market.lower():
        problems.append(f"governor {governor} governs {target}, not the market {market}")
    admin = rpc_call(
        w3, lambda: contract_at(w3, "LendingMarket", market).functions.riskAdmin().call(), "market.riskAdmin()"
    )
    if admin.lower() != governor.lower():
        problems.append(f"the market's risk admin is {admin}, not the governor {governor}: updates cannot land")
    if keeper is not None:
        expected = rpc_call(w3, lambda: gov.functions.keeper().call(), "governor.keeper()")
        if expected.lower() != keeper.lower():
            problems.append(
                f"the keeper key's address {keeper} is not the governor's keeper {expected}: every update would "
                "revert with NotKeeper"
            )
    return problems
