"""Benchmark: Aave v3 positions read through ``AaveV3MarketAdapter`` vs a naive per-user ``getUserAccountData`` loop.

Real Aave v3 (npm artifacts) on anvil, seeded through real supply/borrow transactions
(``oracle.devnet.aave_seed``). Both readers run at the same block in the same run:

- adapter: ``read_market`` (reserves, prices, totals, user index up to date) + ``read_positions`` (per user: the
  configuration bitmap, 4 aToken balances, the debt balance, in Multicall3 batches) + every health factor computed
  with Aave's rounding;
- naive: one raw JSON-RPC ``eth_call`` of ``Pool.getUserAccountData(user)`` per user (users from the same index),
  which gives Aave's HF but not the per-reserve balances the oracle needs, a kind baseline.

Every adapter HF is checked equal to the naive one. Also timed: indexing users from block 0 (cold, no cache) and an
incremental sync after one more block of borrows (the cache's path).

Usage: python benchmarks/bench_aave_snapshot.py [--positions 2000] [--reps 3]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from oracle.chain.adapters.aave_users import AaveUserIndex
from oracle.chain.adapters.aave_v3 import AaveV3MarketAdapter
from oracle.chain.multicall import Multicall
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender
from oracle.config import load_policy
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.aave import deploy_aave_market
from oracle.devnet.aave_seed import plan_aave_positions, seed_aave_positions
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, AnvilNode

ACCOUNT_DATA = "0xbf92857c"  # getUserAccountData(address)


def naive_health_factors(w3: object, pool: str, users: tuple[str, ...], block: int) -> list[int]:
    out = []
    for u in users:
        data = ACCOUNT_DATA + u[2:].lower().rjust(64, "0")
        answer = w3.provider.make_request("eth_call", [{"to": pool, "data": data}, hex(block)])  # type: ignore[attr-defined]
        if "error" in answer:
            raise RuntimeError(f"getUserAccountData({u}): {answer['error']}")
        out.append(int(answer["result"][2 + 5 * 64 : 2 + 6 * 64], 16))
    return out


def measure(positions: int, reps: int) -> dict[str, object]:
    policy = load_policy()
    # big blocks: seeding is thousands of Aave transactions
    with AnvilNode(extra_args=["--gas-limit", "1000000000"]) as node:
        w3 = make_web3(node.url, timeout_s=120)
        sender = TxSender(w3, ANVIL_DEFAULT_KEY)
        history = {a: r[-40:] for a, r in load_demo_rounds().items()}
        spec = policy.market.model_copy(update={"liquidity": max(policy.market.liquidity, positions * 200_000)})
        d = deploy_aave_market(w3, sender, spec, keeper=sender.address, guardian=sender.address, price_history=history)
        t0 = time.perf_counter()
        plan = plan_aave_positions(w3, d, positions)
        txs = seed_aave_positions(w3, d, plan)
        seed_s = time.perf_counter() - t0
        block = w3.eth.block_number

        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "users.json"
            index = AaveUserIndex(d.pool, start_block=0, cache_path=cache)
            t0 = time.perf_counter()
            users = index.sync(w3, block)
            index_cold_s = time.perf_counter() - t0
            cold = index.last_sync
            assert cold is not None and len(users) == positions + 1  # + the lenders' liquidity (the deployer)

            adapter = AaveV3MarketAdapter(d.pool, d.stable.token, index)
            times, eth_calls = [], 0
            hfs: list[int] = []
            for _ in range(reps):
                mc = Multicall(w3, d.multicall)
                t0 = time.perf_counter()
                market = adapter.read_market(mc, block)
                read = adapter.read_positions(mc, block, market)
                prices = tuple(a.oracle_price for a in market.assets)
                hfs = [adapter.health_factor_wad(market, prices, p) for p in read]
                times.append(time.perf_counter() - t0)
                eth_calls = mc.eth_calls
            naive_times, naive = [], []
            for _ in range(reps):
                t0 = time.perf_counter()
                naive = naive_health_factors(w3, d.pool, market.users, block)
                naive_times.append(time.perf_counter() - t0)
            assert hfs == naive, "the adapter's HFs must be Aave's"

            # one more block with new borrowers: the incremental sync reads only its logs
            more = plan_aave_positions(w3, d, 20, seed=1)
            seed_aave_positions(w3, d, more)
            t0 = time.perf_counter()
            index.sync(w3, w3.eth.block_number)
            index_incremental_s = time.perf_counter() - t0
            inc = index.last_sync
            assert inc is not None and inc.new_users == 20
        fast, slow = statistics.median(times), statistics.median(naive_times)
        return {
            "positions": positions,
            "reserves": len(d.assets) + 1,
            "seed_transactions": txs,
            "seed_s": round(seed_s, 1),
            "adapter_s": round(fast, 3),
            "adapter_eth_calls": eth_calls,
            "naive_s": round(slow, 3),
            "naive_eth_calls": len(market.users),
            "ratio": round(slow / fast, 1),
            "index_cold_s": round(index_cold_s, 3),
            "index_cold_blocks": block + 1,
            "index_cold_logs": cold.logs,
            "index_cold_requests": cold.requests,
            "index_incremental_s": round(index_incremental_s, 3),
            "index_incremental_blocks": inc.to_block - inc.from_block + 1,
            "index_incremental_logs": inc.logs,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=2000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    row = measure(args.positions, args.reps)
    print(
        f"{row['positions']} Aave positions: adapter {row['adapter_s']:.3f} s ({row['adapter_eth_calls']} eth_calls), "
        f"naive getUserAccountData loop {row['naive_s']:.3f} s ({row['naive_eth_calls']} eth_calls) = {row['ratio']}x; "
        f"seeding {row['seed_transactions']} transactions took {row['seed_s']} s; user index cold "
        f"{row['index_cold_s']} s ({row['index_cold_logs']} logs, {row['index_cold_blocks']} blocks), incremental "
        f"{row['index_incremental_s']} s ({row['index_incremental_logs']} logs)",
        flush=True,
    )
    print(json.dumps({"bench": "aave_snapshot", "cpus": os.cpu_count(), **row}))


if __name__ == "__main__":
    main()
