"""Build the embedded backtest extract (oracle/data/backtest/) from the real hourly data in ../shared/data.

Why: ``risk-oracle backtest`` with no ``--data-dir`` (the tests, CI, a newcomer's first run) must replay real
hourly prices on a clean clone where ../shared/data may not exist. This copies, verbatim, the hourly rows of the
embedded default window (June 2022, 3AC/Celsius) of the four demo assets, and its daily gas prices; the 150 days
of daily history before it come from the demo extract (oracle/data/demo_prices.csv). It writes PROVENANCE.md next
to the files: source file and its sha256, source repository and commit (from ../shared/data/README.md), rows.

Usage: python tools/make_backtest_extract.py [DATA_DIR]   (default ../shared/data next to the repository)
"""

from __future__ import annotations

import csv
import hashlib
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "oracle" / "data" / "backtest"
ASSETS = ("eth", "btc", "link", "aave")
FIRST, LAST = "2022-06-01T00:00:00Z", "2022-06-30T23:00:00Z"  # period starts, inclusive
SOURCE = (
    "Binance {pair} hourly klines, until 2022-10-10T23 from `djienne/3EMA_SRSI_ATR` "
    "`user_data/data/binance/{base}_USDT-1h.json` @ 29af186a61a76e1f70494e70955e327cde5919ac "
    "(as spliced and documented in ../shared/data/README.md)"
)

GAS_SOURCE = (
    "Etherscan daily average gas price, from `cagatayozbek/ethereum-gas-price-prediction` "
    "`data/export-AvgGasPrice.csv` @ 493ea3b414710e8d364051eed8f9b0540b4d231a (../shared/data/onchain/README.md)"
)


def main(data_dir: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows_md = []
    for asset in ASSETS:
        source = data_dir / f"{asset}_usd_1h.csv"
        raw = source.read_bytes()
        with source.open(newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            rows = [r for r in reader if FIRST <= r[0] <= LAST]
        target = OUT / source.name
        with target.open("w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        base = asset.upper()
        rows_md.append(
            f"| `{target.name}` | {SOURCE.format(pair=base + 'USDT', base=base)} | "
            f"`{hashlib.sha256(raw).hexdigest()}` | {len(rows)} | {target.stat().st_size:,} |"
        )
    gas = data_dir / "onchain" / "gas_price_1d.csv"
    with gas.open(newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = [r for r in reader if FIRST[:10] <= r[0][:10] <= LAST[:10]]
    (OUT / "onchain").mkdir(exist_ok=True)
    target = OUT / "onchain" / gas.name
    with target.open("w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    rows_md.append(
        f"| `onchain/{target.name}` | {GAS_SOURCE} | `{hashlib.sha256(gas.read_bytes()).hexdigest()}` | "
        f"{len(rows)} | {target.stat().st_size:,} |"
    )
    (OUT / "PROVENANCE.md").write_text(
        "# Provenance of the embedded backtest extract\n\n"
        "Written by `tools/make_backtest_extract.py` (do not edit by hand; re-run it). Source: `../shared/data` "
        "(its `README.md`). The hourly rows and daily gas prices of the default backtest window, "
        f"{FIRST[:13]} to {LAST[:13]} (period starts, UTC), are copied as text, unchanged. The feeds' history before "
        "the window is the demo extract's daily candles (`oracle/data/demo_prices.csv`, see "
        "`tools/make_demo_prices.py`).\n\n"
        "| file | source | source sha256 | rows | bytes |\n|---|---|---|---:|---:|\n" + "\n".join(rows_md) + "\n"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data")
