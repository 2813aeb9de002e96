"""Benchmark: exact SHAP attributions of the recommendation, per asset, and their additivity error in bps.

The explained function is the calibrated recommendation of ``policies/default.toml``; the background is 120
recent-looking feature vectors (30 days x 4 assets, as ``recent_background`` builds on the demo chain) and the
explained rows are ``--assets`` assets. Timed warm (numba compiles shap's exact explainer once per process: that
first call is reported separately as ``cold_s``). Baseline in the same run: ``shap.KernelExplainer`` (the generic
model-agnostic explainer) on the same rows and background.

Usage: python benchmarks/bench_explain.py [--assets 4] [--background 120] [--reps 5]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import shap

from oracle.config import load_policy
from oracle.explain.attribution import explain
from oracle.policy.calibrate import load_calibration
from oracle.policy.features import FEATURE_NAMES
from oracle.policy.recommend import MarketConstants, recommend_matrix


def feature_rows(n: int, seed: int) -> np.ndarray:
    """Plausible feature vectors (ranges seen on the demo chain and in the calibration scenarios)."""
    rng = np.random.default_rng(seed)
    return np.column_stack(
        [
            rng.uniform(0.02, 0.12, n),
            rng.uniform(2.4, 3.2, n),
            rng.choice([0, 0.5, 1], n),
            rng.uniform(0, 2, n),
            rng.uniform(0, 0.3, n),
            rng.uniform(0.1, 0.9, n),
            rng.uniform(0.01, 0.3, n),
            rng.uniform(0.2, 0.95, n),
            rng.uniform(0, 0.01, n),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=4)
    parser.add_argument("--background", type=int, default=120)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args()
    policy = load_policy()
    coef = load_calibration(policy).coefficients
    const = MarketConstants.from_policy(policy.risk, policy.market.close_factor_bps)

    def model(x: np.ndarray) -> np.ndarray:
        return recommend_matrix(x, coef, const)

    background, rows = feature_rows(args.background, 1), feature_rows(args.assets, 2)
    names = [f"A{i}" for i in range(args.assets)]
    started = time.perf_counter()
    explain(model, rows[:1], background, names[:1])
    cold_s = time.perf_counter() - started
    times = []
    for _ in range(args.reps):
        started = time.perf_counter()
        result = explain(model, rows, background, names)
        times.append(time.perf_counter() - started)
    per_asset = min(times) / args.assets
    max_err = max(o.additivity_error_bps for a in result for o in a.outputs)

    kernel = shap.KernelExplainer(model, shap.sample(background, 100, random_state=0), silent=True)
    started = time.perf_counter()
    values = np.asarray(kernel.shap_values(rows, nsamples=2 * len(FEATURE_NAMES) + 2048, silent=True))
    kernel_per_asset = (time.perf_counter() - started) / args.assets
    values = values.reshape(args.assets, len(FEATURE_NAMES), 3)
    kernel_err = float(np.abs(np.asarray(kernel.expected_value)[None, :] + values.sum(1) - model(rows)).max())
    exact_values = np.array([[list(o.contributions_bps.values()) for o in a.outputs] for a in result])
    kernel_gap = float(np.abs(exact_values.transpose(0, 2, 1) - values).max())

    print(
        f"exact SHAP, {len(FEATURE_NAMES)} features x 3 outputs, background {args.background}: "
        f"{per_asset * 1e3:.1f} ms per asset warm (first call {cold_s:.1f} s incl. numba compile); "
        f"max additivity error {max_err:.2e} bps"
    )
    print(
        f"KernelExplainer baseline: {kernel_per_asset * 1e3:.0f} ms per asset, additivity error {kernel_err:.2e} "
        f"bps, largest gap to exact {kernel_gap:.2f} bps; speed-up {kernel_per_asset / per_asset:.0f}x"
    )
    print(
        json.dumps(
            {
                "bench": "explain",
                "assets": args.assets,
                "features": len(FEATURE_NAMES),
                "background": args.background,
                "per_asset_s": round(per_asset, 5),
                "cold_s": round(cold_s, 2),
                "max_additivity_err_bps": max_err,
                "kernel_per_asset_s": round(kernel_per_asset, 4),
                "speedup_vs_kernel": round(kernel_per_asset / per_asset, 1),
                "kernel_max_gap_bps": round(kernel_gap, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
