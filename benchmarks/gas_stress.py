"""Measurement: how far gas rises in a crash, from the real daily gas series, against the policy's stress multiple.

The Monte Carlo prices a liquidation's gas at ``gas_stress_multiplier`` x today's base fee (plus the priority fee),
on every path and step. This script measures what that multiple should cover: the daily average gas price
(``../shared/data/onchain/gas_price_1d.csv``, Etherscan) over its trailing 30-day median (what "today's" fee is
before a crash), on the days ETH's daily close fell by more than 5 / 10 / 15 %, 2019-2024, with the named crisis
days listed, and a log-linear fit of the ratio on the day's intraday drawdown (open to low).

Usage: python benchmarks/gas_stress.py [--data-dir ../shared/data]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from oracle.config import load_policy
from oracle.data.prices import load_ohlc, price_file

REPO = Path(__file__).resolve().parents[1]
CRISES = ("2020-03-12", "2021-05-19", "2022-05-12", "2022-06-13", "2022-11-09", "2024-08-05")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    gas = pd.read_csv(args.data_dir / "onchain" / "gas_price_1d.csv", index_col="timestamp", parse_dates=True)
    gwei = gas["avg_gas_price_gwei"]
    eth = load_ohlc(price_file(args.data_dir, "eth"))
    frame = pd.concat(
        {
            "gwei": gwei,
            "ratio": gwei / gwei.rolling(30).median().shift(1),
            "ret": np.log(eth["close"]).diff(),
            "drawdown": -np.log(eth["low"] / eth["open"]),  # log, open to low
        },
        axis=1,
    ).dropna()
    frame = frame.loc["2019-01-01":]
    multiple = load_policy().risk.gas_stress_multiplier
    print(f"daily gas / its trailing 30-day median, {frame.index[0]:%Y-%m-%d} to {frame.index[-1]:%Y-%m-%d}:")
    print("| ETH daily fall | days | median | p90 | p99 | max |")
    print("|---|---:|---:|---:|---:|---:|")
    falls = {}
    for fall in (0.05, 0.10, 0.15):
        days = frame[frame["ret"] < np.log(1 - fall)]["ratio"]
        q = days.quantile([0.5, 0.9, 0.99])
        falls[f"{fall:.2f}"] = {"days": len(days), "p50": q[0.5], "p90": q[0.9], "p99": q[0.99], "max": days.max()}
        print(f"| > {fall:.0%} | {len(days)} | {q[0.5]:.2f} | {q[0.9]:.2f} | {q[0.99]:.2f} | {days.max():.2f} |")
    print("\n| crisis day | gwei | x trailing median | ETH open-to-low |")
    print("|---|---:|---:|---:|")
    crises = {}
    for day in CRISES:
        row = frame.loc[day].iloc[0] if isinstance(frame.loc[day], pd.DataFrame) else frame.loc[day]
        crises[day] = {"gwei": float(row["gwei"]), "ratio": float(row["ratio"]), "drawdown": float(row["drawdown"])}
        print(f"| {day} | {row['gwei']:.0f} | {row['ratio']:.2f} | {np.expm1(-row['drawdown']):.1%} |")
    x, y = frame["drawdown"].to_numpy(), np.log(frame["ratio"].to_numpy())
    slope, intercept = np.polyfit(x, y, 1)
    resid = float(np.std(y - (intercept + slope * x)))
    crisis_max = max(c["ratio"] for c in crises.values())
    print(
        f"\nlog(ratio) = {intercept:.3f} + {slope:.3f} x drawdown (residual sd {resid:.2f}); the policy's multiple "
        f"{multiple:g}x is {'above' if multiple > crisis_max else 'BELOW'} every crisis day's ratio (max "
        f"{crisis_max:.2f}x) and {'above' if multiple > falls['0.10']['p99'] else 'BELOW'} the p99 of >10 % falls"
    )
    print(
        json.dumps(
            {
                "bench": "gas_stress",
                "policy_multiple": multiple,
                "falls": falls,
                "crises": crises,
                "fit": {"intercept": intercept, "slope": slope, "residual_sd": resid},
                "multiple_covers_crises": multiple > crisis_max,
            }
        )
    )


if __name__ == "__main__":
    main()
