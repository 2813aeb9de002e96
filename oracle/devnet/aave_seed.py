"""Seed a local Aave v3 market with many real positions: mint, approve, supply, borrow, as users would.

Why a second seeder: Aave's storage (scaled balances, indexes, user bitmaps) is not ours to write slot by slot, so a
market with thousands of positions is built through the pool itself. Transactions are sent as the native seeder
sends them (``oracle.devnet.seed``): impersonated borrowers, explicit nonces, JSON-RPC batches, one phase at a time,
every receipt checked. Each transaction gets that seeder's fixed gas cap (400 k; Aave's supply and borrow take up to
~300 k), never an estimate: Aave's estimates are exact to the unit and a borrow mined a second later than it was
estimated does more work (interest accrues), which ran it out of gas.
Local chains only.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

import numpy as np
from eth_utils import keccak, to_checksum_address
from web3 import Web3

from oracle.chain.tx import contract_at
from oracle.devnet.aave import VARIABLE_RATE, AaveDeployment
from oracle.devnet.seed import _batch, _rpc, _send_phase, _Ticker


class AavePlanned(NamedTuple):
    account: str
    symbol: str
    amount: int  # collateral, token units
    debt: int  # stablecoin units


def aave_borrower(seed: int, index: int) -> str:
    """Deterministic address of the ``index``-th seeded Aave borrower (no key: anvil impersonates it)."""
    return to_checksum_address(keccak(text=f"defi-risk-oracle/aave-borrower/{seed}/{index}")[12:])


def plan_aave_positions(
    w3: Web3, deployment: AaveDeployment, count: int, seed: int = 0, ltv_bps: dict[str, int] | None = None
) -> list[AavePlanned]:
    """``count`` positions, collateral round-robin over the reserves, $1k-$200k (log-uniform), each borrowing
    30-90 % of its LTV (``ltv_bps`` by symbol, default: read from the pool)."""
    rng = np.random.default_rng(seed)
    oracle = deployment.oracle_contract(w3).functions
    pool = deployment.pool_contract(w3).functions
    prices = {a.symbol: int(oracle.getAssetPrice(a.token).call()) for a in deployment.assets}
    if ltv_bps is None:
        ltv_bps = {a.symbol: int(pool.getConfiguration(a.token).call()[0]) & 0xFFFF for a in deployment.assets}
    usd = np.exp(rng.uniform(np.log(1_000), np.log(200_000), count))
    fraction = rng.uniform(0.3, 0.9, count)
    plan = []
    for i in range(count):
        asset = deployment.assets[i % len(deployment.assets)]
        amount = int(usd[i]) * 10**8 * 10**asset.decimals // prices[asset.symbol]
        debt = int(usd[i] * ltv_bps[asset.symbol] / 10_000 * fraction[i] * 10**deployment.stable.decimals)
        plan.append(AavePlanned(aave_borrower(seed, i), asset.symbol, amount, debt))
    return plan


def seed_aave_positions(w3: Web3, deployment: AaveDeployment, plan: list[AavePlanned]) -> int:
    """Open every planned position through the pool; returns the number of transactions sent."""
    token = contract_at(w3, "TestToken", deployment.stable.token)  # every TestToken has this ABI
    pool = deployment.pool_contract(w3)
    minter, pool_address = deployment.deployer, deployment.pool
    phases: list[list[dict[str, Any]]] = [[], [], [], []]
    for p in plan:
        asset = deployment.asset(p.symbol)
        phases[0].append({"from": minter, "to": asset.token, "data": token.encode_abi("mint", [p.account, p.amount])})
        phases[1].append(
            {"from": p.account, "to": asset.token, "data": token.encode_abi("approve", [pool_address, p.amount])}
        )
        phases[2].append(
            {
                "from": p.account,
                "to": pool_address,
                "data": pool.encode_abi("supply", [asset.token, p.amount, p.account, 0]),
            }
        )
        if p.debt:
            data = pool.encode_abi("borrow", [deployment.stable.token, p.debt, VARIABLE_RATE, 0, p.account])
            phases[3].append({"from": p.account, "to": pool_address, "data": data})
    nonces: dict[str, int] = defaultdict(int)
    nonces[minter] = w3.eth.get_transaction_count(Web3.to_checksum_address(minter), "pending")
    tick = _Ticker(0, None)
    automine = _rpc(w3, "anvil_getAutomine", [])
    _rpc(w3, "anvil_autoImpersonateAccount", [True])
    _rpc(w3, "evm_setAutomine", [False])
    try:
        _batch(w3, "anvil_setBalance", [[p.account, hex(10**20)] for p in plan])
        return sum(_send_phase(w3, phase, nonces, tick) for phase in phases)
    finally:
        _rpc(w3, "evm_setAutomine", [automine])
        _rpc(w3, "anvil_autoImpersonateAccount", [False])
