"""The keeper's client of ``RiskParameterGovernor``: read an asset's governed state, submit a bounded update.

Why separate from the keeper: the demo, the tests and the execution layer all need the same two operations,
and both must speak the contract's language (custom errors by name, ``ParametersUpdated`` decoded).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from web3.contract import Contract
from web3.logs import DISCARD
from web3.types import BlockIdentifier, TxReceipt

from oracle.chain.tx import TxSender, simulate
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
