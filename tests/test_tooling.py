"""The project's own tooling: pinned tools are found (a missing one is an error, never a skip), anvil starts
and stops cleanly, the committed ABI matches the contracts, custom errors decode by name."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from eth_abi import encode as abi_encode
from eth_utils import function_signature_to_4byte_selector

from oracle.chain.artifacts import ABI_DIR, decode_revert
from oracle.chain.rpc import make_web3
from oracle.devnet.anvil import AnvilNode, find_tool
from oracle.errors import ToolMissingError

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_missing_tool_is_an_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORACLE_ANVIL", str(tmp_path / "no-anvil"))
    monkeypatch.chdir(tmp_path)  # no node_modules here
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolMissingError, match="npm ci"):
        find_tool("anvil")


@pytest.mark.anvil
def test_anvil_starts_answers_and_stops() -> None:
    node = AnvilNode().start()
    try:
        assert make_web3(node.url).eth.chain_id == 31337
    finally:
        node.stop()
    assert not node.running
    with pytest.raises(requests.exceptions.ConnectionError):  # the port is closed once stopped
        requests.post(node.url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2)


def test_abi_is_fresh(tmp_path: Path) -> None:
    """Recompile the contracts and compare with the committed abi/: run `make abi` when this fails."""
    out, cache = tmp_path / "out", tmp_path / "cache"
    subprocess.run(
        [str(find_tool("forge")), "build", "--skip", "test", "--out", str(out), "--cache-path", str(cache)],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
    )
    fresh = tmp_path / "abi"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "export_abi.py"), str(out), str(fresh)],
        check=True,
        capture_output=True,
    )
    committed = sorted(p.name for p in ABI_DIR.glob("*.json"))
    assert committed == sorted(p.name for p in fresh.glob("*.json"))
    for name in committed:
        assert json.loads((fresh / name).read_text()) == json.loads((ABI_DIR / name).read_text()), (
            f"abi/{name} is stale: run `make abi`"
        )


def test_decode_revert_names_builtin_and_unknown_errors() -> None:
    error_string = function_signature_to_4byte_selector("Error(string)") + abi_encode(["string"], ["boom"])
    assert decode_revert(error_string).name == "Error"
    assert decode_revert(error_string).arguments == {"reason": "boom"}
    panic = function_signature_to_4byte_selector("Panic(uint256)") + abi_encode(["uint256"], [0x11])
    assert decode_revert(panic).arguments == {"code": 0x11}
    assert decode_revert(b"\xde\xad\xbe\xef").name == "UnknownError"
    assert decode_revert(b"").name == "EmptyRevert"
    too_soon = function_signature_to_4byte_selector("TooSoon(uint8,uint256)") + abi_encode(
        ["uint8", "uint256"], [1, 99]
    )
    err = decode_revert("0x" + too_soon.hex(), context="submitUpdate")
    assert (err.name, err.arguments) == ("TooSoon", {"param": 1, "nextAllowedAt": 99})
    assert str(err) == "reverted in submitUpdate: TooSoon(param=1, nextAllowedAt=99)"
