"""Benchmark: what a cycle's report costs next to the recommendation it explains.

Anvil, the demo market, ``--positions`` borrowers (storage-seeded); one warm-up cycle (numba's compile of shap's
exact explainer is paid once per process), then ``--reps`` times: snapshot, forecasts, ``recommend_market``
(the baseline: the decision itself, SHAP included), and the report's parts: risk impact (two cascade runs),
robustness (permutation x 2 seeds + KernelExplainer), forecast tracks, charts + Markdown + HTML + manifest, seal;
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
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.chain.deploy import deploy_market
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.seed import seed_positions
from oracle.chain.tx import TxSender
from oracle.config import load_policy
from oracle.data.demo_prices import load_demo_rounds
from oracle.keeper import load_forecaster
from oracle.models.live import forecast
from oracle.policy.calibrate import load_calibration
from oracle.policy.engine import recommend_market
from oracle.report import build
from oracle.report.render import Seal, seal_report, write_report
from oracle.report.schema import ReportInputs
from oracle.report.verify import verify_directory


def timed(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201
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
        w3 = Web3(Web3.HTTPProvider(node.url, request_kwargs={"timeout": 60}))
        d = deploy_market(w3, TxSender(w3, ANVIL_DEFAULT_KEY), policy.market,
                          keeper=TxSender(w3, ANVIL_KEEPER_KEY).address,
                          guardian=TxSender(w3, ANVIL_GUARDIAN_KEY).address, price_history=load_demo_rounds())
        seed_positions(w3, d, args.positions, method="storage")
        source = ChainSource(w3, NativeMarketAdapter(d.market), d.governor, d.multicall, policy.snapshot)
        directory = Path(tmp) / "report"
        for rep in range(args.reps + 1):  # the first is the warm-up
            t: dict[str, float] = {}
            snapshot, t["snapshot"] = timed(read_snapshot, source)
            forecasts, t["forecast"] = timed(forecast, snapshot, model)
            recommendation, t["recommend"] = timed(recommend_market, snapshot, forecasts, policy, calibration, model)
            inputs = ReportInputs(snapshot=snapshot, forecasts=forecasts, policy=policy, calibration=calibration,
                                  previous=None, model=card, past=())
            _, t["risk_impact"] = timed(build.risk_impact, inputs, recommendation)
            _, t["robustness"] = timed(build.robustness, inputs, recommendation, model)
            report, t["build_total"] = timed(build.build_report, inputs, recommendation, model, cycle_id=rep,
                                             dry_run=True)
            report_hash, t["render_write"] = timed(write_report, report, directory)
            _, t["seal"] = timed(seal_report, report, directory, Seal(report_hash=report_hash, dry_run=True))
            if rep:
                for k, v in t.items():
                    stages.setdefault(k, []).append(v)
        verification, verify_s = timed(verify_directory, directory)
        assert verification.passed, verification.checks
        size = {p.name: p.stat().st_size for p in directory.rglob("*") if p.is_file()}

    median = {k: statistics.median(v) for k, v in stages.items()}
    report_s = median["build_total"] + median["render_write"] + median["seal"]
    for k, v in median.items():
        print(f"{k:<13} {v * 1e3:8.0f} ms")
    print(f"report (build + render + seal) {report_s:.2f} s = {report_s / median['recommend']:.1f}x the "
          f"recommendation ({median['recommend']:.2f} s); verify {verify_s:.1f} s (cold: includes numba's compile); "
          f"directory {sum(size.values()) / 1e6:.2f} MB (report.html {size['report.html'] / 1e6:.2f} MB)")
    print(json.dumps({
        "bench": "report", "positions": args.positions, "reps": args.reps,
        "stages_s": {k: round(v, 3) for k, v in median.items()}, "report_s": round(report_s, 3),
        "ratio_vs_recommend": round(report_s / median["recommend"], 2), "verify_s": round(verify_s, 2),
        "directory_mb": round(sum(size.values()) / 1e6, 2), "html_mb": round(size["report.html"] / 1e6, 2),
    }))


if __name__ == "__main__":
    main()
