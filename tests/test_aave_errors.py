"""Aave's numeric revert reasons and our Aave target's custom errors decode by name; the reason table is the one
of the pinned ``@aave/core-v3``; the reserve bitmap decodes as Aave lays it out. No chain needed."""

from __future__ import annotations

import json
import re
from pathlib import Path

from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from oracle.chain.aave_errors import AAVE_CORE_VERSION, AAVE_ERRORS, AaveRevert, aave_error_name, decode_aave_revert
from oracle.chain.aave_reserve import ReserveConfiguration
from oracle.devnet.aave import aave_package_dir
from oracle.domain.params import RiskParams

REPO_ROOT = Path(__file__).resolve().parents[1]
_CONSTANT = re.compile(r"string public constant (\w+) = '(\d+)'; // '?(.*?)'?\s*$", re.MULTILINE)


def _error_string(reason: str) -> bytes:
    return function_signature_to_4byte_selector("Error(string)") + abi_encode(["string"], [reason])


def test_table_is_the_pinned_packages_errors_sol() -> None:
    package = json.loads((REPO_ROOT / "package.json").read_text())
    assert package["dependencies"]["@aave/core-v3"] == AAVE_CORE_VERSION  # exact pin, no range
    installed = json.loads((aave_package_dir() / "package.json").read_text())
    assert installed["version"] == AAVE_CORE_VERSION
    source = (aave_package_dir() / "contracts/protocol/libraries/helpers/Errors.sol").read_text()
    published = {code: (name, message) for name, code, message in _CONSTANT.findall(source)}
    assert len(published) == 90
    assert published == AAVE_ERRORS


def test_aave_reason_decodes_by_name() -> None:
    err = decode_aave_revert(_error_string("20"), context="configureReserveAsCollateral")
    assert isinstance(err, AaveRevert)
    assert (err.name, err.code) == ("INVALID_RESERVE_PARAMS", "20")
    assert str(err) == (
        "reverted in configureReserveAsCollateral: INVALID_RESERVE_PARAMS(code=20, "
        "message=Invalid risk parameters for the reserve)"
    )
    assert aave_error_name("35") == "HEALTH_FACTOR_LOWER_THAN_LIQUIDATION_THRESHOLD"
    assert aave_error_name("48") is None  # Aave skips 48


def test_other_reverts_keep_their_names() -> None:
    # a string that is not an Aave code stays Error(string); an unknown number too
    assert (decode_aave_revert(_error_string("boom")).name, decode_aave_revert(_error_string("999")).name) == (
        "Error",
        "Error",
    )
    # our target's custom errors, with their arguments
    frozen = function_signature_to_4byte_selector("ReserveFrozen(address)") + abi_encode(
        ["address"], ["0x" + "11" * 20]
    )
    err = decode_aave_revert("0x" + frozen.hex(), context="submitUpdate")
    assert (err.name, err.arguments) == ("ReserveFrozen", {"asset": "0x" + "11" * 20})
    bad_debt = function_signature_to_4byte_selector("AaveBonusCreatesBadDebt(uint256,uint256)") + abi_encode(
        ["uint256", "uint256"], [9_500, 10_600]
    )
    assert decode_aave_revert(bad_debt).arguments == {"liquidationThreshold": 9_500, "liquidationBonus": 10_600}
    # the governor's errors still decode (through oracle.chain.artifacts)
    too_soon = function_signature_to_4byte_selector("TooSoon(uint8,uint256)") + abi_encode(["uint8", "uint256"], [1, 9])
    assert decode_aave_revert(too_soon).name == "TooSoon"
    assert decode_aave_revert(b"").name == "EmptyRevert"


def test_reserve_bitmap_decodes_as_aave_lays_it_out() -> None:
    word = (
        8_000
        | 8_250 << 16
        | 10_500 << 32
        | 18 << 48
        | 1 << 56  # active
        | 1 << 58  # borrowing
        | 1 << 60  # paused
        | 1_000 << 64  # reserve factor
        | 123 << 80  # borrow cap
        | 456 << 116  # supply cap
        | 7 << 168  # eMode category
    )
    config = ReserveConfiguration.decode(word)
    assert (config.ltv, config.liquidation_threshold, config.liquidation_bonus, config.decimals) == (
        8_000,
        8_250,
        10_500,
        18,
    )
    assert (config.active, config.frozen, config.borrowing_enabled, config.paused) == (True, False, True, True)
    assert (config.reserve_factor, config.borrow_cap, config.supply_cap, config.emode_category) == (1_000, 123, 456, 7)
    assert config.is_collateral
    assert config.risk_params() == RiskParams(ltv=8_000, liquidation_threshold=8_250, liquidation_bonus=500)
    assert not ReserveConfiguration.decode(1 << 56).is_collateral
