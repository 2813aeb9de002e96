"""Benchmark: walk-forward QLIKE / VaR of the neural model against EWMA, GARCH-t and HAR on real daily history.

Everything before ``--from`` is training data; after it, models are refitted every ``--refit-days`` on the days
before each refit date only (expanding window), so no forecast sees its own future. Crisis windows (2020-03,
2021-05, 2022-05, 2022-11) are scored only when they fall after ``--from``.

Usage: python benchmarks/bench_volatility.py [--data-dir ../shared/data] [--from DATE] [--refit-days 182]
       [--ensemble N]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import torch

from oracle.models.evaluate import default_start, load_daily, score, walk_forward
from oracle.models.volatility import HyperParams

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--from", dest="start", default=None, help="first forecast day (default: last 20 %%)")
    parser.add_argument("--refit-days", type=int, default=182)
    parser.add_argument(
        "--ensemble", type=int, default=HyperParams().ensemble, help="networks per fit (default: the committed model's)"
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=HyperParams().seed,
        help="first seed of the networks (default: the committed model's); others measure the noise",
    )
    args = parser.parse_args()
    torch.set_num_threads(2)
    started = time.perf_counter()
    histories = load_daily(args.data_dir)
    start = pd.Timestamp(args.start, tz="UTC") if args.start else default_start(histories)
    hp = replace(HyperParams(), ensemble=args.ensemble, seed=args.seed)
    forecasts = walk_forward(
        histories,
        start,
        refit_days=args.refit_days,
        hp=hp,
        on_refit=lambda d: print(f"refit at {d.date()}", flush=True),
    )
    table = score(forecasts)
    pd.set_option("display.width", 200)
    print(table.round(4).to_string(index=False))
    result: dict[str, object] = {
        "bench": "volatility",
        "from": str(start.date()),
        "refit_days": args.refit_days,
        "ensemble": hp.ensemble,
        "seed": hp.seed,
        "seconds": round(time.perf_counter() - started, 1),
        "assets": {},
    }
    for asset, rows in table.groupby("asset"):
        by = rows.set_index("model")
        neural, garch = by.loc["neural"], by.loc["GARCH-t"]

        def ratio(a: float, b: float) -> float | None:
            return None if not (math.isfinite(a) and math.isfinite(b)) else round(a / b, 4)

        result["assets"][asset.upper()] = {  # type: ignore[index]
            "days": int(neural["days"]),
            "qlike_model": round(float(neural["qlike"]), 4),
            "qlike_ratio_garch": ratio(neural["qlike"], garch["qlike"]),
            "qlike_ratio_ewma": ratio(neural["qlike"], by.loc["EWMA", "qlike"]),
            "qlike_ratio_har": ratio(neural["qlike"], by.loc["HAR", "qlike"]),
            "crisis_qlike_ratio_garch": ratio(neural["crisis_qlike"], garch["crisis_qlike"]),
            "crisis_qlike_ratio_ewma": ratio(neural["crisis_qlike"], by.loc["EWMA", "crisis_qlike"]),
            "kupiec_p99": round(float(neural["kupiec_p99"]), 4),
            "christoffersen_p99": round(float(neural["christoffersen_p99"]), 4),
            "dm_p_garch": round(float(neural["dm_p_garch"]), 4),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
