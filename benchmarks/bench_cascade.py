"""Benchmark: the vectorised torch cascade vs the straightforward per-path Python reference.

Market: 10,000 positions over four assets with the demo market's shape (70 % single-collateral, 15 % near
liquidation at HF 1.03-1.15, 2 % whales), pool depths at the demo policy's collateral/depth ratios, the demo
policy's LT/LB; 10,000 paths of 24 hourly steps from Student-t (dof 4) daily vols of 4-7 %, correlation 0.7.
The realism terms are on, as the policy's ``[risk.liquidators]`` sets them (the feed's deviation and heartbeat,
liquidator capacity and profitable chunks, depth shrinking with volatility, impact decay, the slippage in the
profit test); ``--instant`` measures the first simulator instead.
The reference (:func:`oracle.risk.cascade.reference_cascade`, the same model one path and one position at a time)
runs in the same process on the first ``--ref-paths`` paths and ``--ref-positions`` positions and is scaled
linearly in paths x positions; the torch engine is also timed on that small case, and both are checked to agree
there.

Usage: python benchmarks/bench_cascade.py [--paths 10000] [--positions 10000] [--steps 24] [--threads 2] [--instant]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np
import torch

from oracle.config import load_policy
from oracle.risk.cascade import (
    INSTANT,
    CascadeMarket,
    CascadeParams,
    Shocks,
    reference_cascade,
    run_cascade,
    sample_shocks,
)
from oracle.risk.market import cascade_liquidators

DEPTH_RATIO = {"WETH": 0.047, "WBTC": 0.010, "LINK": 0.155, "AAVE": 0.118}  # collateral / depth on the demo chain
SIGMA = np.array([0.045, 0.04, 0.065, 0.07])


def synthetic_market(positions: int, seed: int = 1) -> tuple[CascadeMarket, CascadeParams]:
    """The benchmark market (see the module docstring)."""
    policy = load_policy()
    assets = policy.market.assets
    rng = np.random.default_rng(seed)
    whale = rng.random(positions) < 0.02
    value = np.where(whale, rng.uniform(2e6, 1e7, positions), rng.lognormal(np.log(2e4), 1.0, positions))
    coll = np.zeros((positions, len(assets)))
    for i in range(positions):
        chosen = rng.choice(len(assets), size=1 if rng.random() < 0.7 else 2, replace=False)
        coll[i, chosen] = value[i] * rng.dirichlet(np.ones(len(chosen)))
    lt = np.array([a.params.liquidation_threshold for a in assets]) / 1e4
    lb = np.array([a.params.liquidation_bonus for a in assets]) / 1e4
    hf = np.where(rng.random(positions) < 0.15, rng.uniform(1.03, 1.15, positions), rng.uniform(1.3, 3.0, positions))
    debt = np.where(rng.random(positions) < 0.05, 0.0, coll @ lt / hf)
    depth = coll.sum(axis=0) / np.array([DEPTH_RATIO[a.symbol] for a in assets])
    return CascadeMarket(coll, debt, depth, gas_usd=20.0, close_factor=0.5), CascadeParams(lt, lb)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--positions", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=24)
    parser.add_argument("--ref-paths", type=int, default=10)
    parser.add_argument("--ref-positions", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--instant", action="store_true", help="the first simulator: no realism terms")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    market, params = synthetic_market(args.positions)
    policy = load_policy()
    liquidators = (
        INSTANT
        if args.instant
        else cascade_liquidators(policy.risk, [(a.symbol, a.symbol) for a in policy.market.assets])
    )
    corr = np.full((4, 4), 0.7) + 0.3 * np.eye(4)
    started = time.perf_counter()
    shocks = sample_shocks(SIGMA, np.full(4, 4.0), corr, paths=args.paths, steps=args.steps, seed=3)
    shocks_s = time.perf_counter() - started
    run_cascade(market, params, Shocks(shocks.log_returns[:256], 3), liquidators=liquidators)  # warm-up
    times = []
    for _ in range(args.reps):
        started = time.perf_counter()
        result = run_cascade(market, params, shocks, liquidators=liquidators)
        times.append(time.perf_counter() - started)
    torch_s = min(times)

    # the reference on a small case, and the torch engine on the same case
    small = CascadeMarket(
        market.collateral_usd[: args.ref_positions],
        market.debt_usd[: args.ref_positions],
        market.depth_usd * args.ref_positions / args.positions,
        market.gas_usd,
        market.close_factor,
    )
    small_shocks = Shocks(shocks.log_returns[: args.ref_paths], 3)
    started = time.perf_counter()
    ref = reference_cascade(small, params, small_shocks, liquidators=liquidators)
    reference_s = time.perf_counter() - started
    started = time.perf_counter()
    fast = run_cascade(small, params, small_shocks, dtype=torch.float64, liquidators=liquidators)
    torch_small_s = time.perf_counter() - started
    agree = bool(
        np.allclose(fast.bad_debt_usd, ref.bad_debt_usd, rtol=1e-9, atol=1e-6)
        and np.array_equal(fast.liquidations, ref.liquidations)
    )
    scale = (args.paths / args.ref_paths) * (args.positions / args.ref_positions)
    reference_scaled = reference_s * scale
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    print(
        f"market: {args.positions} positions, collateral ${market.supplied_collateral_usd / 1e6:,.0f}M, "
        f"debt ${market.debt_usd.sum() / 1e6:,.0f}M; {args.paths} paths x {args.steps} steps "
        f"(shocks sampled in {shocks_s:.2f} s)"
    )
    print(
        f"torch: {torch_s:.2f} s (best of {args.reps}: {', '.join(f'{t:.2f}' for t in times)}), "
        f"liquidations/path {result.liquidations.mean():.1f}, "
        f"bad debt p99 ${np.percentile(result.bad_debt_usd, 99):,.0f}"
    )
    print(
        f"reference: {reference_s:.2f} s for {args.ref_paths} paths x {args.ref_positions} positions "
        f"-> {reference_scaled:,.0f} s scaled; torch on the same small case {torch_small_s:.3f} s; agree: {agree}"
    )
    print(f"ratio {reference_scaled / torch_s:,.0f}x; peak RSS {peak_rss_mb:,.0f} MB")
    print(
        json.dumps(
            {
                "bench": "cascade",
                "paths": args.paths,
                "positions": args.positions,
                "steps": args.steps,
                "torch_s": round(torch_s, 3),
                "reference_s_scaled": round(reference_scaled, 1),
                "ratio": round(reference_scaled / torch_s, 1),
                "peak_rss_mb": round(peak_rss_mb, 1),
                "reference_agrees": agree,
                "threads": args.threads,
                "realism_terms": not args.instant,
            }
        )
    )


if __name__ == "__main__":
    main()
