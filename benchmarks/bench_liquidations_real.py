"""Benchmark: the liquidation simulator against what was really liquidated on Aave (issue 15, item 2).

For each crisis window of ``oracle.data.aave_history.WINDOWS`` (four Aave v2 windows of 2021-22 that the behaviour
parameters were fitted on, and 2024-08-05 on Aave v3, never used for fitting), the window's start book is replayed
through ``oracle.risk.cascade.run_cascade`` on the real hourly ETH path with the real daily gas, using the frozen
parameters of ``oracle/risk/liquidators_fit.json``; the simulated USD of WETH collateral seized per day is compared
with the WETH reserve's real ``liquidated_usd`` (see ``oracle.risk.liquidation_replay`` for every assumption). The
goal: within a factor of 2 on every day with more than $5M really liquidated.

``--fit`` first re-runs the grid search on the fitted windows only (``--workers`` processes; about half an hour on
2 cores), writes the best point to the fit file, then reports as usual. The default run only replays (a few
seconds) and checks that the frozen file still reproduces its recorded objective.

Usage: python benchmarks/bench_liquidations_real.py [--data-dir ../shared/data] [--fit [--workers 2]]
       [--fit-file oracle/risk/liquidators_fit.json] [--threads 2]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from oracle.config import DEFAULT_POLICY, load_policy
from oracle.data.aave_history import WINDOWS
from oracle.risk.liquidation_replay import (
    FIT_FILE,
    SCORED_USD,
    FrozenFit,
    default_grid,
    fit_grid,
    load_fit,
    objective,
    replay,
    save_fit,
    score,
)

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="default: the embedded extract")
    parser.add_argument("--fit", action="store_true", help="re-fit on the fitted windows and write --fit-file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--fit-file", type=Path, default=FIT_FILE)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    if args.fit:
        grid = default_grid()
        fit_started = time.perf_counter()
        result = fit_grid(grid, data_dir=args.data_dir, workers=args.workers)
        best = result.best
        frozen = FrozenFit.of(
            best.fit,
            best.objective,
            out_of_sample_objective=score(
                best.fit, [w for w in WINDOWS if not w.fitted], data_dir=args.data_dir
            ).objective,
            windows=[w.name for w in WINDOWS if w.fitted],
            out_of_sample=[w.name for w in WINDOWS if not w.fitted],
            grid_points=result.points,
            inadmissible_points=result.inadmissible,
            date=datetime.now(UTC).date().isoformat(),
            command="python benchmarks/bench_liquidations_real.py --fit"
            + ("" if args.data_dir is None else f" --data-dir {args.data_dir}"),
        )
        save_fit(frozen, args.fit_file)
        print(
            f"fit: {result.points} grid points ({result.inadmissible} inadmissible, not scored) in "
            f"{time.perf_counter() - fit_started:,.0f} s; best objective {best.objective:.4f}, runners-up "
            f"{', '.join(f'{r.objective:.4f}' for r in result.ranked[1:4])}"
        )

    frozen = load_fit(args.fit_file)
    fit = frozen.fit
    replays = [replay(w, fit, data_dir=args.data_dir) for w in WINDOWS]
    # the policy's own liquidators on the same book: what the calibration and the keeper actually simulate
    behaviour = load_policy(DEFAULT_POLICY).risk.liquidators
    assert behaviour is not None, "the default policy has no [risk.liquidators]"
    policy_fit = frozen.with_behaviour(behaviour)
    policy_replays = [replay(w, policy_fit, data_dir=args.data_dir) for w in WINDOWS]
    fitted = [r for r in replays if r.window.fitted]
    held_out = [r for r in replays if not r.window.fitted]
    fit_objective = objective(fitted)
    oos_objective = objective(held_out)
    reproduced = math.isclose(fit_objective, frozen.objective, rel_tol=1e-6, abs_tol=1e-9)
    runtime = time.perf_counter() - started

    print(
        f"frozen fit ({args.fit_file.name}, {frozen.date}): capacity_share {frozen.capacity_share}, "
        f"chunk_bonus_share {frozen.chunk_bonus_share}, depth_beta {frozen.depth_beta}, "
        f"slippage_profit {frozen.slippage_profit}; book: debt_share {frozen.debt_share}, collateral_share "
        f"{frozen.collateral_share}, hf_scale {frozen.hf_scale}, anchor {frozen.anchor} {frozen.anchor_days} d "
        f"^{frozen.anchor_power}, accounts {frozen.accounts}; path: hourly {frozen.price}"
    )
    header = (
        f"{'window':<8} {'day':<10} {'real $m':>9} {'sim $m':>9} {'ratio':>7}  {'sample':<13} within x2"
        f"  {'policy $m':>9} {'ratio':>7}"
    )
    print(header)
    print("-" * len(header))
    days = []
    for r, p in zip(replays, policy_replays, strict=True):
        sample = "fitted" if r.window.fitted else "out-of-sample"
        for day, real, sim, psim in zip(r.real_usd.index, r.real_usd, r.sim_usd, p.sim_usd, strict=True):
            scored = bool(real > SCORED_USD)
            ratio = float(max(sim, 1e5) / real) if real > 0 else math.nan
            pratio = float(max(psim, 1e5) / real) if real > 0 else math.nan
            within = bool(scored and 0.5 <= ratio <= 2.0)
            mark = ("yes" if within else "NO") if scored else "-"
            ratio_s = f"{ratio:7.2f}" if real > 0 else f"{'-':>7}"
            row = f"{r.window.name:<8} {day.date()!s:<10} {real / 1e6:9.2f} {sim / 1e6:9.2f} {ratio_s}"
            pratio_s = f"{pratio:7.2f}" if real > 0 else f"{'-':>7}"
            print(f"{row}  {sample:<13} {mark:<9}  {psim / 1e6:9.2f} {pratio_s}")
            days.append(
                {
                    "window": r.window.name,
                    "day": day.date().isoformat(),
                    "real_usd_m": round(real / 1e6, 3),
                    "sim_usd_m": round(sim / 1e6, 3),
                    "ratio": None if real <= 0 else round(ratio, 4),
                    "sample": sample,
                    "scored": scored,
                    "within_2x": within if scored else None,
                    "policy_sim_usd_m": round(psim / 1e6, 3),
                    "policy_within_2x": bool(0.5 <= pratio <= 2.0) if scored else None,
                }
            )
    for r in replays:
        print(
            f"{r.window.name}: book supplied ${r.book.supplied_usd / 1e6:,.0f}M, of which backing "
            f"${(r.book.supplied_usd - r.book.collateral_usd[-1]) / 1e6:,.0f}M, stable debt "
            f"${r.book.debt_total_usd / 1e6:,.0f}M ({r.book.stable_debt_share:.0%} of the market's "
            f"${r.book.stable_borrowed_usd / 1e6:,.0f}M)"
        )
    scored_fit = [d for d in days if d["scored"] and d["sample"] == "fitted"]
    scored_oos = [d for d in days if d["scored"] and d["sample"] != "fitted"]

    def worst(rows: list[dict[str, object]]) -> float:
        return max((abs(math.log(float(str(d["ratio"])))) for d in rows), default=math.nan)

    print(
        f"objective (mean |log(sim/real)| on days > ${SCORED_USD / 1e6:.0f}M): fitted {fit_objective:.4f} "
        f"(frozen {frozen.objective:.4f}, reproduced: {reproduced}), out of sample {oos_objective:.4f}; "
        f"within x2: fitted {sum(bool(d['within_2x']) for d in scored_fit)}/{len(scored_fit)}, "
        f"out of sample {sum(bool(d['within_2x']) for d in scored_oos)}/{len(scored_oos)}; "
        f"worst factor fitted {math.exp(worst(scored_fit)):.2f}, out of sample {math.exp(worst(scored_oos)):.2f}; "
        f"{runtime:.1f} s"
    )
    policy_scored = [d for d in days if d["scored"]]
    print(
        f"the policy's liquidators (capacity_share {behaviour.capacity_share}, chunk_bonus_share "
        f"{behaviour.chunk_bonus_share}, depth_beta {behaviour.depth_beta}) on the same book: objective fitted "
        f"{objective([r for r in policy_replays if r.window.fitted]):.4f}, out of sample "
        f"{objective([r for r in policy_replays if not r.window.fitted]):.4f}; within x2: fitted "
        f"{sum(bool(d['policy_within_2x']) for d in policy_scored if d['sample'] == 'fitted')}/{len(scored_fit)}, "
        f"out of sample {sum(bool(d['policy_within_2x']) for d in policy_scored if d['sample'] != 'fitted')}/"
        f"{len(scored_oos)}"
    )
    print(
        json.dumps(
            {
                "bench": "liquidations_real",
                "fit_file": str(
                    args.fit_file.resolve().relative_to(REPO)
                    if args.fit_file.resolve().is_relative_to(REPO)
                    else args.fit_file
                ),
                "objective_fitted": round(fit_objective, 6),
                "objective_frozen": frozen.objective,
                "objective_reproduced": reproduced,
                "objective_out_of_sample": round(oos_objective, 6),
                "fitted_within_2x": f"{sum(bool(d['within_2x']) for d in scored_fit)}/{len(scored_fit)}",
                "out_of_sample_within_2x": f"{sum(bool(d['within_2x']) for d in scored_oos)}/{len(scored_oos)}",
                "worst_factor_fitted": round(math.exp(worst(scored_fit)), 3),
                "worst_factor_out_of_sample": round(math.exp(worst(scored_oos)), 3),
                "goal_met": all(bool(d["within_2x"]) for d in scored_fit + scored_oos),
                "policy_liquidators": {
                    "capacity_share": behaviour.capacity_share,
                    "chunk_bonus_share": behaviour.chunk_bonus_share,
                    "depth_beta": behaviour.depth_beta,
                    "objective_fitted": round(objective([r for r in policy_replays if r.window.fitted]), 6),
                    "objective_out_of_sample": round(objective([r for r in policy_replays if not r.window.fitted]), 6),
                    "fitted_within_2x": f"{sum(bool(d['policy_within_2x']) for d in scored_fit)}/{len(scored_fit)}",
                    "out_of_sample_within_2x": f"{sum(bool(d['policy_within_2x']) for d in scored_oos)}/"
                    f"{len(scored_oos)}",
                },
                "params": {k: v for k, v in frozen.model_dump().items() if k not in ("assumptions",)},
                "days": days,
                "runtime_s": round(runtime, 2),
                "threads": args.threads,
                "data": "embedded extract" if args.data_dir is None else str(args.data_dir),
                "numpy": np.__version__,
                "torch": torch.__version__,
            }
        )
    )
    if not reproduced:
        sys.exit(f"the frozen objective {frozen.objective} is not reproduced ({fit_objective}): the fit is stale")


if __name__ == "__main__":
    main()
