"""Batched reads through Multicall3 ``aggregate3``, encoded with eth-abi directly.

Why not ``contract.functions.aggregate3(...).call()``: web3's per-argument validation costs milliseconds per
inner call, which dominates once a batch holds hundreds of calls. The calldata here is built with eth-abi from a
precomputed selector; results come back as ``(success, returnData)`` per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.types import BlockIdentifier

AGGREGATE3 = function_signature_to_4byte_selector("aggregate3((address,bool,bytes)[])")


class Call(NamedTuple):
    """One inner call: its target, whether its failure is tolerated, its calldata."""

    target: str
    allow_failure: bool
    data: bytes


class Result(NamedTuple):
    """One inner call's outcome."""

    success: bool
    data: bytes


def encode_call(signature: str, types: Sequence[str], args: Sequence[object]) -> bytes:
    """Calldata of ``signature`` (e.g. ``"positionOf(address)"``) with ``args`` of ABI ``types``."""
    return function_signature_to_4byte_selector(signature) + abi_encode(list(types), list(args))


def aggregate3(
    w3: Web3, multicall: str, calls: Sequence[Call], block: BlockIdentifier = "latest"
) -> list[Result]:
    """Run ``calls`` in one ``eth_call`` of Multicall3 at ``block``."""
    data = AGGREGATE3 + abi_encode(["(address,bool,bytes)[]"], [[tuple(c) for c in calls]])
    raw = w3.eth.call({"to": Web3.to_checksum_address(multicall), "data": data}, block_identifier=block)
    (results,) = abi_decode(["(bool,bytes)[]"], raw)
    return [Result(ok, ret) for ok, ret in results]
