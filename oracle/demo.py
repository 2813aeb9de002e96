"""``risk-oracle demo``: the whole product on an embedded default, with nothing outside the repository.

Starts anvil, deploys the governed market of ``policies/default.toml`` with feeds replaying real price history
through the first half of 2022 (Terra/LUNA, Celsius/3AC), seeds a few hundred positions, reads a block-pinned
snapshot, forecasts each asset's next-day volatility from its feed history with the committed model, and
submits one bounded update through the governor. (Later issues replace the hand-picked raw recommendation with
the keeper's cycle.) Anvil is stopped on every exit, Ctrl-C included.
"""

from __future__ import annotations

import hashlib
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
from oracle.chain.governor import AppliedUpdate, read_governed_asset, submit_update
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.seed import SeedSummary, seed_positions
from oracle.chain.snapshot import MarketSnapshot
from oracle.chain.tx import TxSender
from oracle.config import Policy
from oracle.data.demo_prices import load_demo_rounds
from oracle.models.live import VolForecast, forecast
from oracle.models.store import load_model
from oracle.policy.bounds import BoundedUpdate, check_update, clamp_update
from oracle.policy.params import RiskParams

# The hand-picked raw recommendation of this first demo: de-risk WETH after the June 2022 crash, further than
# the bounds allow in one step, so that the clamp is visible.
DEMO_ASSET = "WETH"
DEMO_RAW = RiskParams(ltv=7500, liquidation_threshold=8100, liquidation_bonus=650)


class DemoResult(BaseModel):
    """What one demo run did, as written to ``update.json``."""

    model_config = ConfigDict(frozen=True)

    deployment: Deployment
    seeded: SeedSummary
    bounded: BoundedUpdate
    applied: AppliedUpdate
    report_dir: str


def _params_table(title: str, bounded: BoundedUpdate, applied: AppliedUpdate) -> Table:
    table = Table(title=title, caption="raw = the recommendation before bounds; bounded = what was submitted")
    for col in ("param", "before", "raw", "bounded", "Δ bps", "binding limit", "on chain"):
        table.add_column(col, justify="left" if col in ("param", "binding limit") else "right", no_wrap=True)
    for clamp in bounded.clamps:
        p = clamp.param
        table.add_row(
            p.label,
            str(clamp.current),
            str(clamp.raw),
            str(clamp.bounded),
            f"{clamp.bounded - clamp.current:+d}",
            clamp.binding,
            str(applied.new.get(p)),
        )
    return table


def _forecast_table(snapshot: MarketSnapshot, forecasts: tuple[VolForecast, ...]) -> Table:
    table = Table(title=f"market at block {snapshot.block_number}: next-day volatility from on-chain feed history")
    for col in ("asset", "price", "σ 1d", "VaR99 1d", "liq. ≤10 % drop", "source"):
        table.add_column(col, justify="left" if col in ("asset", "source") else "right", no_wrap=True)
    for a, f in zip(snapshot.assets, forecasts, strict=True):
        table.add_row(a.symbol, f"{a.price_usd:,.2f}", f"{f.sigma:.2%}", f"{f.var99:.1%}",
                      f"${a.liquidation_density_usd['10%']:,.0f}", f.source + (f" ({f.reason})" if f.reason else ""))
    return table


def run_demo(policy: Policy, positions: int, reports_dir: Path, console: Console) -> DemoResult:
    """Run the demo end to end on a fresh anvil; returns what it did."""
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
        forecasts = forecast(snapshot, load_model()[0])
        console.print(_forecast_table(snapshot, forecasts))

        governor, market = deployment.governor_contract(w3), deployment.market_contract(w3)
        asset = deployment.asset(DEMO_ASSET).token
        state = read_governed_asset(governor, market, asset)
        if state.bounds is None:  # deploy_market sets bounds for every asset
            raise RuntimeError(f"governor has no bounds for {DEMO_ASSET}")
        bounded = clamp_update(asset, state.params, DEMO_RAW, state.bounds, state.last_changed_at, state.timestamp)
        valid_until = state.timestamp + policy.update.valid_for_s
        rejection = check_update(
            asset, state.params, bounded.bounded, state.bounds, state.last_changed_at, state.timestamp + 1,
            valid_until, state.paused,
        )
        if rejection is not None:  # the mirror predicts a revert: nothing is sent
            raise RuntimeError(f"bounded update would be rejected: {rejection}")

        report_dir = reports_dir / str(deployment.chain_id) / str(state.block)
        report_dir.mkdir(parents=True, exist_ok=True)
        record = bounded.model_dump_json(indent=1)
        (report_dir / "update.json").write_text(record + "\n")
        report_hash = hashlib.sha256((record + "\n").encode()).digest()

        applied = submit_update(keeper, governor, asset, bounded.bounded, report_hash, valid_until)
        after = read_governed_asset(governor, market, asset)
        if after.params != bounded.bounded:
            raise RuntimeError(f"chain holds {after.params}, expected {bounded.bounded}")
        result = DemoResult(
            deployment=deployment, seeded=seeded, bounded=bounded, applied=applied, report_dir=str(report_dir)
        )
        (report_dir / "demo.json").write_text(json.dumps(json.loads(result.model_dump_json()), indent=1) + "\n")

    console.print(_params_table(f"{DEMO_ASSET} risk parameters (bps)", bounded, applied))
    next_allowed = ", ".join(
        f"{c.param.label} {time.strftime('%Y-%m-%d %H:%M', time.gmtime(c.next_change_at))} UTC"
        for c in bounded.clamps
        if c.next_change_at
    )
    console.print(
        f"update #{applied.update_id} in tx {applied.tx_hash} (block {applied.block}, gas {applied.gas_used:,}); "
        f"reportHash {applied.report_hash[:18]}…"
    )
    console.print(f"next allowed change: {next_allowed}")
    console.print(f"record written to {report_dir}/  ({time.monotonic() - started:.1f} s, anvil stopped)")
    return result

