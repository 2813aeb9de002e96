"""Seed a local market with borrowers: a realistic spread of health factors, a tail near liquidation, whales.

Why: the demo, the tests and the benchmarks need a market whose state looks like a real one (most positions
healthy, some close to their threshold, a few large enough to move liquidation risk). Borrowers are
deterministic accounts that anvil impersonates; transactions go in JSON-RPC batches with explicit nonces,
phase by phase (mint, approve, deposit, borrow), each phase mined before the next, and every receipt is checked.
Local chains only (it uses ``anvil_*`` / ``evm_*`` RPC methods).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
from eth_account import Account
from eth_utils import keccak
from pydantic import BaseModel, ConfigDict
from web3 import Web3

from oracle.chain.deploy import Deployment
from oracle.chain.tx import contract_at
from oracle.errors import ExecutionError

GAS_PER_CALL = 400_000  # a cap, not an estimate: seeding skips estimation and checks every receipt instead
BATCH = 500  # JSON-RPC requests per HTTP batch


class SeedSummary(BaseModel):
    """What the seeding created."""

    model_config = ConfigDict(frozen=True)

    positions: int
    with_debt: int
    near_liquidation: int  # health factor below 1.15 when seeded
    whales: int
    total_debt: int  # stable units
    transactions: int


class _Phase:
    """Transactions of one phase; nonces are assigned when the phase is sent, so phases never leave gaps."""

    def __init__(self) -> None:
        self.txs: list[dict[str, Any]] = []

    def add(self, sender: str, to: str, data: str) -> None:
        self.txs.append({
            "from": sender, "to": to, "data": data, "gas": hex(GAS_PER_CALL),
            "maxFeePerGas": hex(10**11), "maxPriorityFeePerGas": hex(1),
        })


def borrower_address(seed: int, index: int) -> str:
    """Deterministic address of the ``index``-th seeded borrower."""
    return Account.from_key(keccak(text=f"defi-risk-oracle/borrower/{seed}/{index}")).address


def _rpc(w3: Web3, method: str, params: list[Any]) -> Any:
    response = w3.provider.make_request(method, params)  # type: ignore[arg-type]
    if "error" in response:
        raise ExecutionError(f"{method} failed: {response['error']}")
    return response["result"]


def _batch(w3: Web3, method: str, params: list[list[Any]]) -> list[Any]:
    """Results of ``method`` for each params list, in batches; any error raises naming the request."""
    results: list[Any] = []
    for i in range(0, len(params), BATCH):
        chunk = params[i : i + BATCH]
        responses = w3.provider.make_batch_request([(method, p) for p in chunk])  # type: ignore[misc]
        if not isinstance(responses, list):
            raise ExecutionError(f"batch {method} failed: {responses}")
        for p, r in zip(chunk, sorted(responses, key=lambda r: r["id"]), strict=True):
            if "error" in r:
                raise ExecutionError(f"{method}({p}) failed: {r['error']}")
            results.append(r["result"])
    return results


def _run_phase(w3: Web3, phase: _Phase, nonces: dict[str, int]) -> int:
    """Send a phase, mine until the pool is empty, check every receipt; returns the number of transactions."""
    if not phase.txs:
        return 0
    for tx in phase.txs:
        tx["nonce"] = hex(nonces[tx["from"]])
        nonces[tx["from"]] += 1
    hashes = _batch(w3, "eth_sendTransaction", [[tx] for tx in phase.txs])
    while int(_rpc(w3, "txpool_status", [])["pending"], 16):
        _rpc(w3, "evm_mine", [])
    for tx, receipt in zip(phase.txs, _batch(w3, "eth_getTransactionReceipt", [[h] for h in hashes]), strict=True):
        if receipt is None or receipt["status"] != "0x1":
            raise ExecutionError(f"seeding transaction failed: {tx} -> {receipt}")
    return len(hashes)


def seed_positions(
    w3: Web3,
    deployment: Deployment,
    count: int,
    *,
    seed: int = 7,
    near_liquidation_share: float = 0.15,
    whale_share: float = 0.02,
    no_debt_share: float = 0.05,
) -> SeedSummary:
    """Open ``count`` positions on ``deployment``'s market (its deployer mints the collateral).

    Collateral value per position is log-normal (median 20k USD), whales hold 2-10M USD; target health factors
    are 1.3-3.0 for healthy positions and 1.03-1.15 for the tail near liquidation, capped by the LTV limit.
    """
    rng = np.random.default_rng(seed)
    market = deployment.market_contract(w3)
    stable_unit = 10**deployment.stable_decimals
    configs = {a.token: market.functions.collateralConfig(a.token).call() for a in deployment.assets}
    prices = {a.token: market.functions.priceOf(a.token).call() for a in deployment.assets}
    token = contract_at(w3, "TestToken", deployment.stable)  # any TestToken: same ABI for every asset
    minter = deployment.deployer

    nonces: dict[str, int] = defaultdict(int)
    nonces[minter] = w3.eth.get_transaction_count(minter, "pending")
    mints, approves, deposits, borrows = (_Phase() for _ in range(4))
    near = whales = with_debt = total_debt = 0
    borrowers = []
    for i in range(count):
        who = borrower_address(seed, i)
        borrowers.append(who)
        is_whale = rng.random() < whale_share
        whales += is_whale
        value_usd = rng.uniform(2e6, 1e7) if is_whale else float(rng.lognormal(np.log(2e4), 1.0))
        n_assets = 1 if rng.random() < 0.7 else 2
        chosen = rng.choice(len(deployment.assets), size=n_assets, replace=False)
        weights = rng.dirichlet(np.ones(n_assets))
        borrow_limit = liquidation_value = 0.0
        for k, w in zip(chosen, weights, strict=True):
            asset = deployment.assets[int(k)]
            feed_decimals, params = configs[asset.token][2], configs[asset.token][4]
            price = prices[asset.token] / 10**feed_decimals
            amount = int(value_usd * w / price * 10**asset.decimals)
            if amount == 0:
                continue
            borrow_limit += value_usd * w * params[0] / 10_000
            liquidation_value += value_usd * w * params[1] / 10_000
            mints.add(minter, asset.token, token.encode_abi("mint", [who, amount]))
            approves.add(who, asset.token, token.encode_abi("approve", [deployment.market, amount]))
            deposits.add(who, deployment.market, market.encode_abi("deposit", [asset.token, amount]))
        if rng.random() < no_debt_share or borrow_limit == 0:
            continue
        target_hf = rng.uniform(1.03, 1.15) if rng.random() < near_liquidation_share else rng.uniform(1.3, 3.0)
        debt_usd = min(liquidation_value / target_hf, borrow_limit * 0.995)
        debt = int(debt_usd * stable_unit)
        if debt == 0:
            continue
        borrows.add(who, deployment.market, market.encode_abi("borrow", [debt]))
        with_debt += 1
        near += liquidation_value / debt_usd < 1.15
        total_debt += debt

    automine = _rpc(w3, "anvil_getAutomine", [])
    _rpc(w3, "anvil_autoImpersonateAccount", [True])
    _rpc(w3, "evm_setAutomine", [False])
    sent = 0
    try:
        _batch(w3, "anvil_setBalance", [[who, hex(10**20)] for who in borrowers])
        for phase in (mints, approves, deposits, borrows):
            sent += _run_phase(w3, phase, nonces)
    finally:
        _rpc(w3, "evm_setAutomine", [automine])
        _rpc(w3, "anvil_autoImpersonateAccount", [False])
    return SeedSummary(
        positions=count,
        with_debt=with_debt,
        near_liquidation=near,
        whales=whales,
        total_debt=total_debt,
        transactions=sent,
    )
