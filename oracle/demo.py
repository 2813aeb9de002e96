"""``risk-oracle demo``: the whole product on an embedded default, with nothing outside the repository.

Starts anvil, deploys the governed market of ``policies/default.toml`` with feeds replaying real price history
through the first half of 2022 (Terra/LUNA, Celsius/3AC), seeds a few hundred positions, reads a block-pinned
snapshot, forecasts each asset's next-day volatility from its feed history with the committed model, and
then runs one live keeper cycle: recommends LTV / LT / LB per asset with the calibrated policy, bounds,
stress-tests (risk gate) and explains them (SHAP), writes the record, and submits every update that passes through
the governor, each simulated at the cycle's block and journaled before it is sent. Anvil is stopped on every exit,
Ctrl-C included. The terminal tables are the CLI's (``oracle.cli.views``); this module only runs and reports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_typing import HexStr
from pydantic import BaseModel, ConfigDict

from oracle.app import MarketAddresses, build_keeper
from oracle.chain.governor import AppliedUpdate, applied_update, read_governed_asset
from oracle.chain.reader import read_snapshot
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import Deployment, deploy_market
from oracle.devnet.seed import SeedProgress, SeedSummary, seed_positions
from oracle.domain.forecast import VolForecast
from oracle.domain.policy import Policy
from oracle.domain.snapshot import MarketSnapshot
from oracle.errors import PolicyError
from oracle.execution.journal import Journal
from oracle.keeper import CycleResult
from oracle.models.live import forecast


class DemoResult(BaseModel):
    """What one demo run did, as written to ``demo.json``."""

    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    seeded: SeedSummary
    cycle: CycleResult
    applied: list[AppliedUpdate]
    report_dir: str


@dataclass(frozen=True)
class DemoRun:
    """A finished demo whose chain is still up (inside ``demo_chain``)."""

    url: str
    journal: Path
    snapshot: MarketSnapshot  # the market before the keeper's cycle
    forecasts: tuple[VolForecast, ...]
    result: DemoResult


def new_run_directory(reports_dir: Path) -> Path:
    """``reports_dir/demo/<UTC time>/``, created for this run only (a suffix when two runs start in the same
    second): every demo starts a fresh chain whose blocks and cycle numbers repeat the last run's, so each run keeps
    its own journal and reports instead of replacing the previous one."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for n in range(1000):
        directory = reports_dir / "demo" / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            directory.mkdir(parents=True)
        except FileExistsError:
            continue
        return directory
    raise PolicyError(f"no free demo run directory under {reports_dir / 'demo'}")


@contextmanager
def demo_chain(
    policy: Policy,
    positions: int,
    reports_dir: Path,
    say: Callable[[str], None],
    progress: SeedProgress | None = None,
) -> Iterator[DemoRun]:
    """Run the demo end to end on a fresh anvil and yield what it did while the chain is still up (for tables,
    ``verify --rpc`` or ``recommend``); anvil stops when the block exits. ``say`` gets one line per step;
    ``progress`` (optional) follows the seeding, the one step that takes long (see ``SeedProgress``)."""
    with AnvilNode() as node:
        say(f"[bold]anvil[/] listening on {node.url}")
        w3 = make_web3(node.url, timeout_s=30)
        owner = TxSender(w3, ANVIL_DEFAULT_KEY)
        keeper_account = Account.from_key(ANVIL_KEEPER_KEY)
        guardian_address = TxSender(w3, ANVIL_GUARDIAN_KEY).address

        deployment = deploy_market(
            w3,
            owner,
            policy.market,
            keeper=keeper_account.address,
            guardian=guardian_address,
            price_history=load_demo_rounds(),
        )
        say(
            f"deployed governor {deployment.governor}, market {deployment.market}, "
            f"{len(deployment.assets)} collateral assets with price history (block {deployment.block})"
        )
        say(
            f"keeper {keeper_account.address}: anvil's account 1, whose key (public test mnemonic, local chains "
            f"only) is ANVIL_KEEPER_KEY in oracle/devnet/anvil.py; owner {owner.address} (account 0), guardian "
            f"{guardian_address} (account 2)"
        )
        seeded = seed_positions(w3, deployment, positions, progress=progress)
        say(
            f"seeded {seeded.positions} positions ({seeded.with_debt} borrowing, {seeded.near_liquidation} near "
            f"liquidation, {seeded.whales} whales), debt {seeded.total_debt / 10**deployment.stable_decimals:,.0f} "
            f"{policy.market.stable.symbol}, {seeded.requests} transactions"
        )

        run_dir = new_run_directory(reports_dir)  # a fresh chain: a fresh journal; earlier runs are kept
        journal_path = run_dir / "journal.sqlite"
        journal = Journal(journal_path)
        try:
            keeper = build_keeper(w3, MarketAddresses.of(deployment), policy, journal, run_dir, signer=keeper_account)
            snapshot = read_snapshot(keeper.source)
            forecasts = forecast(snapshot, keeper.model)
            cycle = keeper.run_cycle(dry_run=False)
        finally:
            journal.close()
        if cycle.status != "done" or cycle.recommendation is None or cycle.report_dir is None:
            raise PolicyError(f"keeper cycle {cycle.status}: {cycle.detail}")

        governor = deployment.governor_contract(w3)
        applied = [applied_update(governor, w3.eth.get_transaction_receipt(HexStr(h))) for h in cycle.sent.values()]
        market = deployment.market_contract(w3)
        for rec in cycle.recommendation.assets:  # the chain holds exactly what the keeper reported
            if rec.bounded is None:
                continue
            state = read_governed_asset(governor, market, deployment.asset(rec.asset).token)
            expected = rec.bounded.bounded if rec.asset in cycle.sent else rec.bounded.current
            if state.params != expected:
                raise PolicyError(f"{rec.asset}: chain holds {state.params}, expected {expected}")
        report_dir = cycle.report_dir
        result = DemoResult(
            deployment=deployment, seeded=seeded, cycle=cycle, applied=applied, report_dir=str(report_dir)
        )
        (report_dir / "demo.json").write_text(json.dumps(json.loads(result.model_dump_json()), indent=1) + "\n")
        deployment.save(report_dir / "deployment.json")
        yield DemoRun(url=node.url, journal=journal_path, snapshot=snapshot, forecasts=forecasts, result=result)
