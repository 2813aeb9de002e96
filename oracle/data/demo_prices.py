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


def load_history(
    keys: list[str], data_dir: Path | None = None, start: str = "2022-04-01", end: str = "2022-06-30"
) -> dict[str, tuple[tuple[datetime, float], ...]]:
    """Daily closes per asset key for feed replay: from ``data_dir`` (files in ``../shared/data`` format) when
    given, else from the embedded extract (which covers 2022-04-01 to 2022-06-30)."""
    from oracle.data.prices import closes

    if data_dir is None:
        embedded = load_demo_prices()
        return {k: tuple((t, p) for t, p in embedded[k] if start <= t.date().isoformat() <= end) for k in keys}
    return {k: tuple(closes(data_dir, k, start, end)) for k in keys}
