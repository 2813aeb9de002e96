"""Solidity storage slots of our contracts' state variables, from the layout exported into ``abi/``.

Why: seeding tens of thousands of positions through transactions takes minutes; on a local anvil the same state
can be written directly (``anvil_setStorageAt``) in seconds. The slots come from the compiler's storage layout,
not from hand-counted numbers, so a change to a contract cannot silently break them (and a test compares a
storage-seeded market with a transaction-seeded one).
"""

from __future__ import annotations

from eth_utils import keccak, to_bytes

from oracle.chain.artifacts import load_artifact


def _word(value: int | str) -> bytes:
    """A 32-byte word: an int, or an address left-padded."""
    if isinstance(value, str):
        return to_bytes(hexstr=value).rjust(32, b"\0")
    return value.to_bytes(32, "big")


def variable_slot(contract: str, label: str) -> int:
    """The base slot of state variable ``label`` in ``contract``."""
    layout = load_artifact(contract)["storageLayout"]
    if label not in layout:
        raise KeyError(f"{contract} has no state variable {label!r} (run `make abi`?)")
    return int(layout[label]["slot"])


def mapping_slot(base: int, *keys: int | str) -> int:
    """Slot of ``m[k1][k2]…`` for a mapping at ``base`` (keccak(key . slot), nested)."""
    slot = base
    for key in keys:
        slot = int.from_bytes(keccak(_word(key) + _word(slot)), "big")
    return slot


def array_element_slot(base: int, index: int) -> int:
    """Slot of element ``index`` of a dynamic array of one-word elements at ``base``."""
    return int.from_bytes(keccak(_word(base)), "big") + index


def hex_word(value: int) -> str:
    """A value as the 0x-prefixed 32-byte word ``anvil_setStorageAt`` expects."""
    return "0x" + value.to_bytes(32, "big").hex()
