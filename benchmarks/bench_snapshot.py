"""Benchmark: reading a whole market snapshot with Multicall3 vs one eth_call per read, 1k -> 50k positions.

All readers run the same code (``read_snapshot``) on the same anvil chain at the same block and must return
the same snapshot; only the batching differs. Two baselines, each one ``eth_call`` per read, sent as raw
JSON-RPC: "naive" reads every field separately (``collateralOf(account, asset)`` per asset, ``debtOf``), as the
issue defines it; "per_read" uses ``positionOf`` (all of a position's fields at once), a kinder baseline.
Markets have six collateral assets and are seeded
through storage writes (``seed_positions(method="storage")``, checked against transaction seeding in the tests).

Usage: python benchmarks/bench_snapshot.py [--sizes 1000,10000,50000] [--naive-sizes 1000,10000] [--reps 5]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Sequence

from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter, RawMarket, RawPosition
from oracle.chain.multicall import Call, Multicall, Result
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.rpc import make_web3, rpc_call
from oracle.chain.tx import TxSender
from oracle.config import load_policy
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, AnvilNode
from oracle.devnet.deploy import deploy_market
from oracle.devnet.seed import seed_positions
from oracle.domain.market import AssetSpec, MarketSpec
from oracle.domain.params import RiskParams


class PerCallReads(Multicall):
    """The baseline: every inner call as its own ``eth_call`` to its target, at the same block.

    Sent as raw JSON-RPC requests (``provider.make_request``): ``w3.eth.call`` adds ~5 ms of formatting per call
    here, and a baseline should not lose on overhead that a careful naive reader would avoid.
    """

    def run(self, calls: Sequence[Call], block: int) -> list[Result]:
        results = []
        for c in calls:

            def one(c: Call = c) -> bytes:
                self.eth_calls += 1
                answer = self.w3.provider.make_request(  # type: ignore[arg-type]
                    "eth_call", [{"to": c.target, "data": "0x" + c.data.hex()}, hex(block)]
                )
                if "error" in answer:
                    raise RuntimeError(f"{c.label}: {answer['error']}")
                return bytes.fromhex(answer["result"][2:])

            results.append(Result(True, rpc_call(self.w3, one, c.label)))
        return results


class PerFieldAdapter(NativeMarketAdapter):
    """The issue's naive reader: every field of a position is its own read (``collateralOf(account, asset)`` per
    asset, ``debtOf(account)``), as a reader without ``positionOf`` or batching would do it."""

    def read_positions(self, mc: Multicall, block: int, market: RawMarket) -> tuple[RawPosition, ...]:
        accounts = [
            Web3.to_checksum_address(r.data[12:32].hex())
            for r in mc.run(
                [self._call("borrowerAt(uint256)", ["uint256"], [i]) for i in range(market.borrowers)], block
            )
        ]
        n = len(market.assets)
        calls = []
        for a in accounts:
            calls += [
                self._call("collateralOf(address,address)", ["address", "address"], [a, asset.address])
                for asset in market.assets
            ]
            calls.append(self._call("debtOf(address)", ["address"], [a]))
        words = [int.from_bytes(r.data[:32], "big") for r in mc.run(calls, block)]
        return tuple(
            RawPosition(account=a, collateral=tuple(words[i * (n + 1) : i * (n + 1) + n]), debt=words[i * (n + 1) + n])
            for i, a in enumerate(accounts)
        )


def six_asset_market(base: MarketSpec, positions: int) -> MarketSpec:
    """The demo market plus UNI and CRV, with liquidity for ``positions`` borrowers."""
    template = base.assets[2]  # LINK: a mid-cap's bounds
    extra = [
        AssetSpec(
            **(
                template.model_dump()
                | {
                    "symbol": "UNI",
                    "name": "Uniswap",
                    "price_source": "uni",
                    "params": RiskParams(ltv=6500, liquidation_threshold=7400, liquidation_bonus=1000),
                }
            )
        ),
        AssetSpec(
            **(
                template.model_dump()
                | {
                    "symbol": "CRV",
                    "name": "Curve DAO",
                    "price_source": "crv",
                    "params": RiskParams(ltv=5500, liquidation_threshold=6100, liquidation_bonus=1000),
                }
            )
        ),
    ]
    return base.model_copy(
        update={"assets": [*base.assets, *extra], "liquidity": max(base.liquidity, positions * 80_000)}
    )


def measure(size: int, reps: int, naive_reps: int) -> dict[str, object]:
    policy = load_policy()
    with AnvilNode() as node:
        w3 = make_web3(node.url, timeout_s=120)
        sender = TxSender(w3, ANVIL_DEFAULT_KEY)
        d = deploy_market(
            w3,
            sender,
            six_asset_market(policy.market, size),
            keeper=sender.address,
            guardian=sender.address,
            price_history=load_demo_rounds(),
        )
        t0 = time.perf_counter()
        seed_positions(w3, d, size, method="storage")
        seed_s = time.perf_counter() - t0
        source = ChainSource(w3, NativeMarketAdapter(d.market), d.governor, d.multicall, policy.snapshot)
        block = w3.eth.block_number
        fast, fast_times, calls = None, [], 0
        for _ in range(reps):
            mc = Multicall(w3, d.multicall)
            t0 = time.perf_counter()
            fast = read_snapshot(source, block, mc)
            fast_times.append(time.perf_counter() - t0)
            calls = mc.eth_calls
        row: dict[str, object] = {
            "positions": size,
            "assets": len(d.assets),
            "seed_s": round(seed_s, 2),
            "multicall_s": round(statistics.median(fast_times), 3),
            "multicall_eth_calls": calls,
        }
        if naive_reps:
            per_field = ChainSource(w3, PerFieldAdapter(d.market), d.governor, d.multicall, policy.snapshot)
            for name, src in (("naive", per_field), ("per_read", source)):
                times = []
                for _ in range(naive_reps):
                    slow_mc = PerCallReads(w3, d.multicall)
                    t0 = time.perf_counter()
                    slow = read_snapshot(src, block, slow_mc)
                    times.append(time.perf_counter() - t0)
                    assert slow == fast, "every reader must return the same snapshot"
                row |= {
                    f"{name}_s": round(statistics.median(times), 3),
                    f"{name}_eth_calls": slow_mc.eth_calls,
                    f"{name}_ratio": round(statistics.median(times) / statistics.median(fast_times), 1),
                }
            row["ratio"] = row.pop("naive_ratio")
        return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--naive-sizes", default="1000,10000")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--naive-reps", type=int, default=3)
    args = parser.parse_args()
    naive = {int(s) for s in args.naive_sizes.split(",") if s}
    rows = []
    for size in (int(s) for s in args.sizes.split(",")):
        row = measure(size, args.reps, args.naive_reps if size in naive else 0)
        rows.append(row)
        print(
            f"{size:>6} positions: multicall {row['multicall_s']:.3f} s ({row['multicall_eth_calls']} eth_calls)"
            + (
                f"; naive per field {row['naive_s']:.2f} s ({row['naive_eth_calls']} eth_calls) = {row['ratio']}x"
                f"; one eth_call per read {row['per_read_s']:.2f} s ({row['per_read_eth_calls']}) = "
                f"{row['per_read_ratio']}x"
                if "naive_s" in row
                else ""
            ),
            flush=True,
        )
    headline = next((r for r in rows if r["positions"] == 10_000), rows[-1])
    print(
        json.dumps(
            {
                "bench": "snapshot",
                "cpus": os.cpu_count(),
                "positions": headline["positions"],
                "multicall_s": headline["multicall_s"],
                "naive_s": headline.get("naive_s"),
                "ratio": headline.get("ratio"),
                "per_read_ratio": headline.get("per_read_ratio"),
                "goal": {"ratio_min": 50, "multicall_s_max_at_10k": 2.0},
                "scaling": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
