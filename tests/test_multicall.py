"""Multicall3 batching on a real anvil: chunking gives the same results as one batch, per-call failures are
tolerated or named, the CLI prints a snapshot."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from web3 import Web3

from oracle.chain.multicall import Call, Multicall, encode_call
from oracle.devnet.deploy import Deployment
from oracle.devnet.seed import seed_positions
from oracle.domain.snapshot import MarketSnapshot
from oracle.errors import MulticallError

pytestmark = [pytest.mark.anvil, pytest.mark.usefixtures("clean_chain")]


def _borrower_calls(deployment: Deployment, n: int, allow_failure: bool = False) -> list[Call]:
    return [
        Call(
            deployment.market,
            allow_failure,
            encode_call("borrowerAt(uint256)", ["uint256"], [i]),
            f"borrowerAt({i})",
            8_000,
        )
        for i in range(n)
    ]


def test_chunking_changes_nothing_but_the_number_of_requests(w3: Web3, deployment: Deployment) -> None:
    seed_positions(w3, deployment, 40, method="storage")
    block = w3.eth.block_number
    calls = _borrower_calls(deployment, 40)
    one = Multicall(w3, deployment.multicall)
    by_size = Multicall(w3, deployment.multicall, max_calldata_bytes=2_000)
    by_gas = Multicall(w3, deployment.multicall, max_gas=50_000)
    results = [mc.run(calls, block) for mc in (one, by_size, by_gas)]
    assert results[0] == results[1] == results[2]
    assert (one.eth_calls, by_size.eth_calls, by_gas.eth_calls) == (
        1,
        4,
        7,
    )  # 10 calls of 196 bytes per 2 kB chunk; 6 calls of 8k gas per 50k
    assert all(r.success for r in results[0])


def test_failed_call_is_named_or_tolerated(w3: Web3, deployment: Deployment) -> None:
    block = w3.eth.block_number
    mc = Multicall(w3, deployment.multicall)
    tolerated = mc.run(_borrower_calls(deployment, 2, allow_failure=True), block)
    assert [r.success for r in tolerated] == [False, False]  # no borrowers yet: index out of bounds
    with pytest.raises(MulticallError, match=r"borrowerAt\(0\): reverted: Panic\(code=50\) at block"):
        mc.run(_borrower_calls(deployment, 2), block)


def test_cli_snapshot_json_and_summary(anvil, w3: Web3, deployment: Deployment, tmp_path: Path) -> None:
    seed_positions(w3, deployment, 25, method="storage")
    path = tmp_path / "deployment.json"
    deployment.save(path)
    cli = Path(sys.executable).with_name("risk-oracle")
    out = subprocess.run(
        [str(cli), "snapshot", "--rpc", anvil.url, "--deployment", str(path), "--json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    snap = MarketSnapshot.model_validate(json.loads(out))
    assert len(snap.positions) == 25 and snap.block_number == w3.eth.block_number
    summary = subprocess.run(
        [str(cli), "snapshot", "--rpc", anvil.url, "--deployment", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env={"COLUMNS": "140"},
    ).stdout
    assert "collateral assets" in summary and "WETH" in summary and "health factors" in summary
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}  # piped into a file, no terminal width known
    piped = subprocess.run(
        [str(cli), "snapshot", "--rpc", anvil.url, "--deployment", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    assert max(len(line) for line in piped.splitlines()) > 80  # tables and lines are not cut at 80 columns
    assert deployment.market in piped and "…" not in piped, piped  # nothing truncated
    bad = subprocess.run(
        [str(cli), "snapshot", "--rpc", "http://127.0.0.1:9", "--deployment", str(path)], capture_output=True, text=True
    )
    assert bad.returncode == 2 and "RPC failed after 4 attempts" in bad.stdout
