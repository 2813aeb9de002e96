"""Replay: the keeper's daily cycle over January-June 2022 (Terra in May, 3AC/Celsius in June), parameters carried
from day to day, and every LT / LTV / LB move it would have sent.

The question a DAO reviewer asks first: does the oracle loosen a market in a crisis? Each day at 00:00 UTC the
demo market is analysed with the real daily candles up to the day before (four feed rounds a day, as the demo's
feeds replay them; ``history_rounds`` of them), the policy and the committed calibration, exactly as a live cycle
(``oracle.pipeline.analyse``: forecast, recommendation, bounds with their min delays, stress hold, manipulation
guard, risk gate with the edge book). An update that passes the gate is applied, so the next day starts from it
and the governor's delays run from it.

The book is the demo market's (the version-1 report fixture's snapshot of the seeded market on 2022-06-30), held
at its USD composition every day: token amounts are rescaled by the day's price, so health factors and the market's
collateral/depth ratios are those of the demo. This is not the backtest of the real contracts with borrower and
liquidator agents (issue 16); it replays only the keeper's decisions.

Usage: python benchmarks/replay_2022.py [--data-dir ../shared/data] [--start 2022-01-01] [--end 2022-06-30]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import gzip
import json
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import torch

from oracle.config import load_policy
from oracle.data.demo_prices import load_demo_ohlc, ohlc_rounds
from oracle.data.prices import load_ohlc, price_file
from oracle.domain.params import Param, RiskParams
from oracle.domain.snapshot import AssetState, FeedRound, MarketSnapshot
from oracle.models.store import load_model
from oracle.pipeline import analyse
from oracle.policy.calibrate import load_calibration
from oracle.report.schema import Report

REPO = Path(__file__).resolve().parents[1]
FIXTURE = REPO / "tests" / "fixtures" / "report-v1" / "report.json.gz"  # the demo market on 2022-06-30
SOURCES = {"WETH": "eth", "WBTC": "btc", "LINK": "link", "AAVE": "aave"}
DAY = 86_400


def _asset_on(
    asset: AssetState,
    candles: pd.DataFrame,
    rounds_kept: int,
    now: int,
    params: RiskParams,
    changed: tuple[int, int, int],
) -> tuple[AssetState, float]:
    """``asset`` as the chain would show it at ``now``: its feed's rounds from ``candles``, its amounts rescaled to
    the day's price (same USD), today's parameters. Returns it and the amount scale."""
    scale = 10**asset.feed_decimals
    rounds = [
        FeedRound(round_id=i + 1, answer=round(price * scale), updated_at=int(t.timestamp()))
        for i, (t, price) in enumerate(ohlc_rounds(candles))
    ][-rounds_kept:]
    last = rounds[-1]
    ratio = asset.price / last.answer  # token amounts scale inversely to the price: the USD book stays the same
    state = asset.model_copy(
        update={
            "price": last.answer,
            "price_updated_at": last.updated_at,
            "staleness_s": now - last.updated_at,
            "history": tuple(rounds),
            "params": params,
            "last_changed_at": changed,
            "total_collateral": round(asset.total_collateral * ratio),
        }
    )
    return state, ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--start", default="2022-01-01")
    parser.add_argument("--end", default="2022-06-30")
    args = parser.parse_args()
    torch.set_num_threads(1)

    policy = load_policy()
    calibration = load_calibration(policy)
    model = load_model()[0]
    base = Report.model_validate_json(gzip.decompress(FIXTURE.read_bytes())).inputs.snapshot
    if args.data_dir.is_dir():
        candles = {s: load_ohlc(price_file(args.data_dir, k)) for s, k in SOURCES.items()}
        source = str(args.data_dir)
    else:  # the embedded extract starts on 2022-01-01: the model's features need ~4 months, EWMA before that
        candles = {s: load_demo_ohlc()[k] for s, k in SOURCES.items()}
        source = "embedded demo extract"
    rounds_kept = policy.snapshot.history_rounds
    params = {a.symbol: a.params for a in base.assets}
    changed: dict[str, tuple[int, int, int]] = {a.symbol: (0, 0, 0) for a in base.assets}
    moves: Counter[tuple[str, str, str, str]] = Counter()  # (month, asset, param, up/down)
    rows = []
    started = time.perf_counter()
    for day in pd.date_range(args.start, args.end, freq="D", tz="UTC"):
        now = int(day.timestamp())
        assets, ratios = [], []
        for a in base.assets:
            history = candles[a.symbol].loc[: day - pd.Timedelta(days=1)]
            state, ratio = _asset_on(a, history, rounds_kept, now, params[a.symbol], changed[a.symbol])
            assets.append(state)
            ratios.append(ratio)
        positions = tuple(
            p.model_copy(update={"collateral": tuple(round(c * r) for c, r in zip(p.collateral, ratios, strict=True))})
            for p in base.positions
        )
        snapshot: MarketSnapshot = base.model_copy(
            update={"assets": tuple(assets), "positions": positions, "block_timestamp": now}
        )
        analysis = analyse(snapshot, policy, calibration, model)
        for rec in analysis.recommendation.assets:
            old = params[rec.asset]
            new = rec.bounded.bounded if rec.proposed and rec.bounded is not None else old
            stamp = list(changed[rec.asset])
            for p in Param:
                delta = new.get(p) - old.get(p)
                if delta:
                    stamp[p] = now
                    moves[(day.strftime("%Y-%m"), rec.asset, p.label, "up" if delta > 0 else "down")] += 1
            params[rec.asset], changed[rec.asset] = new, (stamp[0], stamp[1], stamp[2])
            held = rec.stress is not None and rec.stress.held
            rows.append(
                {
                    "day": day.strftime("%Y-%m-%d"),
                    "asset": rec.asset,
                    "sigma_1d": rec.features.sigma_1d,
                    "raw": [round(v) for v in rec.raw_bps],
                    "ltv": new.ltv,
                    "lt": new.liquidation_threshold,
                    "lb": new.liquidation_bonus,
                    "held": held,
                    "gate": None if rec.gate is None else rec.gate.passed,
                }
            )
            print(
                f"{day:%Y-%m-%d} {rec.asset:5} σ {rec.features.sigma_1d:5.1%} raw {rows[-1]['raw']} -> "
                f"{old.ltv}/{old.liquidation_threshold}/{old.liquidation_bonus} => "
                f"{new.ltv}/{new.liquidation_threshold}/{new.liquidation_bonus}{'  held' if held else ''}",
                flush=True,
            )
    months = sorted({m for m, *_ in moves} | {r["day"][:7] for r in rows})
    print("\nmoves sent per month (count of daily updates; + rise, - cut):")
    print("| month | asset | LTV + / - | LT + / - | LB + / - | days held |")
    print("|---|---|---|---|---|---|")
    for m in months:
        for symbol in SOURCES:
            cells = [f"{moves[(m, symbol, p.label, 'up')]} / {moves[(m, symbol, p.label, 'down')]}" for p in Param]
            held = sum(r["held"] for r in rows if r["day"].startswith(m) and r["asset"] == symbol)
            print(f"| {m} | {symbol} | {' | '.join(cells)} | {held} |")
    stress_rises = {
        f"{m} {s} {p}": n
        for (m, s, p, d), n in moves.items()
        if d == "up" and p != "LB" and m in ("2022-05", "2022-06")
    }
    rises = {f"{m} {s} {p}": n for (m, s, p, d), n in moves.items() if d == "up" and p != "LB"}
    print(f"\nLTV/LT rises over the whole replay: {sum(rises.values())} {rises or ''}")
    print(f"LTV/LT rises in May-June 2022: {sum(stress_rises.values())} {stress_rises or ''}")
    print(f"{len(rows) // len(SOURCES)} days in {time.perf_counter() - started:.0f} s; prices from {source}")
    print(
        json.dumps(
            {
                "bench": "replay_2022",
                "calibration_sha256": calibration.sha256,
                "start": args.start,
                "end": args.end,
                "prices": source,
                "ltv_lt_rises": sum(rises.values()),
                "ltv_lt_rises_may_june": sum(stress_rises.values()),
                "moves": {" ".join(k): v for k, v in sorted(moves.items())},
                "final": {s: p.model_dump() for s, p in params.items()},
                "rows": rows,
            }
        )
    )


if __name__ == "__main__":
    main()
