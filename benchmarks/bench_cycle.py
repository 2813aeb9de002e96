"""Benchmark: what a keeper cycle and a one-shot command cost on the demo market, and what numba's on-disk cache
of shap's kernels saves a new process.

Starts the demo (anvil, contracts, ``--positions`` borrowers, its live cycle), then on that chain, at its latest
block:

- ``risk-oracle recommend`` as a new process, first with an empty cache directory (``ORACLE_CACHE_DIR``: numba
  compiles shap's kernels, the baseline), then ``--reps`` times with the cache it filled (warm);
- ``risk-oracle cycle`` (dry run) as a new process with the warm cache;
- in this process, ``--reps`` dry-run keeper cycles (the daemon's steady state), split into the analysis
  (``oracle.pipeline.analyse``), the report's build and its render, from the keeper's own calls.

Usage: python benchmarks/bench_cycle.py [--positions 300] [--reps 3]. Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from oracle.app import MarketAddresses, build_keeper
from oracle.chain.rpc import make_web3
from oracle.config import load_policy
from oracle.demo import demo_chain
from oracle.execution.journal import Journal


def _one_shot(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "oracle.cli", *args], env=env, check=True, capture_output=True)
    return time.perf_counter() - started


class _Stopwatch:
    """Wraps a function and adds up the time spent in it."""

    def __init__(self, module: object, name: str) -> None:
        self.module, self.name, self.total = module, name, 0.0
        self.inner = getattr(module, name)
        setattr(module, name, self)

    def __call__(self, *args: object, **kwargs: object) -> object:
        started = time.perf_counter()
        try:
            return self.inner(*args, **kwargs)
        finally:
            self.total += time.perf_counter() - started

    def take(self) -> float:
        total, self.total = self.total, 0.0
        return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--positions", type=int, default=300)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(2)
    policy = load_policy()
    with tempfile.TemporaryDirectory() as tmp, demo_chain(policy, args.positions, Path(tmp) / "demo", print) as run:
        deployment = Path(run.result.report_dir) / "deployment.json"
        env = {
            **os.environ,
            "ORACLE_CACHE_DIR": str(Path(tmp) / "cache"),
            "ORACLE_JOURNAL": str(Path(tmp) / "j"),
            "ORACLE_REPORTS_DIR": str(Path(tmp) / "reports"),
        }
        chain = ["--rpc", run.url, "--deployment", str(deployment)]
        cold = _one_shot(["recommend", *chain], env)
        warm = [_one_shot(["recommend", *chain], env) for _ in range(args.reps)]
        cycle_cli = [_one_shot(["cycle", *chain], env) for _ in range(args.reps)]

        analyse = _Stopwatch(sys.modules["oracle.keeper"], "analyse")
        build_report = _Stopwatch(sys.modules["oracle.keeper"], "build_report")
        write_report = _Stopwatch(sys.modules["oracle.keeper"], "write_report")
        journal = Journal(Path(tmp) / "bench-journal.sqlite")
        keeper = build_keeper(
            make_web3(run.url, 60),
            MarketAddresses.of(run.result.deployment),
            policy,
            journal,
            Path(tmp) / "bench-reports",
        )
        stages: dict[str, list[float]] = {"cycle": [], "analyse": [], "build": [], "render": []}
        for rep in range(args.reps + 1):  # the first pays this process's one-time costs
            started = time.perf_counter()
            result = keeper.run_cycle(dry_run=True)
            assert result.status == "done", result.detail
            if rep:
                stages["cycle"].append(time.perf_counter() - started)
                stages["analyse"].append(analyse.take())
                stages["build"].append(build_report.take())
                stages["render"].append(write_report.take())
            else:
                for watch in (analyse, build_report, write_report):
                    watch.take()
        journal.close()
    median = {k: statistics.median(v) for k, v in stages.items()}
    warm_s, cycle_s = statistics.median(warm), statistics.median(cycle_cli)
    print(
        f"recommend, one shot: cold cache {cold:.1f} s, warm {warm_s:.1f} s ({warm_s / cold:.2f}x); "
        f"cycle, one shot: {cycle_s:.1f} s"
    )
    print("dry-run cycle in a running keeper: " + ", ".join(f"{k} {v:.2f} s" for k, v in median.items()))
    print(
        json.dumps(
            {
                "bench": "cycle",
                "positions": args.positions,
                "reps": args.reps,
                "threads": torch.get_num_threads(),
                "recommend_cold_s": round(cold, 2),
                "recommend_warm_s": round(warm_s, 2),
                "warm_over_cold": round(warm_s / cold, 3),
                "cycle_one_shot_s": round(cycle_s, 2),
                "cycle_in_process_s": {k: round(v, 3) for k, v in median.items()},
            }
        )
    )


if __name__ == "__main__":
    main()
