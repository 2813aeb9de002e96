"""Validation of a model choice on a period *before* the benchmark's test periods (default 2018-01-01 to
2019-12-31, with the 2018 crash): walk-forward QLIKE of the neural model with the committed hyper-parameters and
with each variant given by ``--set``, as ratios to GARCH-t, over all days, over stress days (each asset's top
decile of the realised Garman–Klass proxy in the period) and over the crash months of the period (``--crisis``,
default 2018-02 and 2018-11: the January–February 2018 collapse and November 2018's, the validation analogues of
the benchmark's crisis months).

Why a separate period: `bench_volatility.py`'s test periods must not choose anything; a variant is adopted only
when it wins here first.

Usage: python benchmarks/validate_volatility.py [--from 2018-01-01] [--to 2019-12-31] --set stress_weight=1.0
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import fields, replace
from pathlib import Path

import pandas as pd
import torch

from oracle.models.evaluate import HISTORY_SINCE, load_daily, walk_forward
from oracle.models.metrics import qlike
from oracle.models.volatility import HyperParams

REPO = Path(__file__).resolve().parents[1]
ASSETS = ("eth", "btc")


def ratios(forecasts: pd.DataFrame, months: list[str]) -> dict[str, dict[str, float]]:
    """Per asset: neural QLIKE / GARCH-t QLIKE over all days, stress days and the crisis months."""
    out = {}
    for asset in ASSETS:
        f = forecasts[forecasts["asset"] == asset]
        neural = f[f["model"] == "neural"].set_index("day")
        garch = f[f["model"] == "GARCH-t"].set_index("day")
        days = neural.index.intersection(garch.index)
        neural, garch = neural.loc[days], garch.loc[days]
        stress = neural["gk"] >= neural["gk"].quantile(0.9)
        crisis = days.strftime("%Y-%m").isin(months)
        q_n, q_g = qlike(neural["gk"], neural["variance"]), qlike(garch["gk"], garch["variance"])
        out[asset.upper()] = {
            "all": round(float(q_n.mean() / q_g.mean()), 4),
            "stress": round(float(q_n[stress].mean() / q_g[stress].mean()), 4),
            "crisis": round(float(q_n[crisis].mean() / q_g[crisis].mean()), 4),
            "days": len(days),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--from", dest="start", default="2018-01-01")
    parser.add_argument("--to", dest="end", default="2019-12-31")
    parser.add_argument("--crisis", default="2018-02,2018-11", help="crash months of the period (YYYY-MM,...)")
    parser.add_argument(
        "--since",
        default=HISTORY_SINCE,
        help="load no history before this day ('liquid': each asset from its liquid start only)",
    )
    parser.add_argument("--set", dest="sets", action="append", default=[], help="variant: field=value (repeatable)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    histories = load_daily(args.data_dir, since=None if args.since == "liquid" else args.since)
    start, end = pd.Timestamp(args.start, tz="UTC"), pd.Timestamp(args.end, tz="UTC")
    base = HyperParams()
    types = {f.name: type(getattr(base, f.name)) for f in fields(base)}
    variants = {"committed": base}
    for item in args.sets:
        key, value = item.split("=", 1)
        variants[item] = replace(base, **{key: types[key](value)})
    result: dict[str, object] = {
        "bench": "validate_volatility",
        "from": args.start,
        "to": args.end,
        "crisis": args.crisis,
        "variants": {},
    }
    for name, hp in variants.items():
        scored = ratios(walk_forward(histories, start, hp=hp, end=end), args.crisis.split(","))
        result["variants"][name] = scored  # type: ignore[index]
        print(
            f"{name:<20} "
            + "  ".join(
                f"{a}: all {v['all']:.3f} stress {v['stress']:.3f} crisis {v['crisis']:.3f}" for a, v in scored.items()
            ),
            flush=True,
        )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
