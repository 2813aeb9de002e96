"""Benchmark: what the stress hold's drawdown rule (``[stress_hold] drawdown_max / drawdown_days``) would hold, on
the real daily closes: the share of days it is on, and whether it was on the day before each of the worst 1 % of
daily returns (the crashes a loosening must not precede), per asset and period, for a small grid around the
policy's values and the policy's own.

Why: the rule holds loosening in a bear market that the σ rules call calm; its price is the calm days it holds
too. Validation is 2018-2021; January-June 2022 is the replay's test (``benchmarks/replay_2022.py``); 2023-24 is
the later calm. The worst-1 % cut-off is taken on 2018-2021 only.

Usage: python benchmarks/stress_drawdown.py [--data-dir ../shared/data]
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
ASSETS = ("eth", "btc", "link", "aave")
PERIODS = {"2018-2021": ("2018-01-01", "2022-01-01"), "2022-H1": ("2022-01-01", "2022-07-01"),
           "2023-2024": ("2023-01-01", "2025-01-01")}  # fmt: skip


def held_days(closes: pd.Series, days: int, drawdown_max: float) -> pd.Series:
    """Per day: the close is more than ``drawdown_max`` below the highest close of the last ``days`` days."""
    high = closes.rolling(f"{days}D", min_periods=1).max()
    return (1 - closes / high) > drawdown_max


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()
    rule = load_policy().stress_hold
    assert rule is not None and rule.drawdown_days is not None and rule.drawdown_max is not None
    grid = sorted({(90, 0.2), (150, 0.15), (150, 0.3), (rule.drawdown_days, rule.drawdown_max)})
    rows = []
    for asset in ASSETS:
        closes = load_ohlc(price_file(args.data_dir, asset))["close"].astype(float)
        r = np.log(closes).diff()
        lo, hi = PERIODS["2018-2021"]
        validation = (closes.index >= lo) & (closes.index < hi)
        crash = r < r[validation].quantile(0.01)
        for days, dd in grid:
            held = held_days(closes, days, dd)
            before = held.shift(1, fill_value=False)
            row: dict[str, object] = {"asset": asset.upper(), "days": days, "drawdown_max": dd}
            for name, (a, b) in PERIODS.items():
                mask = (closes.index >= a) & (closes.index < b)
                row[f"held {name}"] = round(float(held[mask].mean()), 3) if mask.any() else None
                row[f"crashes {name}"] = f"{int((before & crash & mask).sum())}/{int((crash & mask).sum())}"
            rows.append(row)
    table = pd.DataFrame(rows)
    print("share of days held, and crash days (worst 1 % of 2018-2021) with the rule on the day before:")
    print(table.to_string(index=False))
    print(json.dumps({"bench": "stress_drawdown", "policy": [rule.drawdown_days, rule.drawdown_max], "rows": rows}))


if __name__ == "__main__":
    main()
