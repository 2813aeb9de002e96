"""Fixtures of the fault tests: a seeded market (once per module) and a fresh journal per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from web3 import Web3

from oracle.chain.deploy import Deployment
from oracle.chain.seed import seed_positions
from oracle.execution.journal import Journal


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
