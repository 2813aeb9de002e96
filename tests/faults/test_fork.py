"""`risk-oracle fork` rehearses a live cycle on an anvil fork (of a local anvil: works offline): the keeper is
impersonated, updates land on the fork, the forked chain is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner
from web3 import Web3

from oracle.chain.governor import read_governed_asset
from oracle.cli import app
from oracle.devnet.anvil import AnvilNode
from oracle.devnet.deploy import Deployment
from oracle.devnet.seed import seed_positions

pytestmark = pytest.mark.anvil


def test_fork_rehearses_a_live_cycle_without_touching_the_chain(
    anvil: AnvilNode, w3: Web3, deployment: Deployment, tmp_path: Path, clean_chain: None
) -> None:
    seed_positions(w3, deployment, 120, method="storage")
    deployment.save(tmp_path / "deployment.json")
    governor, market = deployment.governor_contract(w3), deployment.market_contract(w3)
    before = {a.symbol: read_governed_asset(governor, market, a.token).params for a in deployment.assets}
    block = w3.eth.block_number
    result = CliRunner().invoke(
        app,
        ["fork", "--fork-url", anvil.url, "--block", str(block), "--deployment", str(tmp_path / "deployment.json")],
        env={"ORACLE_REPORTS_DIR": str(tmp_path / "reports"), "COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "this cycle would change" in result.output and "done" in result.output
    assert "0x" in result.output.split("would change")[1]  # at least one update sent on the fork
    after = {a.symbol: read_governed_asset(governor, market, a.token).params for a in deployment.assets}
    assert after == before and w3.eth.block_number == block, "the forked chain must not change"
    assert (tmp_path / "reports" / "fork-journal.sqlite").is_file()
    (report_dir,) = (tmp_path / "reports" / "fork" / "31337").iterdir()  # apart from the real chain's reports
    assert (report_dir / "manifest.json").is_file() and not (tmp_path / "reports" / "31337").exists()
