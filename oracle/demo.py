"""``risk-oracle demo``: the whole product on an embedded default, with nothing outside the repository.

Starts anvil, deploys the governed market of ``policies/default.toml`` with feeds replaying real price history
through the first half of 2022 (Terra/LUNA, Celsius/3AC), seeds a few hundred positions, reads a block-pinned
snapshot, forecasts each asset's next-day volatility from its feed history with the committed model, and
then runs one live keeper cycle: recommends LTV / LT / LB per asset with the calibrated policy, bounds,
stress-tests (risk gate) and explains them (SHAP), writes the record, and submits every update that passes through
the governor, each simulated at the cycle's block and journaled before it is sent. Anvil is stopped on every exit,
Ctrl-C included.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.chain.deploy import Deployment, deploy_market
from oracle.chain.governor import AppliedUpdate, applied_update, read_governed_asset
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.seed import SeedSummary, seed_positions
from oracle.chain.snapshot import MarketSnapshot
from oracle.chain.tx import TxSender
from oracle.config import Policy
from oracle.data.demo_prices import load_demo_rounds
from oracle.errors import PolicyError
from oracle.execution.journal import Journal
from oracle.execution.submit import FeePolicy, Submitter
from oracle.explain.summary import print_recommendation
from oracle.keeper import CycleResult, Keeper, load_forecaster
from oracle.models.live import VolForecast, forecast
from oracle.policy.calibrate import load_calibration
from oracle.policy.params import Param


class DemoResult(BaseModel):
    """What one demo run did, as written to ``demo.json``."""

    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    seeded: SeedSummary
    cycle: CycleResult
    applied: list[AppliedUpdate]
    report_dir: str


def _applied_table(applied: list[AppliedUpdate], symbols: dict[str, str]) -> Table:
    table = Table(title="sent by the keeper (simulated at the cycle's block, journaled, then sent)")
    for col in ("asset", "update", "LTV/LT/LB before", "after", "tx", "gas"):
        table.add_column(col, justify="left" if col in ("asset", "tx") else "right", no_wrap=True)
    for a in applied:
        table.add_row(symbols[a.asset.lower()], f"#{a.update_id}", "/".join(str(a.old.get(p)) for p in Param),
                      "/".join(str(a.new.get(p)) for p in Param), f"{a.tx_hash[:10]}…", f"{a.gas_used:,}")
    return table


def _forecast_table(snapshot: MarketSnapshot, forecasts: tuple[VolForecast, ...]) -> Table:
    table = Table(title=f"market at block {snapshot.block_number}: next-day volatility from on-chain feed history")
    for col in ("asset", "price", "σ 1d", "VaR99 1d", "liq. ≤10 % drop", "source"):
        table.add_column(col, justify="left" if col in ("asset", "source") else "right", no_wrap=True)
    for a, f in zip(snapshot.assets, forecasts, strict=True):
        table.add_row(a.symbol, f"{a.price_usd:,.2f}", f"{f.sigma:.2%}", f"{f.var99:.1%}",
                      f"${a.liquidation_density_usd['10%']:,.0f}", f.source + (f" ({f.reason})" if f.reason else ""))
    return table


def run_demo(
    policy: Policy, positions: int, reports_dir: Path, console: Console, keep_running: bool = False
) -> DemoResult:
    """Run the demo end to end on a fresh anvil; returns what it did. With ``keep_running`` the chain stays up
    (``deployment.json`` in the record directory) until Ctrl-C or SIGTERM, for ``recommend`` / ``snapshot``."""
    started = time.monotonic()
    with AnvilNode() as node:
        console.print(f"[bold]anvil[/] listening on {node.url}")
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 30}))
        owner = TxSender(w3, ANVIL_DEFAULT_KEY)
        keeper = TxSender(w3, ANVIL_KEEPER_KEY)
        guardian_address = TxSender(w3, ANVIL_GUARDIAN_KEY).address

        deployment = deploy_market(
            w3, owner, policy.market, keeper=keeper.address, guardian=guardian_address,
            price_history=load_demo_rounds(),
        )
        console.print(
            f"deployed governor {deployment.governor}, market {deployment.market}, "
            f"{len(deployment.assets)} collateral assets with price history (block {deployment.block})"
        )
        seeded = seed_positions(w3, deployment, positions)
        console.print(
            f"seeded {seeded.positions} positions ({seeded.with_debt} borrowing, {seeded.near_liquidation} near "
            f"liquidation, {seeded.whales} whales), debt {seeded.total_debt / 10**deployment.stable_decimals:,.0f} "
            f"{policy.market.stable.symbol}, {seeded.requests} transactions"
        )

        source = ChainSource(w3, NativeMarketAdapter(deployment.market), deployment.governor,
                             deployment.multicall, policy.snapshot)
        snapshot = read_snapshot(source)
        model, card = load_forecaster()
        console.print(_forecast_table(snapshot, forecast(snapshot, model)))

        journal_path = reports_dir / "demo-journal.sqlite"  # a fresh chain: a fresh journal
        journal_path.unlink(missing_ok=True)
        journal = Journal(journal_path)
        governor = deployment.governor_contract(w3)
        submitter = Submitter(w3, keeper.account, governor, journal, FeePolicy())
        cycle = Keeper(source, policy, load_calibration(policy), model, journal, reports_dir, submitter,
                       card).run_cycle(dry_run=False)
        journal.close()
        if cycle.status != "done" or cycle.recommendation is None or cycle.report_dir is None:
            raise PolicyError(f"keeper cycle {cycle.status}: {cycle.detail}")
        print_recommendation(cycle.recommendation, snapshot.chain_id, console, snapshot.paused)

        applied = [applied_update(governor, w3.eth.get_transaction_receipt(h)) for h in cycle.sent.values()]
        market = deployment.market_contract(w3)
        for rec in cycle.recommendation.assets:  # the chain holds exactly what the keeper reported
            if rec.bounded is None:
                continue
            state = read_governed_asset(governor, market, deployment.asset(rec.asset).token)
            expected = rec.bounded.bounded if rec.asset in cycle.sent else rec.bounded.current
            if state.params != expected:
                raise PolicyError(f"{rec.asset}: chain holds {state.params}, expected {expected}")
        report_dir = cycle.report_dir
        result = DemoResult(deployment=deployment, seeded=seeded, cycle=cycle, applied=applied,
                            report_dir=str(report_dir))
        (report_dir / "demo.json").write_text(json.dumps(json.loads(result.model_dump_json()), indent=1) + "\n")
        deployment.save(report_dir / "deployment.json")

        symbols = {a.token.lower(): a.symbol for a in deployment.assets}
        if applied:
            console.print(_applied_table(applied, symbols))
            console.print(f"reportHash {applied[0].report_hash[:18]}… = sha256 of {report_dir}/manifest.json")
        else:
            console.print("no update sent this cycle")
        for symbol, why in cycle.not_sent.items():
            console.print(f"{symbol}: not sent ({why})")
        console.print(f"journal {journal_path}: cycle #{cycle.cycle_id} {cycle.status}")
        if keep_running:
            console.print(f"report {report_dir}/report.html; anvil keeps running at {node.url} (Ctrl-C stops it); "
                          f"try\n  risk-oracle verify {report_dir} --rpc {node.url}\n  risk-oracle recommend "
                          f"--rpc {node.url} --deployment {report_dir}/deployment.json")
            while True:
                time.sleep(3600)
    console.print(f"report written to {report_dir}/report.html (+ report.md, report.json, charts/, manifest.json); "
                  f"check it with: risk-oracle verify {report_dir}  ({time.monotonic() - started:.1f} s, anvil stopped)")
    return result

