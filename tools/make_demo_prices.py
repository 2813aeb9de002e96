"""Build the demo market's embedded price history from the real data in ../shared/data.

Why: `make demo` and the tests must run on a clean clone where ../shared/data may not exist; this small
extract (daily OHLC of six assets through the first half of 2022: the January sell-off, Terra/LUNA in May,
Celsius/3AC in June) is committed as oracle/data/demo_prices.csv, with the sha256 of every source file in
demo_prices.json. The feeds replay each day as four rounds (open, low/high, high/low, close), so that daily
ranges can be rebuilt from on-chain history.
Usage: python tools/make_demo_prices.py [DATA_DIR]
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

ASSETS = ("eth", "btc", "link", "aave", "uni", "crv")
START, END = "2022-01-01", "2022-06-30"  # inclusive, UTC days
OUT = Path(__file__).resolve().parents[1] / "oracle" / "data"


def main(data_dir: Path) -> None:
    rows = []
    sources = {}
    for asset in ASSETS:
        path = data_dir / f"{asset}_usd_1d.csv"
        sources[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        with path.open() as f:
            for row in csv.DictReader(f):
                if START <= row["timestamp"][:10] <= END:
                    rows.append([row["timestamp"], asset, row["open"], row["high"], row["low"], row["close"]])
    rows.sort(key=lambda r: (r[0], ASSETS.index(r[1])))
    with (OUT / "demo_prices.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "asset", "open", "high", "low", "close"])
        w.writerows(rows)
    meta = {
        "description": "daily USD OHLC replayed into the demo market's price feeds (four rounds a day)",
        "window": [START, END],
        "rows": len(rows),
        "assets": list(ASSETS),
        "sources": sources,
        "source_readme": "../shared/data/README.md",
    }
    (OUT / "demo_prices.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(rows)} candles of {len(ASSETS)} assets to {OUT / 'demo_prices.csv'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data")
