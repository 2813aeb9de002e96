"""The recommendation pipeline on a real anvil market: every proposed update is one the governor accepts, the
explanations add up, and ``risk-oracle recommend`` prints the table."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.governor import read_governed_asset, submit_update
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.tx import TxSender
from oracle.cli import app
from oracle.devnet.deploy import Deployment
from oracle.devnet.seed import seed_positions
from oracle.domain.policy import Policy
from oracle.explain.attribution import ADDITIVITY_TOL_BPS
from oracle.models.store import load_model
from oracle.pipeline import analyse
from oracle.policy.calibrate import load_calibration

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def seeded(w3: Web3, deployment: Deployment) -> Deployment:
    seed_positions(w3, deployment, 150, method="storage")
    return deployment


def test_proposed_updates_are_accepted_on_chain(
    w3: Web3, seeded: Deployment, policy: Policy, keeper: TxSender, clean_chain: None
) -> None:
    source = ChainSource(w3, NativeMarketAdapter(seeded.market), seeded.governor, seeded.multicall, policy.snapshot)
    snap = read_snapshot(source)
    model = load_model()[0]
    analysis = analyse(snap, policy, load_calibration(policy), model)
    background = analysis.background
    assert background.shape[0] > 4 * 20  # recent days of every asset
    rec = analysis.recommendation
    assert all(a.attribution.background_rows == background.shape[0] for a in rec.assets)
    proposed = [a for a in rec.assets if a.proposed]
    assert proposed, "the 2022 crash should make the oracle move something"
    for a in rec.assets:
        for out in a.attribution.outputs:
            assert out.additivity_error_bps <= ADDITIVITY_TOL_BPS
        assert a.gate is None or a.gate.current.paths == policy.risk.paths
    governor = seeded.governor_contract(w3)
    for a in proposed:
        assert a.bounded is not None
        token = seeded.asset(a.asset).token
        submit_update(keeper, governor, token, a.bounded.bounded, b"\x01" * 32, snap.block_timestamp + 3600)
        state = read_governed_asset(governor, seeded.market_contract(w3), token)
        assert state.params == a.bounded.bounded


def test_recommend_command_prints_the_table(anvil, seeded: Deployment, tmp_path: Path) -> None:
    path = tmp_path / "deployment.json"
    seeded.save(path)
    result = CliRunner().invoke(
        app, ["recommend", "--rpc", anvil.url, "--deployment", str(path)], env={"COLUMNS": "220"}
    )
    assert result.exit_code == 0, result.output
    for text in ("WETH", "WBTC", "LINK", "AAVE", "binding", "vol ", "base", "risk gate"):
        assert text in result.output
