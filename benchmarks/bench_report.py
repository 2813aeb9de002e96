"""Benchmark: what a cycle's report costs next to the recommendation it explains.

Anvil, the demo market, ``--positions`` borrowers (storage-seeded); one warm-up cycle (numba's compile of shap's
exact explainer is paid once per process), then ``--reps`` times: snapshot, ``analyse`` as ``recommend`` runs it (the
baseline: the decision itself, SHAP, forecast tracks and the gate's cascades included), ``analyse`` with the
robustness check (permutation x 2 seeds + KernelExplainer), and the report's formatting, charts + Markdown + HTML
+ manifest, seal;
then ``verify`` (re-hash, re-render, re-run) of the last report. Also the report directory's size.

Usage: python benchmarks/bench_report.py [--positions 300] [--reps 3]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender
from oracle.config import load_policy
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import deploy_market
from oracle.devnet.seed import seed_positions
from oracle.keeper import load_forecaster
from oracle.pipeline import analyse
from oracle.policy.calibrate import load_calibration
from oracle.report import build
from oracle.report.render import Seal, seal_report, write_report
from oracle.report.schema import ReportInputs
from oracle.report.verify import verify_directory


def timed(fn, *args, **kwargs):
    started = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    policy = load_policy()
    calibration = load_calibration(policy)
    model, card = load_forecaster()
    stages: dict[str, list[float]] = {}
    with AnvilNode() as node, tempfile.TemporaryDirectory() as tmp:
        w3 = make_web3(node.url, timeout_s=60)
        d = deploy_market(
            w3,
            TxSender(w3, ANVIL_DEFAULT_KEY),
            policy.market,
            keeper=TxSender(w3, ANVIL_KEEPER_KEY).address,
            guardian=TxSender(w3, ANVIL_GUARDIAN_KEY).address,
            price_history=load_demo_rounds(),
        )
        seed_positions(w3, d, args.positions, method="storage")
        source = ChainSource(w3, NativeMarketAdapter(d.market), d.governor, d.multicall, policy.snapshot)
        directory = Path(tmp) / "report"
        for rep in range(args.reps + 1):  # the first is the warm-up
            t: dict[str, float] = {}
            snapshot, t["snapshot"] = timed(read_snapshot, source)
            _, t["recommend"] = timed(analyse, snapshot, policy, calibration, model)  # what `recommend` runs
            analysis, t["analyse"] = timed(analyse, snapshot, policy, calibration, model, robustness=True)
            inputs = ReportInputs(
                snapshot=snapshot,
                forecasts=analysis.forecasts,
                policy=policy,
                calibration=calibration,
                previous=None,
                model=card,
                past=(),
            )
            report, t["build_total"] = timed(build.build_report, analysis, inputs, cycle_id=rep, dry_run=True)
            report_hash, t["render_write"] = timed(write_report, report, directory)
            _, t["seal"] = timed(seal_report, report, directory, Seal(report_hash=report_hash, dry_run=True))
            if rep:
                for k, v in t.items():
                    stages.setdefault(k, []).append(v)
        verification, verify_s = timed(verify_directory, directory)
        assert verification.passed, verification.checks
        size = {p.name: p.stat().st_size for p in directory.rglob("*") if p.is_file()}

    median = {k: statistics.median(v) for k, v in stages.items()}
    # the report's own cost: the robustness explainers the analysis adds for it, formatting, rendering, sealing
    report_s = (
        (median["analyse"] - median["recommend"]) + median["build_total"] + median["render_write"] + median["seal"]
    )
    for k, v in median.items():
        print(f"{k:<13} {v * 1e3:8.0f} ms")
    print(
        f"report (robustness + build + render + seal) {report_s:.2f} s = {report_s / median['recommend']:.1f}x the "
        f"recommendation ({median['recommend']:.2f} s); verify {verify_s:.1f} s (cold: includes numba's compile); "
        f"directory {sum(size.values()) / 1e6:.2f} MB (report.html {size['report.html'] / 1e6:.2f} MB)"
    )
    print(
        json.dumps(
            {
                "bench": "report",
                "positions": args.positions,
                "reps": args.reps,
                "stages_s": {k: round(v, 3) for k, v in median.items()},
                "report_s": round(report_s, 3),
                "ratio_vs_recommend": round(report_s / median["recommend"], 2),
                "verify_s": round(verify_s, 2),
                "directory_mb": round(sum(size.values()) / 1e6, 2),
                "html_mb": round(size["report.html"] / 1e6, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
