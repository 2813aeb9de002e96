"""One backtest task: a window, a strategy and a seed, replayed hour by hour on a fresh anvil through our real
``LendingMarket``, ``PriceFeed`` and ``RiskParameterGovernor``.

A task:

1. starts anvil with its clock at the window's start, deploys the policy's market with the feeds' history before
   the window (``oracle.backtest.prices``), sets the strategy's initial parameters, and seeds the book from the
   task's seed (the same draws for every strategy: common random numbers; borrowers size their debt against the
   parameters they face);
2. steps through the window hour by hour: the chain's clock moves to the hour, each feed publishes the rounds its
   deviation threshold and heartbeat call for, the liquidator agent (``oracle.backtest.liquidator``) liquidates
   what is liquidatable and worth it, active borrowers re-lever or repay once a day, and, for a keeper strategy,
   at its cadence the real keeper runs a live cycle (snapshot, forecast, recommendation, bounds, gate, report,
   submission through the governor);
3. records what happened (``TaskResult``): bad debt, liquidations, penalties, debt an LT cut made liquidatable,
   the parameters over time, capital efficiency, updates and gas.

Nothing of the market's or the governor's rules is re-implemented here: the governor's bounds, delays and linked
rules apply to the keeper's updates exactly as they do live. Borrowers (``oracle.backtest.borrowers``) return to
their target leverage once a day at 12:00 UTC; no top-ups of collateral or new accounts yet.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from eth_account import Account
from eth_typing import HexStr
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3

from oracle.app import MarketAddresses, build_keeper
from oracle.backtest.borrowers import BorrowerAgents, plan_borrowers
from oracle.backtest.liquidator import LiquidatorAgent, MarketState, collateral_usd, debt_usd, read_state
from oracle.backtest.prices import PricePath, gas_gwei, load_paths, schedule
from oracle.backtest.windows import Window
from oracle.chain.adapters.native import WAD, NativeMarketAdapter
from oracle.chain.multicall import Multicall
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender, contract_at
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import Deployment, deploy_market, to_feed_answer
from oracle.devnet.seed import seed_positions
from oracle.domain.params import BPS, RiskParams
from oracle.domain.policy import Policy
from oracle.errors import ConfigError
from oracle.execution.journal import Journal

log = logging.getLogger("oracle.backtest")

ANVIL_LIQUIDATOR_KEY = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"  # anvil account 3
LIQUIDATOR_CASH = 10**12  # whole stable tokens: liquidators are never short of cash, only of capacity and profit
BORROWERS_HOUR = 12
LOCAL_POLL_S = 0.002  # anvil mines at once: poll receipts every 2 ms, not web3's 100
ROUNDS_MAX = 10_000  # the snapshot policy's ceiling on history rounds

# Aave v3 Ethereum's parameters for the same assets (governance payload report of 2023-10-31; LB = bonus - 100 %)
AAVE_V3_PARAMS: dict[str, RiskParams] = {
    "WETH": RiskParams(ltv=8050, liquidation_threshold=8300, liquidation_bonus=500),
    "WBTC": RiskParams(ltv=7300, liquidation_threshold=7800, liquidation_bonus=500),
    "LINK": RiskParams(ltv=5300, liquidation_threshold=6800, liquidation_bonus=700),
    "AAVE": RiskParams(ltv=6600, liquidation_threshold=7300, liquidation_bonus=750),
}

StrategyName = Literal["static", "static-aave", "oracle", "oracle-ewma"]
STRATEGIES: dict[str, str] = {
    "static": "the policy's initial parameters, never changed",
    "static-aave": "Aave v3 Ethereum's parameters for the same assets, never changed",
    "oracle": "the keeper as shipped: a live cycle at the cadence, updates through the governor",
    "oracle-ewma": "the same keeper with EWMA forecasts instead of the neural model: what the model adds",
}


class TaskSpec(BaseModel):
    """One task of a backtest grid; its result is a function of these fields (and the data and policy)."""

    model_config = ConfigDict(frozen=True)

    window: Window
    strategy: StrategyName
    seed: int
    positions: int = Field(gt=0)
    cadence_h: int = Field(default=24, gt=0, description="hours between keeper cycles")
    active_borrowers: float = Field(
        default=0.6, ge=0, le=1, description="share of borrowers who return to their target leverage once a day"
    )

    @property
    def name(self) -> str:
        return f"{self.window.name}_{self.strategy}_s{self.seed}"


class AssetTrack(BaseModel):
    """One asset hour by hour (one value per step; step 0 is the window's start)."""

    market_usd: list[float]
    feed_usd: list[float]
    ltv: list[int]
    lt: list[int]
    lb: list[int]


class Metrics(BaseModel):
    """What a strategy did to the market over the window."""

    initial_debt_usd: float
    bad_debt_usd: float = Field(description="recorded on chain, plus what positions still owe beyond their collateral")
    bad_debt_recorded_usd: float
    bad_debt_share: float = Field(description="bad debt / initial debt")
    liquidated_collateral_usd: float = Field(description="collateral seized, at the market price")
    penalties_usd: float = Field(description="collateral seized less debt repaid: what borrowers paid liquidators")
    liquidations: int
    unprofitable_skips: int = Field(description="position-steps left alone: gas and slippage above the bonus")
    over_capacity_skips: int = Field(description="position-steps left for later: the hour's capacity used up")
    reverted_liquidations: int
    made_liquidatable_by_cuts_usd: float = Field(description="debt of healthy positions that an LT cut put below 1")
    avg_ltv_bps: dict[str, float] = Field(description="time-weighted, per asset")
    avg_ltv_weighted_bps: float = Field(description="time-weighted, weighted by each asset's collateral at start")
    avg_borrowing_power_used: float = Field(description="time mean of debt / (collateral x LTV), feed prices")
    updates_sent: int
    keeper_cycles: int
    keeper_failed_cycles: int
    keeper_gas: int
    borrowed_usd: float = Field(description="what active borrowers drew to return to their target leverage")
    repaid_usd: float = Field(description="what they repaid when above it")
    borrower_transactions: int
    refused_borrows: int = Field(description="borrows the market refused (LTV limit, liquidity)")


class TaskResult(BaseModel):
    """A finished task (``tasks/<name>.json`` of a backtest directory)."""

    spec: TaskSpec
    resolution: dict[str, str]  # per asset: "1h" or "1d"
    metrics: Metrics
    times: list[int]  # unix seconds of each step
    debt_usd: list[float]
    bad_debt_cum_usd: list[float]
    liquidated_cum_usd: list[float]
    health_quantiles: list[list[float]] = Field(description="per step: HF p5 / p25 / p50 (debt-weighted)")
    assets: dict[str, AssetTrack]
    evm_transactions: int
    steps: int
    runtime_s: float
    keeper_s: float


def backtest_policy(policy: Policy, paths: dict[str, PricePath], window: Window) -> Policy:
    """The policy as a backtest runs it: the snapshot reads the whole feed history the window builds up (the
    forecast needs its 123 days of daily ranges whatever the feed's round frequency), within the policy's ceiling."""
    most = max(len(p.history) + len(p.market) for p in paths.values())
    rounds = min(ROUNDS_MAX, max(policy.snapshot.history_rounds, most))
    return policy.model_copy(update={"snapshot": policy.snapshot.model_copy(update={"history_rounds": rounds})})


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    response = w3.provider.make_request(method, params)  # type: ignore[arg-type]  # anvil's own methods
    if "error" in response:
        raise ConfigError(f"anvil refused {method}: {response['error']}")
    return response.get("result")


def _set_params(w3: Web3, owner: TxSender, deployment: Deployment, params: dict[str, RiskParams]) -> None:
    """Set initial parameters directly (a static strategy's starting point), as the market's owner: it takes the
    risk admin role for the change and gives it back to the governor."""
    market = deployment.market_contract(w3)
    owner.transact(market.functions.setRiskAdmin(owner.address))
    for symbol, p in params.items():
        owner.transact(market.functions.setRiskParams(deployment.asset(symbol).token, p.as_tuple()))
    owner.transact(market.functions.setRiskAdmin(deployment.governor))


def _health_quantiles(state: MarketState, adapter: NativeMarketAdapter) -> list[float]:
    """Debt-weighted health-factor quantiles (5 / 25 / 50 %) of the positions that borrow."""
    hfs, weights = [], []
    for p in state.positions:
        if p.debt > 0:
            hfs.append(min(adapter.health_factor_wad(state.market, state.prices, p) / WAD, 10.0))
            weights.append(p.debt)
    if not hfs:
        return [float("nan")] * 3
    order = np.argsort(np.asarray(hfs))
    h, w = np.asarray(hfs)[order], np.cumsum(np.asarray(weights, dtype=float)[order])
    w /= w[-1]
    return [float(h[min(int(np.searchsorted(w, q)), len(h) - 1)]) for q in (0.05, 0.25, 0.5)]


def _made_liquidatable(before: MarketState, after: MarketState, adapter: NativeMarketAdapter) -> float:
    """Debt (USD) of the positions healthy in ``before`` that ``after``'s parameters, at the same prices and
    positions, put below health factor 1: what an LT cut liquidates at once."""
    total = 0.0
    for p in before.positions:
        if p.debt > 0 and adapter.health_factor_wad(before.market, before.prices, p) >= WAD:
            if adapter.health_factor_wad(after.market, before.prices, p) < WAD:
                total += debt_usd(before, p)
    return total


@dataclass
class _Totals:
    liquidated: float = 0.0
    penalties: float = 0.0
    liquidations: int = 0
    unprofitable: int = 0
    over_capacity: int = 0
    reverted: int = 0
    cut_made_liquidatable: float = 0.0
    updates: int = 0
    cycles: int = 0
    failed_cycles: int = 0
    keeper_gas: int = 0
    keeper_s: float = 0.0
    borrowed: float = 0.0
    repaid: float = 0.0
    borrower_txs: int = 0
    refused_borrows: int = 0
    transactions: int = 0


def run_task(spec: TaskSpec, policy: Policy, *, data_dir: Path | None, work_dir: Path) -> TaskResult:
    """Run ``spec`` on a fresh anvil (see the module docstring); ``work_dir`` receives the keeper's journal and
    reports. Deterministic in ``spec``, the policy and the data, up to the keeper's wall-clock journal times."""
    started = time.perf_counter()
    symbols = [a.symbol for a in policy.market.assets]
    keys = {a.symbol: a.price_source for a in policy.market.assets}
    paths = load_paths(list(dict.fromkeys(keys.values())), spec.window, data_dir)
    behaviour = policy.risk.liquidators
    if behaviour is None:
        raise ConfigError(f"policy {policy.name} has no [risk.liquidators]: the backtest's liquidators need it")
    deviation = {keys[s]: behaviour.feed_deviation[s] for s in symbols if s in behaviour.feed_deviation}
    heartbeat = {keys[s]: behaviour.feed_heartbeat_s[s] for s in symbols if s in behaviour.feed_heartbeat_s}
    rounds = schedule(paths, deviation, heartbeat)
    gas = gas_gwei(spec.window, data_dir)
    run_policy = backtest_policy(policy, paths, spec.window)
    start = datetime(spec.window.start.year, spec.window.start.month, spec.window.start.day, tzinfo=UTC)
    genesis = int(start.timestamp()) - 1800  # the chain starts half an hour before the window: deploy and seed
    depth: dict[str, float] = {}
    for s in symbols:
        d = policy.risk.depth_of("", s)
        if d is None:
            raise ConfigError(f"policy {policy.name} has no depth_usd for {s}: the liquidators sell into that pool")
        depth[s] = d
    eth_symbol = next((s for s in symbols if keys[s] == "eth"), None)
    if eth_symbol is None:
        raise ConfigError("the backtest prices liquidators' gas in ETH: the policy needs an asset priced from 'eth'")

    with AnvilNode(extra_args=["--timestamp", str(genesis), "--gas-limit", "1000000000"]) as node:
        w3 = make_web3(node.url, timeout_s=60)
        _rpc(w3, "anvil_setBlockTimestampInterval", [1])  # block times from the chain's own clock, not wall time
        owner = TxSender(w3, ANVIL_DEFAULT_KEY, poll_s=LOCAL_POLL_S)
        keeper_account = Account.from_key(ANVIL_KEEPER_KEY)
        guardian = TxSender(w3, ANVIL_GUARDIAN_KEY).address
        history = {a.price_source: paths[a.price_source].history for a in policy.market.assets}
        deployment = deploy_market(
            w3, owner, policy.market, keeper=keeper_account.address, guardian=guardian, price_history=history
        )
        if spec.strategy == "static-aave":
            missing = [s for s in symbols if s not in AAVE_V3_PARAMS]
            if missing:
                raise ConfigError(f"static-aave: no Aave v3 parameters for {missing}")
            _set_params(w3, owner, deployment, {s: AAVE_V3_PARAMS[s] for s in symbols})
        seed_positions(w3, deployment, spec.positions, seed=spec.seed, method="storage")
        market = deployment.market_contract(w3)
        liquidator = TxSender(w3, ANVIL_LIQUIDATOR_KEY, poll_s=LOCAL_POLL_S)
        stable = contract_at(w3, "TestToken", deployment.stable)
        cash = LIQUIDATOR_CASH * 10**deployment.stable_decimals
        owner.transact(stable.functions.mint(liquidator.address, cash))
        liquidator.transact(stable.functions.approve(deployment.market, cash))
        agent = LiquidatorAgent(
            market=market,
            sender=liquidator,
            capacity_share=behaviour.capacity_share,
            depth_usd=depth,
            liquidation_gas=policy.risk.liquidation_gas,
        )
        feeds = {a.symbol: contract_at(w3, "PriceFeed", a.feed) for a in deployment.assets}
        adapter = NativeMarketAdapter(deployment.market)
        mc = Multicall(w3, deployment.multicall)

        keeper = None
        journal = None
        if spec.strategy in ("oracle", "oracle-ewma"):
            work_dir.mkdir(parents=True, exist_ok=True)
            journal = Journal(work_dir / "journal.sqlite")
            keeper = build_keeper(
                w3, MarketAddresses.of(deployment), run_policy, journal, work_dir / "reports", signer=keeper_account
            )
            if spec.strategy == "oracle-ewma":  # no model: every forecast is the EWMA fallback, and says so
                keeper = dataclasses.replace(keeper, model=None, model_card=None)

        totals = _Totals()
        times: list[int] = []
        debts: list[float] = []
        bad_cum: list[float] = []
        liq_cum: list[float] = []
        hf_q: list[list[float]] = []
        tracks: dict[str, dict[str, list[Any]]] = {
            s: {"market_usd": [], "feed_usd": [], "ltv": [], "lt": [], "lb": []} for s in symbols
        }
        borrowing_power: list[float] = []
        market_series = {s: paths[keys[s]].market for s in symbols}
        cursor = {k: 0 for k in rounds}
        initial_debt = 0.0
        last_market = {s: paths[keys[s]].history[-1][1] for s in symbols}
        try:
            for k in range(spec.window.hours + 1):
                t = start + timedelta(hours=k)
                ts = int(t.timestamp())
                _rpc(w3, "evm_mine", [ts])  # the hour's first block; later ones follow it (estimates see the hour)
                for key, due in rounds.items():  # every round of the hour (t - 1 h, t]
                    i = cursor[key]
                    batch = []
                    while i < len(due) and due[i][0] <= t:
                        batch.append(due[i])
                        i += 1
                    cursor[key] = i
                    if batch:
                        for s in symbols:
                            if keys[s] == key:
                                owner.transact(
                                    feeds[s].functions.pushRounds(
                                        [to_feed_answer(p) for _, p in batch], [int(bt.timestamp()) for bt, _ in batch]
                                    )
                                )
                                totals.transactions += 1
                for s in symbols:
                    m = market_series[s]
                    seen = m.loc[: pd.Timestamp(t)].dropna()
                    if len(seen):
                        last_market[s] = float(seen.iloc[-1])
                block = w3.eth.block_number
                state = read_state(adapter, mc, block)
                if k == 0:
                    first = state
                    initial_debt = state.market.total_debt / 10**state.market.stable_decimals
                    plans = plan_borrowers(state.positions, spec.seed, active_share=spec.active_borrowers)
                    borrowers = BorrowerAgents(w3, market, owner, stable, plans, poll_s=LOCAL_POLL_S)
                    borrowers.prepare()
                market_usd = [last_market[a.symbol] for a in state.market.assets]
                if k > 0:
                    gwei = float(gas.iloc[min((k - 1) // 24, len(gas) - 1)])
                    step = agent.step(state, market_usd, gwei, last_market[eth_symbol])
                    totals.transactions += len(step.liquidations) + step.reverted
                    totals.liquidations += len(step.liquidations)
                    totals.unprofitable += step.unprofitable
                    totals.over_capacity += step.over_capacity
                    totals.reverted += step.reverted
                    totals.liquidated += sum(x.seized_usd for x in step.liquidations)
                    totals.penalties += sum(x.bonus_usd for x in step.liquidations)
                    if step.liquidations:
                        state = read_state(adapter, mc, w3.eth.block_number)
                if k % 24 == BORROWERS_HOUR:  # borrowers rebalance at midday, the keeper at its cadence from 00:00
                    moved = borrowers.step(state)
                    totals.borrowed += moved.borrowed_usd
                    totals.repaid += moved.repaid_usd
                    totals.borrower_txs += moved.transactions
                    totals.refused_borrows += moved.refused
                    totals.transactions += moved.transactions
                    if moved.transactions:
                        state = read_state(adapter, mc, w3.eth.block_number)
                if keeper is not None and k % spec.cadence_h == 0 and k < spec.window.hours:
                    before = state
                    cycle_started = time.perf_counter()
                    cycle = keeper.run_cycle(dry_run=False)
                    totals.keeper_s += time.perf_counter() - cycle_started
                    totals.cycles += 1
                    totals.failed_cycles += cycle.status != "done"
                    if cycle.status != "done":
                        log.warning("%s: keeper cycle at %s %s: %s", spec.name, t, cycle.status, cycle.detail)
                    for h in cycle.sent.values():
                        totals.keeper_gas += int(w3.eth.get_transaction_receipt(HexStr(h))["gasUsed"])
                    totals.updates += len(cycle.sent)
                    totals.transactions += len(cycle.sent)
                    if cycle.sent:
                        state = read_state(adapter, mc, w3.eth.block_number)
                        totals.cut_made_liquidatable += _made_liquidatable(before, state, adapter)
                feed_usd = [p / 10**8 for p in state.prices]
                times.append(ts)
                debts.append(state.market.total_debt / 10**state.market.stable_decimals)
                bad_cum.append(state.market.bad_debt / 10**state.market.stable_decimals)
                liq_cum.append(totals.liquidated)
                hf_q.append(_health_quantiles(state, adapter))
                limit = 0.0
                for i, a in enumerate(state.market.assets):
                    tr = tracks[a.symbol]
                    tr["market_usd"].append(last_market[a.symbol])
                    tr["feed_usd"].append(feed_usd[i])
                    tr["ltv"].append(a.params.ltv)
                    tr["lt"].append(a.params.liquidation_threshold)
                    tr["lb"].append(a.params.liquidation_bonus)
                    limit += a.total_collateral / 10**a.recorded_token_decimals * feed_usd[i] * a.params.ltv / BPS
                borrowing_power.append(debts[-1] / limit if limit > 0 else float("nan"))
        finally:
            if journal is not None:
                journal.close()

        final = state
        final_prices = [last_market[a.symbol] for a in final.market.assets]
        underwater = sum(
            max(0.0, debt_usd(final, p) - collateral_usd(final, p, final_prices)) for p in final.positions if p.debt > 0
        )
    recorded = bad_cum[-1]
    start_value = {s: tracks[s]["feed_usd"][0] for s in symbols}
    weights = {
        a.symbol: a.total_collateral / 10**a.recorded_token_decimals * start_value[a.symbol]
        for a in first.market.assets
    }
    avg_ltv = {s: float(np.mean(tracks[s]["ltv"])) for s in symbols}
    total_w = sum(weights.values())
    metrics = Metrics(
        initial_debt_usd=initial_debt,
        bad_debt_usd=recorded + underwater,
        bad_debt_recorded_usd=recorded,
        bad_debt_share=(recorded + underwater) / initial_debt if initial_debt > 0 else 0.0,
        liquidated_collateral_usd=totals.liquidated,
        penalties_usd=totals.penalties,
        liquidations=totals.liquidations,
        unprofitable_skips=totals.unprofitable,
        over_capacity_skips=totals.over_capacity,
        reverted_liquidations=totals.reverted,
        made_liquidatable_by_cuts_usd=totals.cut_made_liquidatable,
        avg_ltv_bps=avg_ltv,
        avg_ltv_weighted_bps=sum(avg_ltv[s] * weights[s] for s in symbols) / total_w if total_w else float("nan"),
        avg_borrowing_power_used=float(np.nanmean(borrowing_power)),
        updates_sent=totals.updates,
        keeper_cycles=totals.cycles,
        keeper_failed_cycles=totals.failed_cycles,
        keeper_gas=totals.keeper_gas,
        borrowed_usd=totals.borrowed,
        repaid_usd=totals.repaid,
        borrower_transactions=totals.borrower_txs,
        refused_borrows=totals.refused_borrows,
    )
    return TaskResult(
        spec=spec,
        resolution={s: paths[keys[s]].resolution for s in symbols},
        metrics=metrics,
        times=times,
        debt_usd=debts,
        bad_debt_cum_usd=bad_cum,
        liquidated_cum_usd=liq_cum,
        health_quantiles=hf_q,
        assets={s: AssetTrack(**tracks[s]) for s in symbols},
        evm_transactions=totals.transactions,
        steps=len(times),
        runtime_s=time.perf_counter() - started,
        keeper_s=totals.keeper_s,
    )
