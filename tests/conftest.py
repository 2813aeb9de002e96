"""Shared fixtures: a real anvil node (never a mocked web3), a deployed, governed market, a seeded one (120
borrowers) and a fresh keeper journal.

A missing anvil is a failure, not a skip: ``find_tool`` raises ``ToolMissingError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from oracle.chain.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.chain.deploy import Deployment, deploy_market
from oracle.chain.seed import seed_positions
from oracle.chain.tx import TxSender
from oracle.config import Policy, load_policy
from oracle.data.demo_prices import load_demo_rounds
from oracle.execution.journal import Journal


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    """A fresh anvil per test module, on a port anvil chose itself."""
    with AnvilNode() as node:
        yield node


@pytest.fixture(scope="module")
def w3(anvil: AnvilNode) -> Web3:
    return Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 30}))


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


@pytest.fixture(scope="module")
def owner(w3: Web3) -> TxSender:
    return TxSender(w3, ANVIL_DEFAULT_KEY)


@pytest.fixture(scope="module")
def keeper(w3: Web3) -> TxSender:
    return TxSender(w3, ANVIL_KEEPER_KEY)


@pytest.fixture(scope="module")
def guardian(w3: Web3) -> TxSender:
    return TxSender(w3, ANVIL_GUARDIAN_KEY)


@pytest.fixture(scope="module")
def deployment(w3: Web3, owner: TxSender, keeper: TxSender, guardian: TxSender, policy: Policy) -> Deployment:
    """The demo market of ``policies/default.toml``, deployed once per module."""
    return deploy_market(
        w3, owner, policy.market, keeper=keeper.address, guardian=guardian.address, price_history=load_demo_rounds()
    )


@pytest.fixture
def clean_chain(w3: Web3, deployment: Deployment, owner: TxSender, keeper: TxSender, guardian: TxSender) -> Iterator[None]:
    """Each test starts from the freshly deployed state and leaves none of its changes behind."""
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield
    w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    for sender in (owner, keeper, guardian):
        sender.resync_nonce()


@pytest.fixture(scope="module")
def seeded(w3: Web3, deployment: Deployment) -> Deployment:
    """The module's market with 120 borrowers (written to storage: seconds, not minutes)."""
    seed_positions(w3, deployment, 120, method="storage")
    return deployment


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "journal.sqlite")
    yield j
    j.close()
