"""Soak: the keeper over hundreds of live cycles on a replayed real price path, crash included.

Anvil, the demo market (feeds preloaded with January-June 2022), 300 seeded borrowers; then, per cycle, chain time
moves ``--hours`` forward (``evm_increaseTime``), the feeds receive the real rounds of that period (four per day
from the daily candles of ``--data-dir``, from 2022-07-01: 500 cycles x 8 h reach mid-December, FTX's collapse
in November included), and the keeper runs one live cycle (snapshot, forecast, recommendation, gate, record,
journaled submission). Afterwards every ``ParametersUpdated`` event is checked against the bounds (range, step per
direction, min delay per parameter, linked rules), independently of the contract.

Usage: python benchmarks/soak_keeper.py [--cycles 500] [--hours 8] [--positions 300] [--data-dir ../shared/data]
The last line printed is one JSON object of the figures.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from web3 import Web3

from oracle.app import MarketAddresses, build_keeper
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender, contract_at
from oracle.config import load_policy
from oracle.data.demo_prices import DEMO_WINDOW, load_demo_rounds, load_history
from oracle.devnet.anvil import ANVIL_DEFAULT_KEY, ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import deploy_market, to_feed_answer
from oracle.devnet.seed import seed_positions
from oracle.domain.params import AssetBounds, Param, RiskParams, linked_rules_hold
from oracle.execution.journal import Journal
from oracle.execution.submit import FeePolicy

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def out_of_bounds(w3: Web3, governor_address: str, bounds: dict[str, AssetBounds]) -> tuple[int, int]:
    """(events checked, events breaking a bound) over every ``ParametersUpdated`` of the governor."""
    governor = contract_at(w3, "RiskParameterGovernor", governor_address)
    events = governor.events.ParametersUpdated().get_logs(from_block=0)
    last: dict[tuple[str, Param], int] = {}
    bad = 0
    for e in events:
        asset = e["args"]["asset"]
        old, new = RiskParams.from_tuple(e["args"]["oldParams"]), RiskParams.from_tuple(e["args"]["newParams"])
        at = w3.eth.get_block(e["blockNumber"])["timestamp"]
        b = bounds[asset]
        ok = linked_rules_hold(new)
        for p in Param:
            pb, before, after = b.get(p), old.get(p), new.get(p)
            ok &= pb.min <= after <= pb.max
            ok &= after - before <= pb.max_increase_bps and before - after <= pb.max_decrease_bps
            if after != before:
                ok &= (asset, p) not in last or at >= last[(asset, p)] + pb.min_delay_s
                last[(asset, p)] = at
        bad += not ok
    return len(events), bad


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=500)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--positions", type=int, default=300)
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--warmup", type=int, default=20, help="cycles before the RSS baseline")
    args = parser.parse_args()
    args.warmup = min(args.warmup, max(1, args.cycles // 2))  # a short run still has a baseline
    torch.set_num_threads(2)
    policy = load_policy()
    step_s = int(args.hours * 3600)
    days = int(args.cycles * args.hours / 24) + 2
    start = "2022-07-01"
    end = str((pd.Timestamp(start) + pd.Timedelta(days=days)).date())
    keys = [a.price_source for a in policy.market.assets]
    replay = load_history(keys, args.data_dir, start, end)

    with AnvilNode() as node, tempfile.TemporaryDirectory() as tmp:
        w3 = make_web3(node.url, timeout_s=60)
        owner, keeper_tx = TxSender(w3, ANVIL_DEFAULT_KEY), TxSender(w3, ANVIL_KEEPER_KEY)
        d = deploy_market(
            w3,
            owner,
            policy.market,
            keeper=keeper_tx.address,
            guardian=TxSender(w3, ANVIL_GUARDIAN_KEY).address,
            price_history=load_demo_rounds(),
        )
        seed_positions(w3, d, args.positions, method="storage")
        # the deployment shifted history so that the last demo round (2022-06-30 23:00) is "now"
        shift = w3.eth.get_block("latest")["timestamp"] - int(
            pd.Timestamp(DEMO_WINDOW[1] + " 23:00", tz="UTC").timestamp()
        )
        feeds = {a.symbol: contract_at(w3, "PriceFeed", a.feed) for a in d.assets}
        rounds = {
            spec.symbol: [(int(t.timestamp()) + shift, p) for t, p in replay[spec.price_source]]
            for spec in policy.market.assets
        }
        cursor = {s: 0 for s in rounds}

        journal = Journal(Path(tmp) / "journal.sqlite")
        keeper = build_keeper(
            w3,
            MarketAddresses.of(d),
            policy,
            journal,
            Path(tmp) / "reports",
            signer=keeper_tx.account,
            fees=FeePolicy(max_spend_per_day_eth=10.0),
        )
        started, baseline, statuses = time.monotonic(), None, {}
        for i in range(args.cycles):
            w3.provider.make_request("evm_increaseTime", [step_s])  # type: ignore[arg-type]
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            now = w3.eth.get_block("latest")["timestamp"]
            pushes = []
            for symbol, feed in feeds.items():
                todo = [r for r in rounds[symbol][cursor[symbol] :] if r[0] <= now]
                cursor[symbol] += len(todo)
                if todo:
                    pushes.append(feed.functions.pushRounds([to_feed_answer(p) for _, p in todo], [t for t, _ in todo]))
            owner.transact_all(pushes)
            result = keeper.run_cycle(dry_run=False)
            statuses[result.status] = statuses.get(result.status, 0) + 1
            if i + 1 == args.warmup:
                baseline = rss_mb()
            if (i + 1) % 25 == 0:
                print(
                    f"cycle {i + 1}: {time.monotonic() - started:.0f} s, {statuses}, RSS {rss_mb():.0f} MB", flush=True
                )
        elapsed = time.monotonic() - started
        final = rss_mb()
        cycles = journal.cycles()
        journaled = sum(1 for c in cycles if c.status in ("done", "paused", "failed"))
        sent = sum(1 for a in journal.attempts() if a.status == "mined")
        gated = sum(1 for c in cycles for r in journal.recommendations(c.id) if r.outcome.startswith("gated"))
        governor = d.governor_contract(w3)
        bounds = {
            Web3.to_checksum_address(a.token): AssetBounds.from_tuple(governor.functions.getBounds(a.token).call())
            for a in d.assets
        }
        checked, bad = out_of_bounds(w3, d.governor, bounds)
        failures = [c.detail for c in cycles if c.status == "failed"][:3]

    growth = (final - baseline) / baseline * 100 if baseline else float("nan")
    print(f"{args.cycles} cycles in {elapsed:.0f} s ({elapsed / args.cycles:.2f} s each), outcomes {statuses}")
    print(
        f"journaled {journaled}, updates sent {sent}, asset updates gated {gated}, "
        f"on-chain changes checked {checked}, out of bounds {bad}"
    )
    print(f"RSS {baseline:.0f} MB after {args.warmup} cycles -> {final:.0f} MB ({growth:+.1f} %)")
    if failures:
        print(f"first failures: {failures}")
    print(
        json.dumps(
            {
                "bench": "soak",
                "cycles": args.cycles,
                "journaled": journaled,
                "sent": sent,
                "gated": gated,
                "rss_growth_pct": round(growth, 2),
                "out_of_bounds": bad,
                "changes_checked": checked,
                "seconds_per_cycle": round(elapsed / args.cycles, 2),
                "outcomes": statuses,
            }
        )
    )


if __name__ == "__main__":
    main()
