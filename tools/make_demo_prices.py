"""Build the demo market's embedded price history from the real data in ../shared/data.

Why: `make demo` and the tests must run on a clean clone where ../shared/data may not exist; this small
extract (daily closes of six assets through the May-June 2022 crashes: Terra/LUNA, then Celsius/3AC) is
committed as oracle/data/demo_prices.csv, with the sha256 of every source file in demo_prices.json.
Usage: python tools/make_demo_prices.py [DATA_DIR]
"""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from pathlib import Path

ASSETS = ("eth", "btc", "link", "aave", "uni", "crv")
START, END = "2022-04-01", "2022-06-30"  # inclusive, UTC days
OUT = Path(__file__).resolve().parents[1] / "oracle" / "data"


def main(data_dir: Path) -> None:
    closes: dict[str, dict[str, str]] = {}
    sources = {}
    for asset in ASSETS:
        path = data_dir / f"{asset}_usd_1d.csv"
        sources[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        with path.open() as f:
            closes[asset] = {
                row["timestamp"]: row["close"] for row in csv.DictReader(f) if START <= row["timestamp"][:10] <= END
            }
    days = sorted(set.intersection(*(set(c) for c in closes.values())))
    with (OUT / "demo_prices.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", *ASSETS])
        for day in days:
            w.writerow([day, *(closes[a][day] for a in ASSETS)])
    meta = {
        "description": "daily USD closes replayed into the demo market's price feeds",
        "window": [START, END],
        "rows": len(days),
        "columns": ["timestamp", *ASSETS],
        "sources": sources,
        "source_readme": "../shared/data/README.md",
    }
    (OUT / "demo_prices.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {len(days)} days x {len(ASSETS)} assets to {OUT / 'demo_prices.csv'}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[2] / "shared" / "data")
