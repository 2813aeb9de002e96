"""Batched reads through Multicall3 ``aggregate3``: chunked by calldata size and gas, retried, pinned to a block.

Why not ``contract.functions.aggregate3(...).call()``: web3's per-argument validation costs milliseconds per
inner call, which dominates once a batch holds thousands of calls; the hot shapes are encoded by
``oracle.chain.abi_fast`` (checked against eth-abi), everything else by eth-abi.
Every inner call is sent with ``allowFailure = true`` and checked here, so that a failed call that was not allowed
to fail raises an error naming that call (its label and decoded revert), not just "the batch reverted".
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from threading import Lock
from typing import NamedTuple

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector
from web3 import Web3
from web3.types import BlockIdentifier

from oracle.chain.abi_fast import decode_aggregate3_results, encode_aggregate3, is_static_word_type, word
from oracle.chain.artifacts import decode_revert
from oracle.chain.rpc import rpc_call
from oracle.errors import MulticallError

AGGREGATE3 = function_signature_to_4byte_selector("aggregate3((address,bool,bytes)[])")


class Call(NamedTuple):
    """One inner call: target, whether its failure is tolerated, calldata, a label for errors, a gas hint."""

    target: str
    allow_failure: bool
    data: bytes
    label: str = ""
    gas: int = 30_000


class Result(NamedTuple):
    """One inner call's outcome."""

    success: bool
    data: bytes


@cache
def _selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def encode_call(signature: str, types: Sequence[str], args: Sequence[object]) -> bytes:
    """Calldata of ``signature`` (e.g. ``"positionOf(address)"``) with ``args`` of ABI ``types``.

    Arguments that are all one-word static types (address, bool, uintN) take the fast path; any other shape is
    encoded by eth-abi.
    """
    if all(is_static_word_type(t) for t in types):
        return _selector(signature) + b"".join(word(a) for a in args)  # type: ignore[arg-type]  # static words: ints or addresses
    return _selector(signature) + abi_encode(list(types), list(args))


def make_call(
    target: str,
    signature: str,
    types: Sequence[str] = (),
    args: Sequence[object] = (),
    label: str = "",
    *,
    gas: int = 30_000,
    allow_failure: bool = False,
) -> Call:
    """A ``Call`` of ``signature`` on ``target`` with ``args`` (labelled ``target.signature`` unless given)."""
    return Call(target, allow_failure, encode_call(signature, types, args), label or f"{target}.{signature}", gas)


def aggregate3(w3: Web3, multicall: str, calls: Sequence[Call], block: BlockIdentifier = "latest") -> list[Result]:
    """Run ``calls`` in one ``eth_call`` of Multicall3 at ``block`` (no chunking, no retries)."""
    data = AGGREGATE3 + encode_aggregate3([(c.target, c.allow_failure, c.data) for c in calls])
    raw = w3.eth.call({"to": multicall, "data": data}, block_identifier=block)
    return [Result(ok, ret) for ok, ret in decode_aggregate3_results(bytes(raw))]


class Multicall:
    """Runs any number of calls through Multicall3 at one block, in chunks that fit the node's limits.

    A chunk closes when it would exceed ``max_calldata_bytes`` of calldata or ``max_gas`` of summed gas hints
    (an ``eth_call`` is bounded by the node's gas cap). Each chunk is retried on transport errors; up to
    ``workers`` chunks are in flight at once, results kept in call order.
    """

    def __init__(
        self,
        w3: Web3,
        address: str,
        *,
        max_calldata_bytes: int = 256_000,
        max_gas: int = 25_000_000,
        workers: int = 2,
    ) -> None:
        self.w3 = w3
        self.workers = workers
        self._lock = Lock()
        self.address = Web3.to_checksum_address(address)
        self.max_calldata_bytes = max_calldata_bytes
        self.max_gas = max_gas
        self.eth_calls = 0  # how many eth_call requests this instance made (for benchmarks and logs)

    def chunks(self, calls: Sequence[Call]) -> list[Sequence[Call]]:
        """Split ``calls`` into consecutive chunks within the calldata and gas budgets."""
        out: list[Sequence[Call]] = []
        start, size, gas = 0, 0, 0
        for i, c in enumerate(calls):
            call_size = len(c.data) + 160  # the call's bytes plus its ABI head/offsets
            if i > start and (size + call_size > self.max_calldata_bytes or gas + c.gas > self.max_gas):
                out.append(calls[start:i])
                start, size, gas = i, 0, 0
            size += call_size
            gas += c.gas
        if start < len(calls):
            out.append(calls[start:])
        return out

    def run(self, calls: Sequence[Call], block: int) -> list[Result]:
        """Results of all ``calls`` at ``block``, in order; a failed call with ``allow_failure=False`` raises
        ``MulticallError`` naming it."""

        def do(chunk: Sequence[Call]) -> list[Result]:
            what = f"multicall of {len(chunk)} calls at block {block} ({chunk[0].label or 'unlabelled'} …)"

            def once() -> list[Result]:
                with self._lock:
                    self.eth_calls += 1
                return aggregate3(self.w3, self.address, [c._replace(allow_failure=True) for c in chunk], block)

            return rpc_call(self.w3, once, what)

        chunks = self.chunks(calls)
        results: list[Result] = []
        if len(chunks) == 1 or self.workers == 1:
            for chunk in chunks:
                results.extend(do(chunk))
        else:
            # the node executes one chunk while Python encodes or decodes another
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                for part in pool.map(do, chunks):
                    results.extend(part)
        for c, r in zip(calls, results, strict=True):
            if not r.success and not c.allow_failure:
                raise MulticallError(f"{c.label or c.target}: {decode_revert(r.data)} at block {block}")
        return results
