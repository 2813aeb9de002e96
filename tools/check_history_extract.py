"""Check that the embedded extract ``oracle/data/history/`` equals the rows of ``../shared/data`` it was copied from.

Why a tool and not a test: the shared data is not in the repository (CI has no copy), and a test must never skip
on a missing input; run this after ``tools/make_history_extract.py`` on a machine that has the shared data.

Usage: python tools/check_history_extract.py [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from oracle.data import aave_history as history
from oracle.data.aave_history import WINDOWS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    shared = parser.parse_args().data_dir
    if not shared.is_dir():
        raise SystemExit(f"error: {shared} is not a directory (pass --data-dir)")
    for w in WINDOWS:
        pd.testing.assert_frame_equal(history.eth_hourly(w), history.eth_hourly(w, shared))
        for asset in ("weth", *history.STABLES):
            pd.testing.assert_frame_equal(history.reserve_hourly(w, asset), history.reserve_hourly(w, asset, shared))
        pd.testing.assert_series_equal(history.gas_gwei_daily(w), history.gas_gwei_daily(w, shared))
        days = history.DAILY_CONTEXT_DAYS
        pd.testing.assert_frame_equal(history.eth_daily_before(w, days), history.eth_daily_before(w, days, shared))
    a, b = history.borrower_snapshot(), history.borrower_snapshot(shared)
    assert np.array_equal(a.health_factor, b.health_factor) and np.array_equal(a.collateral_usd, b.collateral_usd)
    print(f"the extract equals {shared} on {len(WINDOWS)} windows and the borrower snapshot")


if __name__ == "__main__":
    main()
