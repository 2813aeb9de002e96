"""Backtest benchmark: the strategies side by side over real crisis windows, through the real contracts, and how
fast the instrument runs.

Outcome: summed over the windows, the oracle's bad debt against the better static run's (``null`` when the static
runs lose nothing: then the goal is that the oracle loses nothing either, with a higher average LTV), and the
time-weighted LTV of each. Speed: hourly steps per second and EVM transactions per second per strategy, against
the 60 s goal for a 30-day window with 1,000 borrowers.

Usage: python benchmarks/bench_backtest.py [--data-dir ../shared/data] [--window crises] [--strategy ...]
       [--seeds 1] [--positions 300] [--serial] [--out backtests/bench]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from oracle.backtest.grid import GridSpec, run_grid
from oracle.backtest.report import write_backtest
from oracle.backtest.windows import parse_window
from oracle.config import DEFAULT_POLICY, load_policy

STATICS = ("static", "static-aave")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--window", action="append", default=None, help="repeatable (default: 2022-06)")
    parser.add_argument("--strategy", default="static,static-aave,oracle")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--positions", type=int, default=300)
    parser.add_argument("--cadence-h", type=int, default=24)
    parser.add_argument("--active-borrowers", type=float, default=0.6)
    parser.add_argument("--serial", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("backtests/bench"))
    args = parser.parse_args()

    policy = load_policy(DEFAULT_POLICY)
    windows = tuple(w for spec in (args.window or ["2022-06"]) for w in parse_window(spec))
    spec = GridSpec(
        windows=windows,
        strategies=tuple(args.strategy.split(",")),
        seeds=tuple(range(1, args.seeds + 1)),
        positions=args.positions,
        cadence_h=args.cadence_h,
        active_borrowers=args.active_borrowers,
    )
    started = time.perf_counter()
    results = run_grid(spec, policy, args.out, data_dir=args.data_dir, serial=args.serial)
    wall = time.perf_counter() - started
    data = "embedded extract" if args.data_dir is None else str(args.data_dir)
    report = write_backtest(args.out, spec, results, policy=policy.name, data=data, runtime_s=wall)
    print((args.out / "backtest.md").read_text())

    totals: dict[str, dict[str, float]] = {}
    for row in report.summary:
        t = totals.setdefault(row.strategy, {"bad_debt_usd": 0.0, "ltv_sum": 0.0, "windows": 0.0})
        t["bad_debt_usd"] += row.bad_debt_usd
        t["ltv_sum"] += row.avg_ltv_weighted_bps
        t["windows"] += 1
    speed: dict[str, dict[str, float]] = {}
    for r in results:
        s = speed.setdefault(r.spec.strategy, {"steps": 0, "txs": 0, "seconds": 0.0, "keeper_s": 0.0})
        s["steps"] += r.steps
        s["txs"] += r.evm_transactions
        s["seconds"] += r.runtime_s
        s["keeper_s"] += r.keeper_s
    statics = [totals[s] for s in STATICS if s in totals]
    oracle = totals.get("oracle")
    best_static = min(statics, key=lambda t: t["bad_debt_usd"]) if statics else None
    ratio = None
    if oracle is not None and best_static is not None and best_static["bad_debt_usd"] > 0:
        ratio = oracle["bad_debt_usd"] / best_static["bad_debt_usd"]
    for name, s in speed.items():
        per_30d = s["seconds"] / s["steps"] * 721 if s["steps"] else float("nan")
        print(
            f"{name}: {s['steps'] / s['seconds']:.1f} steps/s, {s['txs'] / s['seconds']:.1f} EVM tx/s, keeper "
            f"{s['keeper_s']:.0f} of {s['seconds']:.0f} s; a 30-day window at this rate: {per_30d:.0f} s "
            f"({args.positions} positions; goal 60 s with 1,000)"
        )
    print(
        json.dumps(
            {
                "bench": "backtest",
                "windows": [w.name for w in windows],
                "strategies": list(spec.strategies),
                "seeds": list(spec.seeds),
                "positions": args.positions,
                "bad_debt_usd": {k: round(v["bad_debt_usd"], 2) for k, v in totals.items()},
                "avg_ltv_bps": {k: round(v["ltv_sum"] / v["windows"], 1) for k, v in totals.items()},
                "oracle_over_best_static_bad_debt": None if ratio is None else round(ratio, 4),
                "steps_per_s": {k: round(v["steps"] / v["seconds"], 2) for k, v in speed.items()},
                "evm_tx_per_s": {k: round(v["txs"] / v["seconds"], 2) for k, v in speed.items()},
                "wall_s": round(wall, 1),
                "data": data,
            }
        )
    )


if __name__ == "__main__":
    main()
