"""Building a keeper for a deployed test market, and reading the parameters it governs."""

from __future__ import annotations

from pathlib import Path

from eth_account import Account
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.anvil import ANVIL_KEEPER_KEY
from oracle.chain.deploy import Deployment
from oracle.chain.governor import read_governed_asset
from oracle.chain.reader import ChainSource
from oracle.config import Policy
from oracle.execution.journal import Journal
from oracle.execution.submit import FeePolicy, Submitter
from oracle.keeper import Keeper, load_forecaster
from oracle.policy.calibrate import load_calibration
from oracle.policy.params import RiskParams


def build_keeper(w3: Web3, d: Deployment, policy: Policy, journal: Journal, reports_dir: Path,
                 live: bool = True) -> Keeper:
    """A keeper on ``d`` through ``w3``, with the anvil keeper key when ``live`` (fast receipt polling)."""
    source = ChainSource(w3, NativeMarketAdapter(d.market), d.governor, d.multicall, policy.snapshot)
    submitter = Submitter(w3, Account.from_key(ANVIL_KEEPER_KEY), d.governor_contract(w3), journal,
                          FeePolicy(poll_s=0.05)) if live else None
    model, card = load_forecaster()
    return Keeper(source, policy, load_calibration(policy), model, journal, reports_dir, submitter, card)


def governed_params(w3: Web3, d: Deployment) -> dict[str, RiskParams]:
    """Every asset's parameters on chain, by symbol."""
    governor, market = d.governor_contract(w3), d.market_contract(w3)
    return {a.symbol: read_governed_asset(governor, market, a.token).params for a in d.assets}
