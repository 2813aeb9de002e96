"""Fast ABI encoding and decoding for the few shapes a snapshot moves by the ten thousand.

Why not eth-abi everywhere: it validates every value through layers of generic codecs, ~60 µs per call
encoded and ~50 µs per result decoded; a 10,000-position snapshot makes 20,000 inner calls, so eth-abi alone
would cost more than three seconds. The shapes here (static-argument calldata, ``aggregate3``'s
``(address,bool,bytes)[]`` in and ``(bool,bytes)[]`` out, arrays of words) are simple and fixed; everything else
still goes through eth-abi, and ``tests/test_abi_fast.py`` checks every function here against eth-abi.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_hash.auto import keccak

WORD = 32
_STATIC = ("address", "bool")


def is_static_word_type(abi_type: str) -> bool:
    """Types encoded as one 32-byte word holding a non-negative integer."""
    return abi_type in _STATIC or (abi_type.startswith("uint") and abi_type[4:].isdigit())


def word(value: int | str | bool) -> bytes:
    """One ABI word: an unsigned int, a bool, or a hex address."""
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value).rjust(WORD, b"\0")
    return int(value).to_bytes(WORD, "big")


def _padded(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % WORD)


def encode_aggregate3(calls: Sequence[tuple[str, bool, bytes]]) -> bytes:
    """``abi.encode((address,bool,bytes)[])`` of ``calls`` (without the selector)."""
    tuples = [
        word(target) + word(allow) + word(3 * WORD) + word(len(data)) + _padded(data) for target, allow, data in calls
    ]
    offsets, position = [], WORD * len(tuples)
    for t in tuples:
        offsets.append(word(position))
        position += len(t)
    return word(WORD) + word(len(tuples)) + b"".join(offsets) + b"".join(tuples)


def _int(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + WORD], "big")


def decode_aggregate3_results(data: bytes) -> list[tuple[bool, bytes]]:
    """``abi.decode(data, ((bool,bytes)[]))``."""
    array = _int(data, 0)
    n = _int(data, array)
    base = array + WORD
    out = []
    for i in range(n):
        start = base + _int(data, base + i * WORD)
        success = _int(data, start) != 0
        at = start + _int(data, start + WORD)
        length = _int(data, at)
        out.append((success, data[at + WORD : at + WORD + length]))
    return out


def decode_words(data: bytes) -> list[int]:
    """Every 32-byte word of ``data`` as an unsigned int (static tuples of uints, addresses, bools)."""
    return [int.from_bytes(data[i : i + WORD], "big") for i in range(0, len(data), WORD)]


def decode_uint_array_and_uint(data: bytes) -> tuple[tuple[int, ...], int]:
    """``abi.decode(data, (uint256[], uint256))``: e.g. ``LendingMarket.positionOf``."""
    array = _int(data, 0)
    n = _int(data, array)
    values = tuple(_int(data, array + WORD * (1 + i)) for i in range(n))
    return values, _int(data, WORD)


def checksum_address(raw: bytes) -> str:
    """EIP-55 checksummed hex of a 20-byte address (eth-utils' ``to_checksum_address`` spends most of its time in
    input validation, a third of a 10,000-position snapshot; this is the same rule without it)."""
    lower = raw.hex()
    digest = keccak(lower.encode()).hex()
    return "0x" + "".join(c.upper() if int(h, 16) >= 8 else c for c, h in zip(lower, digest[:40], strict=True))
