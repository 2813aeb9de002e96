"""Benchmark: walk-forward QLIKE / VaR of the neural model against EWMA, GARCH-t and HAR on real daily history.

Everything before ``--from`` is training data; after it, models are refitted every ``--refit-days`` on the days
before each refit date only (expanding window), so no forecast sees its own future. Crisis windows (2020-03,
2021-05, 2022-05, 2022-11) are scored only when they fall after ``--from``.

Usage: python benchmarks/bench_volatility.py [--data-dir ../shared/data] [--from DATE] [--refit-days 182]
       [--ensemble N]
The last line printed is one JSON object of the figures.

``--intraday`` (issue 17) runs the hourly benchmark instead: forecasts of the next 24 hours' realised variance
issued every hour by HAR-RV, HARQ, HARQ-log, SHAR, EWMA and GARCH-t on hourly returns (``oracle/models/intraday.py``,
``oracle/models/har.py``) and by the daily model and daily HAR held from midnight to midnight, on the validation
period (2018-2019) and the test period (2020 on), for every hourly file spanning two years; then the reaction
time at the crash onsets (``oracle/models/intraday_eval.py`` states every definition).
Usage: python benchmarks/bench_volatility.py --intraday [--assets eth,btc] [--no-daily] [--threads 1]
       [--save-forecasts FILE.csv.gz]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from oracle.data.hourly import intraday_panel, load_hourly_dir
from oracle.models.evaluate import default_start, load_daily, score, walk_forward
from oracle.models.intraday import daily_on_hourly, walk_forward_hourly
from oracle.models.intraday_eval import ONSETS, TEST, VALIDATION, reaction_summary, reaction_table, score_period
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
    parser.add_argument("--intraday", action="store_true", help="the hourly benchmark of issue 17 instead")
    parser.add_argument(
        "--assets", default=None, help="--intraday: comma-separated assets (default: every hourly file)"
    )
    parser.add_argument("--no-daily", action="store_true", help="--intraday: skip the daily models (faster)")
    parser.add_argument("--threads", type=int, default=1, help="--intraday: torch threads")
    parser.add_argument("--save-forecasts", type=Path, default=None, help="--intraday: write every forecast here")
    args = parser.parse_args()
    if args.intraday:
        intraday(args)
        return
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


def _r(x: object, digits: int = 4) -> float | None:
    """A JSON-safe rounded float (None for NaN)."""
    v = float(x)  # type: ignore[arg-type]
    return round(v, digits) if math.isfinite(v) else None


def intraday(args: argparse.Namespace) -> None:
    """The hourly benchmark: tables per period, the reaction-time table, and one JSON line."""
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    assets = args.assets.split(",") if args.assets else None
    loaded = load_hourly_dir(args.data_dir, assets)
    panels = {a: intraday_panel(grid) for a, (grid, _) in loaded.items()}
    for a, (_, s) in loaded.items():
        print(f"{a}: hours {s.first:%Y-%m-%dT%H} -> {s.last:%Y-%m-%dT%H}, {s.missing} missing in {len(s.gaps)} gaps")
    hp = replace(HyperParams(), ensemble=args.ensemble, seed=args.seed)
    parts, timings = [], {}
    for period in (VALIDATION, TEST):
        last = max(p.index[-1] for p in panels.values())
        start, end = period.bounds(last)
        t = time.perf_counter()
        parts.append(walk_forward_hourly(panels, start, end).assign(period=period.name))
        timings[f"hourly_{period.name}"] = round(time.perf_counter() - t, 1)
        print(f"{period.name}: hourly models done in {timings[f'hourly_{period.name}']} s", flush=True)
        if not args.no_daily:
            t = time.perf_counter()
            daily = walk_forward(load_daily(args.data_dir), start, hp=hp, end=end - pd.Timedelta(days=1))
            daily = daily[daily["model"].isin(["neural", "HAR"])]
            parts.append(daily_on_hourly(daily, panels, start, end).assign(period=period.name))
            timings[f"daily_{period.name}"] = round(time.perf_counter() - t, 1)
            print(f"{period.name}: daily models done in {timings[f'daily_{period.name}']} s", flush=True)
    forecasts = pd.concat(parts, ignore_index=True)
    if args.save_forecasts:
        forecasts.to_csv(args.save_forecasts, index=False)
    pd.set_option("display.width", 250)
    pd.set_option("display.max_rows", 500)
    result: dict[str, object] = {
        "bench": "volatility_intraday",
        "periods": {p.name: {"from": p.start, "to": p.end, "crises": list(p.crises)} for p in (VALIDATION, TEST)},
        "target": "RV of the next 24 h (sum of squared hourly log returns), issued every hour",
        "ensemble": hp.ensemble,
        "seed": hp.seed,
    }
    per_asset: dict[str, dict[str, object]] = {}
    for period in (VALIDATION, TEST):
        table = score_period(forecasts[forecasts["period"] == period.name], period)
        print(
            f"\n== {period.name} {period.start} -> {period.end or 'end of data'} "
            f"(crisis months {', '.join(period.crises)})"
        )
        cols = [
            "asset", "model", "hours", "qlike", "ratio_har", "dm_p_har", "crisis_hours", "crisis_qlike",
            "crisis_ratio_har", "crisis_dm_p_har", "breach99", "kupiec_p99", "kupiec_rejects", "christoffersen_p99",
            "christoffersen_rejects",
        ]  # fmt: skip
        print(table.reindex(columns=cols).round(4).to_string(index=False))
        for asset, rows in table.groupby("asset", sort=False):
            per_asset.setdefault(str(asset).upper(), {})[period.name] = {
                str(r["model"]): {
                    "hours": int(r["hours"]),
                    "qlike": _r(r["qlike"]),
                    "ratio_har": _r(r.get("ratio_har", np.nan)),
                    "dm_p_har": _r(r.get("dm_p_har", np.nan)),
                    "crisis_ratio_har": _r(r.get("crisis_ratio_har", np.nan)),
                    "kupiec_p99": _r(r["kupiec_p99"]),
                    "christoffersen_p99": _r(r["christoffersen_p99"]),
                }
                for _, r in rows.iterrows()
            }
    test = forecasts[forecasts["period"] == TEST.name]
    returns = {a: p["r"] for a, p in panels.items()}
    for level in ("week", "midnight"):
        reaction = reaction_table(test, returns, ONSETS, level=level)
        if reaction.empty:
            continue
        print(
            f"\n== reaction time (pre-crash level: {level}): hours from the first >= 4 sigma hourly move until the "
            "forecast sigma doubles (NaN: not within 168 h)"
        )
        moves = reaction.drop_duplicates(["onset", "asset"]).set_index(["onset", "asset"])[["t0", "move"]]
        hours = reaction.pivot(index=["onset", "asset"], columns="model", values="hours")
        print(moves.join(hours).to_string(float_format=lambda v: f"{v:.4g}"))
        summary = reaction_summary(reaction)
        print(summary.to_string(index=False))
        result[f"reaction_summary_{level}"] = {
            str(r["model"]): {k: (None if pd.isna(v) else v) for k, v in r.items() if k != "model"}
            for r in summary.to_dict("records")
        }
        result[f"reaction_hours_{level}"] = {
            f"{onset} {str(asset).upper()}": {"t0": str(moves.loc[(onset, asset), "t0"])}
            | {str(m): _r(v, 1) for m, v in row.items()}
            for (onset, asset), row in hours.iterrows()
        }
    result["assets"] = per_asset
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["timings"] = timings
    print(json.dumps(result))


if __name__ == "__main__":
    main()
