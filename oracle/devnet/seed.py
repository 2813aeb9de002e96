"""Seed a local market with borrowers: a realistic spread of health factors, a tail near liquidation, whales.

Why: the demo, the tests and the benchmarks need a market whose state looks like a real one (most positions
healthy, some close to their threshold, a few large enough to move liquidation risk). Seeding is planned once
(deterministic from a seed) and executed one of two ways:

- ``"transactions"``: real transactions from impersonated borrowers (mint, approve, deposit, borrow), sent in
  JSON-RPC batches with explicit nonces, phase by phase, every receipt checked. Exercises the contracts.
- ``"storage"``: the same end state written directly with ``anvil_setStorageAt`` at the slots of the compiled
  storage layout; seconds instead of minutes for 10,000+ positions (benchmarks). A test checks both give the
  same market.

Local chains only (``anvil_*`` / ``evm_*`` RPC methods).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from itertools import accumulate
from typing import Any, Literal, NamedTuple

import numpy as np
from eth_utils import keccak, to_checksum_address
from pydantic import BaseModel, ConfigDict
from web3 import Web3
from web3.types import RPCEndpoint

from oracle.chain.tx import contract_at
from oracle.devnet.deploy import Deployment
from oracle.devnet.storage import array_element_slot, hex_word, mapping_slot, variable_slot
from oracle.errors import ExecutionError

GAS_PER_CALL = 400_000  # a cap, not an estimate: seeding skips estimation and checks every receipt instead
BATCH = 500  # JSON-RPC requests per HTTP batch

SeedMethod = Literal["transactions", "storage"]
SeedProgress = Callable[[int, int], None]
"""``progress(done, total)``: JSON-RPC work finished out of all the seeding will do, called after every batch and
every mined block, non-decreasing, ending with ``done == total``. Units of work, not positions (each transaction is
counted when encoded, sent, mined and when its receipt is checked; each storage slot once; each gas-money balance
once), because every phase runs over all positions: a position is only done at the very end. A plain callable, so
that this module needs no terminal library: the CLI draws it with rich."""


class PlannedPosition(NamedTuple):
    """A borrower to create: collateral per asset (deployment order, token units) and debt (stable units)."""

    account: str
    collateral: tuple[int, ...]
    debt: int


class SeedSummary(BaseModel):
    """What the seeding created."""

    model_config = ConfigDict(frozen=True)

    positions: int
    with_debt: int
    near_liquidation: int  # health factor below 1.15 when seeded
    whales: int
    total_debt: int  # stable units
    method: str
    requests: int  # transactions sent, or storage slots written


def borrower_address(seed: int, index: int) -> str:
    """Deterministic address of the ``index``-th seeded borrower (no key: anvil impersonates it)."""
    return to_checksum_address(keccak(text=f"defi-risk-oracle/borrower/{seed}/{index}")[12:])


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    response = w3.provider.make_request(RPCEndpoint(method), params)
    if "error" in response:
        raise ExecutionError(f"{method} failed: {response['error']}")
    return response["result"]


class _Ticker:
    """Counts finished work and reports it to an optional ``SeedProgress``."""

    def __init__(self, total: int, progress: SeedProgress | None) -> None:
        self.done, self.total, self.progress = 0, total, progress
        self(0)

    def __call__(self, n: int) -> None:
        self.done += n
        if self.progress is not None:
            self.progress(self.done, self.total)


def _batch(w3: Web3, method: str, params: list[list[Any]], tick: Callable[[int], None] | None = None) -> list[Any]:
    """Results of ``method`` for each params list, in batches (``tick(len(batch))`` after each); any error raises
    naming the request."""
    results: list[Any] = []
    for i in range(0, len(params), BATCH):
        chunk = params[i : i + BATCH]
        responses = w3.provider.make_batch_request([(method, p) for p in chunk])  # type: ignore[attr-defined]  # HTTPProvider has it
        if not isinstance(responses, list):
            raise ExecutionError(f"batch {method} failed: {responses}")
        for p, r in zip(chunk, sorted(responses, key=lambda r: r["id"]), strict=True):
            if "error" in r:
                raise ExecutionError(f"{method}({p}) failed: {r['error']}")
            results.append(r["result"])
        if tick is not None:
            tick(len(chunk))
    return results


def plan_positions(
    w3: Web3,
    deployment: Deployment,
    count: int,
    *,
    seed: int = 7,
    near_liquidation_share: float = 0.15,
    whale_share: float = 0.02,
    no_debt_share: float = 0.05,
) -> tuple[list[PlannedPosition], SeedSummary]:
    """Plan ``count`` positions at the market's current prices and parameters.

    Collateral value per position is log-normal (median 20k USD), whales hold 2-10M USD; one asset for 70 % of
    borrowers, two for the rest; target health factors are 1.3-3.0 for healthy positions and 1.03-1.15 for the
    tail near liquidation, capped by the LTV borrow limit.
    """
    rng = np.random.default_rng(seed)
    market = deployment.market_contract(w3)
    n = len(deployment.assets)
    configs = [market.functions.collateralConfig(a.token).call() for a in deployment.assets]
    unit_prices = [
        market.functions.priceOf(a.token).call() / 10 ** cfg[2] / 10**a.decimals
        for a, cfg in zip(deployment.assets, configs, strict=True)
    ]
    ltv = [cfg[4][0] / 10_000 for cfg in configs]
    lt = [cfg[4][1] / 10_000 for cfg in configs]
    plan: list[PlannedPosition] = []
    near = whales = with_debt = total_debt = 0
    for i in range(count):
        is_whale = rng.random() < whale_share
        whales += is_whale
        value_usd = rng.uniform(2e6, 1e7) if is_whale else float(rng.lognormal(np.log(2e4), 1.0))
        chosen = rng.choice(n, size=1 if rng.random() < 0.7 else min(2, n), replace=False)
        weights = rng.dirichlet(np.ones(len(chosen)))
        amounts = [0] * n
        borrow_limit = liquidation_value = 0.0
        for k, w in zip(chosen, weights, strict=True):
            amounts[int(k)] = int(value_usd * w / unit_prices[int(k)])
            borrow_limit += value_usd * w * ltv[int(k)]
            liquidation_value += value_usd * w * lt[int(k)]
        debt = 0
        if rng.random() >= no_debt_share and borrow_limit > 0:
            target_hf = rng.uniform(1.03, 1.15) if rng.random() < near_liquidation_share else rng.uniform(1.3, 3.0)
            debt_usd = min(liquidation_value / target_hf, borrow_limit * 0.995)
            debt = int(debt_usd * 10**deployment.stable_decimals)
            if debt:
                with_debt += 1
                near += liquidation_value / debt_usd < 1.15
                total_debt += debt
        plan.append(PlannedPosition(borrower_address(seed, i), tuple(amounts), debt))
    summary = SeedSummary(
        positions=count,
        with_debt=with_debt,
        near_liquidation=near,
        whales=whales,
        total_debt=total_debt,
        method="",
        requests=0,
    )
    return plan, summary


# ------------------------------------------------------------------------------------------ transactions


def _send_phase(w3: Web3, txs: list[dict[str, Any]], nonces: dict[str, int], tick: _Ticker) -> int:
    """Send a phase, mine until the pool is empty, check every receipt; returns the number of transactions. Ticks
    three times per transaction: sent, mined, receipt checked."""
    if not txs:
        return 0
    for tx in txs:
        tx |= {
            "nonce": hex(nonces[tx["from"]]),
            "gas": hex(GAS_PER_CALL),
            "maxFeePerGas": hex(10**11),
            "maxPriorityFeePerGas": hex(1),
        }
        nonces[tx["from"]] += 1
    hashes = _batch(w3, "eth_sendTransaction", [[tx] for tx in txs], tick)
    pending = int(_rpc(w3, "txpool_status", [])["pending"], 16)
    mined = 0
    while pending:
        _rpc(w3, "evm_mine", [])
        pending = int(_rpc(w3, "txpool_status", [])["pending"], 16)
        now = len(txs) - min(pending, len(txs))  # the pool may hold others' transactions: never count those
        if now > mined:
            tick(now - mined)
            mined = now
    tick(len(txs) - mined)
    for tx, receipt in zip(txs, _batch(w3, "eth_getTransactionReceipt", [[h] for h in hashes], tick), strict=True):
        if receipt is None or receipt["status"] != "0x1":
            raise ExecutionError(f"seeding transaction failed: {tx} -> {receipt}")
    return len(hashes)


def _execute_transactions(
    w3: Web3, deployment: Deployment, plan: list[PlannedPosition], progress: SeedProgress | None
) -> int:
    token = contract_at(w3, "TestToken", deployment.stable)  # every TestToken has this ABI
    market = deployment.market_contract(w3)
    minter = deployment.deployer
    mints: list[dict[str, Any]] = []
    approves: list[dict[str, Any]] = []
    deposits: list[dict[str, Any]] = []
    borrows: list[dict[str, Any]] = []
    transactions = sum(3 * sum(1 for amount in p.collateral if amount) + (1 if p.debt else 0) for p in plan)
    # encoding counts too: web3's encode_abi takes ~0.5 ms a transaction, ~20 s of 84 s for 5,000 positions
    tick = _Ticker(len(plan) + 4 * transactions, progress)
    for p in plan:
        built = len(mints) + len(approves) + len(deposits) + len(borrows)
        for asset, amount in zip(deployment.assets, p.collateral, strict=True):
            if amount == 0:
                continue
            mints.append({"from": minter, "to": asset.token, "data": token.encode_abi("mint", [p.account, amount])})
            approves.append(
                {"from": p.account, "to": asset.token, "data": token.encode_abi("approve", [deployment.market, amount])}
            )
            deposits.append(
                {
                    "from": p.account,
                    "to": deployment.market,
                    "data": market.encode_abi("deposit", [asset.token, amount]),
                }
            )
        if p.debt:
            borrows.append({"from": p.account, "to": deployment.market, "data": market.encode_abi("borrow", [p.debt])})
        tick(len(mints) + len(approves) + len(deposits) + len(borrows) - built)
    nonces: dict[str, int] = defaultdict(int)
    nonces[minter] = w3.eth.get_transaction_count(Web3.to_checksum_address(minter), "pending")
    automine = _rpc(w3, "anvil_getAutomine", [])
    _rpc(w3, "anvil_autoImpersonateAccount", [True])
    _rpc(w3, "evm_setAutomine", [False])
    phases = (mints, approves, deposits, borrows)
    try:
        _batch(w3, "anvil_setBalance", [[p.account, hex(10**20)] for p in plan], tick)  # gas money
        return sum(_send_phase(w3, phase, nonces, tick) for phase in phases)
    finally:
        _rpc(w3, "evm_setAutomine", [automine])
        _rpc(w3, "anvil_autoImpersonateAccount", [False])


# ------------------------------------------------------------------------------------------ storage


def _execute_storage(
    w3: Web3, deployment: Deployment, plan: list[PlannedPosition], progress: SeedProgress | None
) -> int:
    market = deployment.market_contract(w3)
    m = "LendingMarket"
    borrowers_slot = variable_slot(m, "_borrowers")
    is_borrower, collateral_of = variable_slot(m, "isBorrower"), variable_slot(m, "collateralOf")
    debt_of, total_collateral = variable_slot(m, "debtOf"), variable_slot(m, "totalCollateral")
    total_debt_slot = variable_slot(m, "totalDebt")
    balances, supply_slot = variable_slot("TestToken", "_balances"), variable_slot("TestToken", "_totalSupply")

    start = market.functions.borrowersCount().call()
    if plan and market.functions.isBorrower(plan[0].account).call():
        raise ExecutionError(f"{plan[0].account} already has a position: storage seeding needs fresh accounts")
    writes: list[tuple[str, int, int]] = []  # (contract, slot, value)
    for i, p in enumerate(plan):
        writes += [
            (deployment.market, array_element_slot(borrowers_slot, start + i), int(p.account, 16)),
            (deployment.market, mapping_slot(is_borrower, p.account), 1),
        ]
        for asset, amount in zip(deployment.assets, p.collateral, strict=True):
            if amount:
                writes.append((deployment.market, mapping_slot(collateral_of, p.account, asset.token), amount))
        if p.debt:
            writes += [
                (deployment.market, mapping_slot(debt_of, p.account), p.debt),
                (deployment.stable, mapping_slot(balances, p.account), p.debt),
            ]
    writes.append((deployment.market, borrowers_slot, start + len(plan)))
    for k, asset in enumerate(deployment.assets):
        added = sum(p.collateral[k] for p in plan)
        token = contract_at(w3, "TestToken", asset.token)
        writes += [
            (
                deployment.market,
                mapping_slot(total_collateral, asset.token),
                market.functions.totalCollateral(asset.token).call() + added,
            ),
            (
                asset.token,
                mapping_slot(balances, deployment.market),
                token.functions.balanceOf(deployment.market).call() + added,
            ),
            (asset.token, supply_slot, token.functions.totalSupply().call() + added),
        ]
    lent = sum(p.debt for p in plan)
    cash = _cash(w3, deployment)  # at least ``lent``: checked by seed_positions
    writes += [
        (deployment.market, total_debt_slot, market.functions.totalDebt().call() + lent),
        (deployment.stable, mapping_slot(balances, deployment.market), cash - lent),
    ]
    tick = _Ticker(len(writes) + len(plan), progress)
    _batch(w3, "anvil_setStorageAt", [[c, hex(s), hex_word(v)] for c, s, v in writes], tick)
    _batch(w3, "anvil_setBalance", [[p.account, hex(10**20)] for p in plan], tick)
    _rpc(w3, "evm_mine", [])
    return len(writes)


def _cash(w3: Web3, deployment: Deployment) -> int:
    """The stable the market holds: what the seeded positions can borrow at most."""
    return int(contract_at(w3, "TestToken", deployment.stable).functions.balanceOf(deployment.market).call())


def _check_liquidity(w3: Web3, deployment: Deployment, plan: list[PlannedPosition]) -> None:
    """Refuse, before anything is sent, a plan that borrows more than the market can lend.

    Why here: sent as transactions, such a plan fails at the first borrow the market cannot fund, after minutes of
    seeding, with a raw receipt; the message says how many positions do fit (the plan for ``n`` positions is the
    first ``n`` of any larger one, same seed).
    """
    cash = _cash(w3, deployment)
    lent = sum(p.debt for p in plan)
    if lent <= cash:
        return
    fits = sum(1 for borrowed in accumulate(p.debt for p in plan) if borrowed <= cash)  # non-decreasing: a prefix
    unit = 10**deployment.stable_decimals
    raise ExecutionError(
        f"{len(plan)} positions would borrow {lent / unit:,.0f} of the stable token, the market holds "
        f"{cash / unit:,.0f}: at most {fits} positions fit this market; seed fewer, or supply more (the policy's "
        "market.liquidity)"
    )


def seed_positions(
    w3: Web3,
    deployment: Deployment,
    count: int,
    *,
    seed: int = 7,
    method: SeedMethod = "transactions",
    progress: SeedProgress | None = None,
    **shares: float,
) -> SeedSummary:
    """Plan ``count`` positions (see ``plan_positions``) and create them on ``deployment``'s market; ``progress``
    (optional) follows the execution (see ``SeedProgress``). A plan the market cannot lend to is refused before
    anything is sent."""
    plan, summary = plan_positions(w3, deployment, count, seed=seed, **shares)
    _check_liquidity(w3, deployment, plan)
    if method == "transactions":
        requests = _execute_transactions(w3, deployment, plan, progress)
    elif method == "storage":
        requests = _execute_storage(w3, deployment, plan, progress)
    else:
        raise ValueError(f"unknown seeding method {method!r}")
    return summary.model_copy(update={"method": method, "requests": requests})
