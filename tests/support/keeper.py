"""Building a keeper for a deployed test market, and reading the parameters it governs."""

from __future__ import annotations

from pathlib import Path

from eth_account import Account
from web3 import Web3

from oracle.app import MarketAddresses
from oracle.app import build_keeper as build_app_keeper
from oracle.chain.governor import read_governed_asset
from oracle.devnet.anvil import ANVIL_KEEPER_KEY
from oracle.devnet.deploy import Deployment
from oracle.domain.params import RiskParams
from oracle.domain.policy import Policy
from oracle.execution.journal import Journal
from oracle.execution.submit import FeePolicy
from oracle.keeper import Keeper


def build_keeper(
    w3: Web3, d: Deployment, policy: Policy, journal: Journal, reports_dir: Path, live: bool = True
) -> Keeper:
    """A keeper on ``d`` through ``w3`` (the app's composition root), with the anvil keeper key when ``live``
    (fast receipt polling)."""
    signer = Account.from_key(ANVIL_KEEPER_KEY) if live else None
    return build_app_keeper(
        w3, MarketAddresses.of(d), policy, journal, reports_dir, signer=signer, fees=FeePolicy(poll_s=0.05)
    )


def governed_params(w3: Web3, d: Deployment) -> dict[str, RiskParams]:
    """Every asset's parameters on chain, by symbol."""
    governor, market = d.governor_contract(w3), d.market_contract(w3)
    return {a.symbol: read_governed_asset(governor, market, a.token).params for a in d.assets}
