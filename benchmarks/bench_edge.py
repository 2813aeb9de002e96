"""Benchmark: is the recommended LT safe on the worst admissible book, at every point of a stress grid?

For each demo asset (its collateral and pool depth as on the demo chain), on a grid of daily volatility
(2, 4, 6, 8, 12 %) x pool depth (0.25x, 1x, 4x the policy's) x largest holder (10 %, 50 % of the collateral):
the recommendation (form 2, the committed calibration's coefficients) and the bad-debt ES99 of the *edge book*
under it — the asset's collateral rearranged so that every position sits at health factor 1.00-1.05 under the
recommended parameters, one holder owning the grid's share — over one day and over the cut horizon (72 h), with
the policy's realistic liquidators (fitted to real Aave liquidations), Student-t (dof 4) paths.

The paths are *not* the calibration's: another seed and more of them (``--paths``), so this is a check of the
calibration out of its own sample. Goal: ES99 <= the appetite (0.1 % of the collateral) at every point; the worst
point is printed. Points where no LT can make the book safe at that depth (the calibration's "infeasible"
scenarios: the asset is too large for its pool) are reported apart, with what the recommendation does there.

Usage: python benchmarks/bench_edge.py [--paths 1000] [--seed 101] [--assets WETH,WBTC,LINK,AAVE]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from oracle.config import DEFAULT_POLICY, load_policy
from oracle.policy.calibrate import DOF, GAS_USD, load_calibration, scenario_features
from oracle.policy.recommend import MarketConstants, recommend_matrix, to_params
from oracle.risk.edge import edge_es99, edge_shocks
from oracle.risk.market import cascade_liquidators

DEPTH_RATIO = {"WETH": 0.047, "WBTC": 0.010, "LINK": 0.155, "AAVE": 0.118}  # collateral / depth on the demo chain
SIGMAS = (0.02, 0.04, 0.06, 0.08, 0.12)
DEPTHS = (0.25, 1.0, 4.0)
TOPS = (0.10, 0.50)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--assets", default="WETH,WBTC,LINK,AAVE")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY, help="policy file (its calibration beside it)")
    args = parser.parse_args()

    policy = load_policy(args.policy)
    calibration = load_calibration(policy)
    appetite, edge = policy.risk, policy.risk.edge_book
    assert edge is not None, "the policy has no [risk.edge_book]"
    const = MarketConstants.from_policy(appetite, policy.market.close_factor_bps, calibration.form)
    limit = appetite.es99_max_share
    started = time.perf_counter()
    rows = []
    for symbol in args.assets.split(","):
        depth0 = appetite.depth_usd[symbol]
        collateral = DEPTH_RATIO[symbol] * depth0
        liquidators = cascade_liquidators(appetite, [("", symbol)])
        for i, sigma in enumerate(SIGMAS):
            shocks = edge_shocks(sigma, DOF, appetite, edge, paths=args.paths, seed=args.seed + 10 * i)
            for mult in DEPTHS:
                for top in TOPS:
                    depth = depth0 * mult
                    gas_share = GAS_USD / (const.close_factor * collateral / edge.positions * 0.8)
                    features = scenario_features(
                        sigma,
                        collateral / depth,
                        density=1.0,
                        top10=min(1.0, top + 0.1),
                        gas_share=gas_share,
                        top1=top,
                    )
                    params = to_params(recommend_matrix(features.vector(), calibration.coefficients, const)[0])
                    risk = edge_es99(
                        collateral,
                        params.liquidation_threshold / 1e4,
                        params.liquidation_bonus / 1e4,
                        top_share=max(top, edge.top_holder_share),
                        edge=edge,
                        depth_usd=depth,
                        gas_usd=GAS_USD,
                        close_factor=const.close_factor,
                        liquidators=liquidators,
                        shocks=shocks,
                        cut_horizon_h=edge.cut_horizon_h,
                    )
                    floor = params.liquidation_threshold <= appetite.lt_floor_bps
                    rows.append(
                        {
                            "asset": symbol,
                            "sigma": sigma,
                            "depth_x": mult,
                            "top": top,
                            "ltv": params.ltv,
                            "lt": params.liquidation_threshold,
                            "lb": params.liquidation_bonus,
                            "es99_1d": risk.es99_1d_share,
                            "es99_3d": risk.es99_cut_share,
                            "within": risk.worst_share <= limit,
                            "at_lt_floor": floor,
                        }
                    )
                    r = rows[-1]
                    print(
                        f"{symbol:5} σ {sigma:4.0%} depth {mult:4}x top {top:3.0%}  LTV/LT/LB "
                        f"{r['ltv']:5}/{r['lt']:5}/{r['lb']:4}  ES99 1d {r['es99_1d']:.4%} 3d {r['es99_3d']:.4%}"
                        f"{'' if r['within'] else '  ABOVE APPETITE'}{'  (LT floor)' if floor else ''}",
                        flush=True,
                    )
    worst = max(rows, key=lambda r: max(r["es99_1d"], r["es99_3d"]))
    above = [r for r in rows if not r["within"]]
    print(
        f"worst point: {worst['asset']} σ {worst['sigma']:.0%} depth {worst['depth_x']}x top {worst['top']:.0%}: "
        f"ES99 1d {worst['es99_1d']:.4%}, 3d {worst['es99_3d']:.4%} (appetite {limit:.4%}); "
        f"{len(above)} of {len(rows)} points above the appetite, {sum(r['at_lt_floor'] for r in above)} of them at "
        f"the LT floor; {time.perf_counter() - started:.0f} s"
    )
    print(
        json.dumps(
            {
                "bench": "edge",
                "paths": args.paths,
                "seed": args.seed,
                "calibration_sha256": calibration.sha256,
                "appetite": limit,
                "points": len(rows),
                "above_appetite": len(above),
                "above_at_lt_floor": sum(r["at_lt_floor"] for r in above),
                "worst": worst,
                "goal_met": not above,
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
