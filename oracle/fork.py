"""``risk-oracle fork``: rehearse one live cycle on an anvil fork of a real chain.

Why a fork: what the keeper would send is best seen by sending it. The governor's keeper is impersonated (no key
needed), updates are really mined on the fork, the parameters are read back from the fork's contracts, and the
fork is gone afterwards; the real chain is never written to. Reports carry the real chain's id, so they go to
``<reports_dir>/fork/``, apart from the real chain's.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict
from web3.types import RPCEndpoint

from oracle.app import MarketAddresses, build_keeper
from oracle.chain.governor import read_governed_asset
from oracle.chain.reader import read_snapshot
from oracle.chain.rpc import make_web3
from oracle.chain.tx import contract_at
from oracle.config import Settings
from oracle.devnet.anvil import AnvilNode
from oracle.domain.params import RiskParams
from oracle.domain.policy import Policy
from oracle.execution.journal import Journal
from oracle.keeper import CycleResult

FUNDING_WEI = 10**19  # gas money for the impersonated keeper on the fork


class ForkResult(BaseModel):
    """What the rehearsed cycle did, and each asset's parameters before and after it on the fork."""

    model_config = ConfigDict(frozen=True)

    fork_url: str
    chain_id: int
    keeper: str
    cycle: CycleResult
    before: dict[str, RiskParams]
    after: dict[str, RiskParams]


def rehearse_on_fork(
    settings: Settings,
    policy: Policy,
    fork_url: str,
    *,
    block: int | None = None,
    deployment: Path | None = None,
    model: Path | None = None,
) -> ForkResult:
    """Fork ``fork_url`` (at ``block``), run one live cycle as the impersonated keeper, and return what changed."""
    addresses = MarketAddresses.resolve(settings, deployment)
    with AnvilNode(fork_url=fork_url, fork_block=block) as node:
        w3 = make_web3(node.url, settings.rpc_timeout_s)
        governor = contract_at(w3, "RiskParameterGovernor", addresses.governor)
        market = contract_at(w3, "LendingMarket", addresses.market)
        keeper_address = governor.functions.keeper().call()
        for method, params in (
            ("anvil_impersonateAccount", [keeper_address]),
            ("anvil_setBalance", [keeper_address, hex(FUNDING_WEI)]),
        ):
            w3.provider.make_request(RPCEndpoint(method), params)
        journal_path = settings.reports_dir / "fork-journal.sqlite"  # a fresh fork: a fresh journal
        journal_path.unlink(missing_ok=True)
        journal = Journal(journal_path)
        try:
            keeper = build_keeper(
                w3,
                addresses,
                policy,
                journal,
                settings.reports_dir / "fork",
                signer=keeper_address,
                fees=settings.execution,
                model=model,
            )
            start = read_snapshot(keeper.source)
            tokens = {a.symbol: a.address for a in start.assets}
            before = {a.symbol: a.params for a in start.assets}
            cycle = keeper.run_cycle(dry_run=False)
            after = {s: read_governed_asset(governor, market, t).params for s, t in tokens.items()}
            chain_id = w3.eth.chain_id
        finally:
            journal.close()
    return ForkResult(
        fork_url=fork_url, chain_id=chain_id, keeper=keeper_address, cycle=cycle, before=before, after=after
    )
