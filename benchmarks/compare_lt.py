"""Benchmark: Gauntlet's public LLTV method (``oracle.risk.lltv``) for the demo market's assets, next to Aave v3
Ethereum's actual liquidation thresholds.

Why: a peer baseline for this oracle's LTs. Per asset and concentrated-borrower share, the table shows the LLTV the
method gives on the fine 10-bps grid, the largest governance-enabled Morpho LLTV at or below it, and Aave v3's LT.

Inputs, all stated:

- prices: daily closes up to the demo's date (2022-06-30) from ``--data-dir`` (``../shared/data``,
  ``<source>_usd_1d.csv``), else the repo's embedded extract (``oracle/data/demo_prices.csv``, 2022-01-01 on);
  the last ``--lookback-days`` (434: the length of the history behind the source's cached drawdowns,
  2022-07-01 to 2023-09-08) are used;
- liquidity: the policy's ``[risk] depth_usd`` constant-product pools; ``--impact price`` (default) sizes the
  0.5 % chunk by the marginal price move ``1 - (d / (d + q))^2`` (this project's model), ``--impact execution``
  by the source's execution shortfall ``q / (d + q)``;
- borrower: ``--share`` of the asset's collateral (``--collateral`` per asset, default WETH 50 M, WBTC 30 M,
  LINK 6 M, AAVE 3 M USD);
- drawdown: ``lltv_bps`` applies the source's heuristic floor (40 % WETH/WBTC against a stablecoin, 60 % LINK and
  AAVE); ``lltv_p99_bps`` uses the historical 99th-percentile monthly drawdown alone.

Usage: python benchmarks/compare_lt.py [--data-dir ../shared/data] [--policy oracle/policies/default.toml]
       [--share 0.1 --share 0.5] [--collateral WETH=50e6 ...] [--impact price|execution] [--grid-step-bps 10]
The last line printed is one JSON object of the figures. ``gauntlet_table`` returns the rows for other scripts.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from oracle.config import DEFAULT_POLICY, load_policy
from oracle.data.demo_prices import load_demo_ohlc
from oracle.data.prices import load_ohlc, price_file
from oracle.risk.lltv import (
    LARGE_CAP_DRAWDOWN_FLOOR,
    SMALL_CAP_DRAWDOWN_FLOOR,
    SOURCE_COMMIT,
    SOURCE_REPO,
    constant_product_execution_slippage,
    constant_product_price_impact,
    gauntlet_lltv,
)

REPO = Path(__file__).resolve().parents[1]
DEMO_DATE = "2022-06-30"
LOOKBACK_DAYS = 434
SHARES = (0.10, 0.50)
DEFAULT_COLLATERAL_USD: dict[str, float] = {"WETH": 50e6, "WBTC": 30e6, "LINK": 6e6, "AAVE": 3e6}
# Aave v3 Ethereum's liquidation thresholds for these assets (bps)
AAVE_V3_LT_BPS: dict[str, int] = {"WETH": 8300, "WBTC": 7800, "LINK": 6800, "AAVE": 7300}
# The source's blue chips (constants.py LARGE_CAPS): against a stablecoin they get the 40 % floor, others 60 %
LARGE_CAPS = frozenset({"WETH", "WBTC"})

Impact = Literal["price", "execution"]


def load_closes(
    sources: Mapping[str, str], data_dir: Path | None, end: str = DEMO_DATE, lookback_days: int = LOOKBACK_DAYS
) -> dict[str, tuple[pd.Series, str]]:
    """Daily closes per symbol (``sources``: symbol -> price source key) for the ``lookback_days`` ending ``end``,
    with a label naming where they came from: ``data_dir`` when it holds the file, else the embedded extract."""
    out: dict[str, tuple[pd.Series, str]] = {}
    for symbol, key in sources.items():
        path = price_file(data_dir, key) if data_dir is not None else None
        if path is not None and path.is_file():
            frame, origin = load_ohlc(path), str(path)
        else:
            frame, origin = load_demo_ohlc()[key], "oracle/data/demo_prices.csv"
        closes = frame["close"].loc[:end].iloc[-lookback_days:]
        out[symbol] = (closes, f"{origin} {closes.index[0].date()}..{closes.index[-1].date()} ({len(closes)} d)")
    return out


def gauntlet_table(
    *,
    policy_path: Path = DEFAULT_POLICY,
    data_dir: Path | None = REPO.parent / "shared" / "data",
    collateral_usd: Mapping[str, float] | None = None,
    shares: Sequence[float] = SHARES,
    end: str = DEMO_DATE,
    lookback_days: int = LOOKBACK_DAYS,
    impact: Impact = "price",
    grid_step_bps: int = 10,
) -> list[dict[str, object]]:
    """One row per asset of the policy's market and borrower share: Gauntlet's LLTV (with the source's drawdown
    floor, and with the historical drawdown alone), the nearest enabled Morpho LLTV at or below, Aave v3's LT.

    Rows are plain dicts so that a later step can add this project's LT as a column."""
    policy = load_policy(policy_path)
    sizes = {**DEFAULT_COLLATERAL_USD, **(collateral_usd or {})}
    assets = [a for a in policy.market.assets if a.symbol in sizes]
    closes = load_closes({a.symbol: a.price_source for a in assets}, data_dir, end, lookback_days)
    curve = constant_product_price_impact if impact == "price" else constant_product_execution_slippage
    rows: list[dict[str, object]] = []
    for asset in assets:
        depth = policy.risk.depth_usd[asset.symbol]
        series, origin = closes[asset.symbol]
        floor = LARGE_CAP_DRAWDOWN_FLOOR if asset.symbol in LARGE_CAPS else SMALL_CAP_DRAWDOWN_FLOOR
        for share in shares:
            borrower = share * sizes[asset.symbol]
            pool = curve(depth)
            floored = gauntlet_lltv(series, borrower, impact=pool, drawdown_floor=floor, grid_step_bps=grid_step_bps)
            p99 = gauntlet_lltv(series, borrower, impact=pool, grid_step_bps=grid_step_bps)
            lt = AAVE_V3_LT_BPS.get(asset.symbol)
            rows.append(
                {
                    "asset": asset.symbol,
                    "share": share,
                    "collateral_usd": sizes[asset.symbol],
                    "borrower_collateral_usd": borrower,
                    "depth_usd": depth,
                    "impact": impact,
                    "chunk_usd": round(floored.chunk_usd, 2),
                    "history": origin,
                    "historical_drawdown": round(floored.historical_drawdown or 0.0, 4),
                    "drawdown": round(floored.drawdown, 4),
                    "drawdown_steps": floored.drawdown_steps,
                    "lltv_bps": floored.lltv_bps,
                    "morpho_lltv_bps": floored.morpho_lltv_bps,
                    "next_candidate_bps": floored.next_candidate_bps,
                    "next_candidate_bad_debt_usd": None
                    if floored.next_candidate_bad_debt_usd is None
                    else round(floored.next_candidate_bad_debt_usd, 2),
                    "lltv_p99_bps": p99.lltv_bps,
                    "morpho_lltv_p99_bps": p99.morpho_lltv_bps,
                    "aave_v3_lt_bps": lt,
                    "lltv_minus_aave_lt_bps": None if lt is None else floored.lltv_bps - lt,
                }
            )
    return rows


def _print_table(rows: Sequence[Mapping[str, object]]) -> None:
    head = (
        f"{'asset':<5} {'share':>5} {'borrower':>9} {'depth':>7} {'chunk':>8} {'p99 dd':>6} {'dd used':>7} "
        f"{'LLTV':>5} {'Morpho':>6} {'next $bad':>10} {'LLTVp99':>7} {'Mp99':>5} {'AaveLT':>6} {'diff':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        bad = r["next_candidate_bad_debt_usd"]
        print(
            f"{r['asset']:<5} {r['share']:>5.0%} {_musd(r['borrower_collateral_usd']):>9} {_musd(r['depth_usd']):>7} "
            f"{_musd(r['chunk_usd']):>8} {r['historical_drawdown']:>6.1%} {r['drawdown']:>7.1%} "
            f"{r['lltv_bps']:>5} {r['morpho_lltv_bps']:>6} {'-' if bad is None else f'{bad:,.0f}':>10} "
            f"{r['lltv_p99_bps']:>7} {r['morpho_lltv_p99_bps']:>5} {_or_dash(r['aave_v3_lt_bps']):>6} "
            f"{_or_dash(r['lltv_minus_aave_lt_bps'], '+'):>6}"
        )


def _or_dash(value: object, sign: str = "") -> str:
    return "-" if value is None else f"{value:{sign}}"


def _musd(value: object) -> str:
    assert isinstance(value, int | float)
    return f"{value / 1e6:.2f}M"


def _collateral(text: str) -> tuple[str, float]:
    symbol, _, amount = text.partition("=")
    if not amount:
        raise argparse.ArgumentTypeError(f"{text!r}: expected SYMBOL=USD, e.g. WETH=50e6")
    return symbol.upper(), float(amount)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--policy", type=Path, default=DEFAULT_POLICY)
    parser.add_argument("--share", type=float, action="append", help="borrower's share of collateral (repeatable)")
    parser.add_argument("--collateral", type=_collateral, action="append", default=[], help="SYMBOL=USD")
    parser.add_argument("--end", default=DEMO_DATE, help="last day of price history (default: the demo's date)")
    parser.add_argument("--lookback-days", type=int, default=LOOKBACK_DAYS)
    parser.add_argument("--impact", choices=("price", "execution"), default="price")
    parser.add_argument("--grid-step-bps", type=int, default=10)
    args = parser.parse_args()
    rows = gauntlet_table(
        policy_path=args.policy,
        data_dir=args.data_dir,
        collateral_usd=dict(args.collateral),
        shares=tuple(args.share or SHARES),
        end=args.end,
        lookback_days=args.lookback_days,
        impact=args.impact,
        grid_step_bps=args.grid_step_bps,
    )
    print(f"Gauntlet LLTV method ({SOURCE_REPO}@{SOURCE_COMMIT[:12]}) vs Aave v3 Ethereum LT, as of {args.end}")
    for symbol in dict.fromkeys(str(r["asset"]) for r in rows):
        print(f"  {symbol}: {next(r['history'] for r in rows if r['asset'] == symbol)}")
    print(
        f"  chunk: 0.5 % {'price move' if args.impact == 'price' else 'execution shortfall'} in the policy's "
        "constant-product pool; LLTV/Morpho: with the source's drawdown floor; LLTVp99/Morpho: p99 drawdown alone"
    )
    _print_table(rows)
    print(
        json.dumps(
            {
                "benchmark": "compare_lt",
                "source": f"github.com/{SOURCE_REPO}@{SOURCE_COMMIT}",
                "as_of": args.end,
                "lookback_days": args.lookback_days,
                "impact": args.impact,
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
