"""Contract artifacts (ABI + bytecode) exported from forge into ``oracle/chain/abi/``, and custom-error decoding.

Why: the Python side must deploy and call the contracts without a compiler at run time, and every revert must
surface as the contract's custom error by name (``IncreaseTooLarge(param=0, ...)``), never as opaque hex.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import function_signature_to_4byte_selector, to_bytes, to_checksum_address

from oracle.errors import ContractRevert

ABI_DIR = Path(str(files("oracle.chain").joinpath("abi")))  # package data: `make abi` writes it
# every contract whose custom errors decode_revert names: ours, and our adapters for Aave markets
CONTRACT_NAMES = (
    "RiskParameterGovernor",
    "LendingMarket",
    "PriceFeed",
    "TestToken",
    "Multicall3",
    "AaveV3RiskTarget",
    "PriceFeedSource",
)

# Solidity's built-in revert payloads
_ERROR_STRING = function_signature_to_4byte_selector("Error(string)")
_PANIC = function_signature_to_4byte_selector("Panic(uint256)")


@cache
def load_artifact(name: str) -> dict[str, Any]:
    """The exported artifact ``{contractName, abi, bytecode}`` of contract ``name``."""
    path = ABI_DIR / f"{name}.json"
    if not path.exists():
        raise FileNotFoundError(f"no artifact for {name} at {path}; run `make abi`")
    return json.loads(path.read_text())


def _abi_type(param: dict[str, Any]) -> str:
    """Canonical ABI type of a parameter, expanding tuples (structs)."""
    t = param["type"]
    if t.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){t[len('tuple') :]}"
    return t


@cache
def _error_table() -> dict[bytes, tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """selector -> (name, parameter names, parameter types) over every contract's custom errors."""
    table: dict[bytes, tuple[str, tuple[str, ...], tuple[str, ...]]] = {}
    for contract in CONTRACT_NAMES:
        for item in load_artifact(contract)["abi"]:
            if item["type"] != "error":
                continue
            types = tuple(_abi_type(i) for i in item["inputs"])
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            table[selector] = (item["name"], tuple(i["name"] for i in item["inputs"]), types)
    return table


def decode_revert(data: bytes | str, context: str = "") -> ContractRevert:
    """Decode revert data into a :class:`ContractRevert` named after the contract's error.

    Unknown selectors, ``Error(string)`` and ``Panic(uint256)`` are decoded too, so a caller always gets a name.
    """
    raw = to_bytes(hexstr=data) if isinstance(data, str) else bytes(data)
    hex_data = "0x" + raw.hex()
    selector, body = raw[:4], raw[4:]
    if len(raw) < 4:
        return ContractRevert("EmptyRevert", {}, hex_data, context)
    if selector == _ERROR_STRING:
        (reason,) = abi_decode(["string"], body)
        return ContractRevert("Error", {"reason": reason}, hex_data, context)
    if selector == _PANIC:
        (code,) = abi_decode(["uint256"], body)
        return ContractRevert("Panic", {"code": code}, hex_data, context)
    entry = _error_table().get(selector)
    if entry is None:
        return ContractRevert("UnknownError", {"selector": "0x" + selector.hex()}, hex_data, context)
    name, names, types = entry
    values = [_readable(t, v) for t, v in zip(types, abi_decode(list(types), body), strict=True)]
    return ContractRevert(name, dict(zip(names, values, strict=True)), hex_data, context)


def _readable(abi_type: str, value: Any) -> Any:
    """Addresses checksummed and bytes as 0x-hex, as web3 shows them elsewhere."""
    if abi_type == "address":
        return to_checksum_address(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value
