"""The composition root: the one place that builds a ``Keeper`` (and its web3 connection, journal, submitter,
volatility model and calibrated policy) from settings.

Why one place: the CLI's ``cycle`` and ``run``, ``fork``, the demo, the benchmarks and the tests must run the same
keeper, wired the same way; a second wiring is a second product. Everything below this module receives its parts
ready-made and never reads settings or files to find them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.reader import ChainSource
from oracle.chain.rpc import make_web3, rpc_call
from oracle.chain.tx import contract_at
from oracle.config import Settings, load_keeper_account
from oracle.devnet.deploy import Deployment
from oracle.domain.policy import Policy
from oracle.errors import ConfigError
from oracle.execution.journal import Journal
from oracle.execution.lock import journal_lock, keeper_lock
from oracle.execution.submit import FeePolicy, NodeSignedSubmitter, Submitter
from oracle.keeper import Keeper, load_forecaster
from oracle.policy.calibrate import load_calibration

log = logging.getLogger("oracle.app")


@dataclass(frozen=True)
class MarketAddresses:
    """Where a governed market lives on its chain."""

    market: str
    governor: str
    multicall: str
    chain_id: int | None = None  # the chain they are on, when known (deployment.json): checked before live cycles

    @classmethod
    def of(cls, deployment: Deployment) -> MarketAddresses:
        return cls(deployment.market, deployment.governor, deployment.multicall, deployment.chain_id)

    @classmethod
    def resolve(cls, settings: Settings, deployment: Path | None) -> MarketAddresses:
        """From ``deployment.json`` when given, else from the settings; raises ``ConfigError`` when incomplete."""
        if deployment is not None:
            return cls.of(Deployment.load(deployment))
        if not (settings.market and settings.governor and settings.multicall):
            raise ConfigError(
                "market, governor and multicall addresses needed: --deployment or ORACLE_MARKET, "
                "ORACLE_GOVERNOR and ORACLE_MULTICALL"
            )
        return cls(settings.market, settings.governor, settings.multicall, settings.chain_id)


def chain_source(w3: Web3, addresses: MarketAddresses, policy: Policy) -> ChainSource:
    """What a snapshot is read from: the node, the market's adapter, the governor and Multicall3."""
    return ChainSource(
        w3, NativeMarketAdapter(addresses.market), addresses.governor, addresses.multicall, policy.snapshot
    )


def build_keeper(
    w3: Web3,
    addresses: MarketAddresses,
    policy: Policy,
    journal: Journal,
    reports_dir: Path,
    *,
    signer: LocalAccount | str | None = None,
    fees: FeePolicy | None = None,
    model: Path | None = None,
) -> Keeper:
    """A keeper on the market at ``addresses``. ``signer``: the keeper's account (live cycles), an address the
    node signs for (an impersonated keeper on a fork), or ``None`` (dry runs only)."""
    source = chain_source(w3, addresses, policy)
    submitter: Submitter | None = None
    if signer is not None:
        governor = contract_at(w3, "RiskParameterGovernor", addresses.governor)
        fees = fees or FeePolicy()
        submitter = (
            NodeSignedSubmitter(w3, signer, governor, journal, fees)
            if isinstance(signer, str)
            else Submitter(w3, signer, governor, journal, fees)
        )
    vol_model, card = load_forecaster(model)
    calibration = load_calibration(policy)
    return Keeper(
        source, policy, calibration, vol_model, journal, reports_dir, submitter, card, chain_id=addresses.chain_id
    )


@contextmanager
def operated_keeper(
    settings: Settings,
    policy: Policy,
    *,
    rpc: str | None = None,
    deployment: Path | None = None,
    live: bool = False,
    model: Path | None = None,
) -> Iterator[Keeper]:
    """The keeper of ``cycle`` and ``run``, ready to operate: node, addresses, journal and reports from the settings
    (the keeper key only when ``live``); its journal locked for this process (and, live, its key on this chain);
    the setup checked on chain (chain id, contracts, risk admin and, live, the keeper address: ``SetupError``
    otherwise); and cycles an earlier process left ``running`` marked abandoned (safe: the lock says no other
    keeper is running on this journal). Locks and journal are released on exit."""
    with ExitStack() as stack:
        stack.enter_context(journal_lock(settings.journal))
        addresses = MarketAddresses.resolve(settings, deployment)
        w3 = make_web3(rpc or settings.rpc_url, settings.rpc_timeout_s)
        signer = load_keeper_account(settings) if live else None
        journal = Journal(settings.journal)
        stack.callback(journal.close)
        keeper = build_keeper(
            w3, addresses, policy, journal, settings.reports_dir, signer=signer, fees=settings.execution, model=model
        )
        if keeper.submitter is not None:
            chain_id = rpc_call(keeper.source.w3, lambda: keeper.source.w3.eth.chain_id, "chain id")
            stack.enter_context(keeper_lock(chain_id, keeper.submitter.address))
        keeper.check_setup(live=live)
        abandoned = keeper.journal.abandon_running()
        if abandoned:
            log.warning("marked %d cycle(s) left running by an earlier process as abandoned", abandoned)
        yield keeper
