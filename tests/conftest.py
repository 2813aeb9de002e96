"""Shared fixtures: a real anvil node (never a mocked web3), a deployed, governed market, a seeded one (120
borrowers) and a fresh keeper journal.

A missing anvil is a failure, not a skip: ``find_tool`` raises ``ToolMissingError``. Every test that starts an
anvil node carries the ``anvil`` marker, so that ``pytest -m "not anvil"`` is a chain-free suite: a test without
the marker that starts one fails (``pytest_runtest_setup`` below).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender
from oracle.config import load_policy
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import Deployment, deploy_market
from oracle.devnet.seed import seed_positions
from oracle.domain.policy import Policy
from oracle.execution.journal import Journal

_marked = {"anvil": False}  # whether the test being set up or run carries the anvil marker
_start = AnvilNode.start


def _checked_start(self: AnvilNode) -> AnvilNode:
    if not _marked["anvil"]:
        raise AssertionError("this test starts an anvil node but has no @pytest.mark.anvil (pytestmark)")
    return _start(self)


AnvilNode.start = _checked_start  # type: ignore[method-assign]


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _marked["anvil"] = item.get_closest_marker("anvil") is not None


@pytest.fixture(scope="module")
def anvil() -> Iterator[AnvilNode]:
    """A fresh anvil per test module, on a port anvil chose itself."""
    with AnvilNode() as node:
        yield node


@pytest.fixture(scope="module")
def w3(anvil: AnvilNode) -> Web3:
    return make_web3(anvil.url, timeout_s=30)


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
def clean_chain(
    w3: Web3, deployment: Deployment, owner: TxSender, keeper: TxSender, guardian: TxSender
) -> Iterator[None]:
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
