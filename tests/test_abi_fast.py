"""``oracle.chain.abi_fast`` encodes and decodes exactly as eth-abi does, on random inputs."""

from __future__ import annotations

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.chain.abi_fast import (
    checksum_address,
    decode_aggregate3_results,
    decode_uint_array_and_uint,
    decode_words,
    encode_aggregate3,
)
from oracle.chain.multicall import encode_call

addresses = st.binary(min_size=20, max_size=20).map(lambda b: "0x" + b.hex())
uint256 = st.integers(0, 2**256 - 1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(addresses, st.booleans(), st.binary(max_size=100)), max_size=12))
def test_encode_aggregate3(calls) -> None:
    assert encode_aggregate3(calls) == abi_encode(["(address,bool,bytes)[]"], [calls])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=100)), max_size=12))
def test_decode_aggregate3_results(results) -> None:
    assert decode_aggregate3_results(abi_encode(["(bool,bytes)[]"], [results])) == results


@settings(max_examples=200, deadline=None)
@given(st.lists(uint256, max_size=10), uint256)
def test_decode_uint_array_and_uint(values, last) -> None:
    assert decode_uint_array_and_uint(abi_encode(["uint256[]", "uint256"], [values, last])) == (tuple(values), last)


@settings(max_examples=200, deadline=None)
@given(addresses, st.booleans(), st.integers(0, 2**80 - 1), uint256)
def test_static_calldata_and_words(addr, flag, small, big) -> None:
    types = ["address", "bool", "uint80", "uint256"]
    fast = encode_call("f(address,bool,uint80,uint256)", types, [addr, flag, small, big])
    from eth_utils import function_signature_to_4byte_selector

    assert fast == function_signature_to_4byte_selector("f(address,bool,uint80,uint256)") + abi_encode(
        types, [addr, flag, small, big]
    )
    words = decode_words(fast[4:])
    assert words == [int(addr, 16), int(flag), small, big]
    assert list(abi_decode(types, fast[4:]))[2:] == words[2:]


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=20, max_size=20))
def test_checksum_address(raw: bytes) -> None:
    from eth_utils import to_checksum_address

    assert checksum_address(raw) == to_checksum_address("0x" + raw.hex())
