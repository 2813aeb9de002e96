"""The demo market's embedded price history (built by ``tools/make_demo_prices.py`` from real data)."""

from __future__ import annotations

import csv
from datetime import datetime
from functools import cache
from pathlib import Path

DEMO_PRICES = Path(__file__).with_name("demo_prices.csv")


@cache
def load_demo_prices(path: Path = DEMO_PRICES) -> dict[str, tuple[tuple[datetime, float], ...]]:
    """Daily closes per asset key (``eth``, ``btc``, ...), oldest first, as ``(time, USD price)``."""
    with path.open() as f:
        rows = list(csv.DictReader(f))
    keys = [k for k in rows[0] if k != "timestamp"]
    return {
        k: tuple((datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")), float(r[k])) for r in rows)
        for k in keys
    }
