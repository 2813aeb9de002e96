"""Terminal summaries (rich) of the pipeline's objects, for the CLI."""

from __future__ import annotations

import time

import numpy as np
from rich.console import Console
from rich.table import Table

from oracle.chain.snapshot import MarketSnapshot

HF_EDGES = (1.0, 1.05, 1.1, 1.25, 1.5, 2.0)


def _usd(x: float) -> str:
    return f"${x / 1e6:,.2f}M" if abs(x) >= 1e6 else f"${x:,.0f}"


def print_snapshot(snap: MarketSnapshot, console: Console) -> None:
    """Header, one row per asset, and the health-factor distribution of the positions."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(snap.block_timestamp))
    unit = 10**snap.stable_decimals
    console.print(
        f"[bold]chain {snap.chain_id}[/] block {snap.block_number} ({stamp} UTC)  market {snap.market}"
        f"{'  [bold red]GOVERNOR PAUSED[/]' if snap.paused else ''}"
    )
    console.print(
        f"supplied {_usd(snap.total_supplied / unit)}  debt {_usd(snap.total_debt / unit)}  "
        f"utilisation {snap.utilisation:.1%}  liquidity {_usd(snap.available_liquidity / unit)}  "
        f"bad debt {_usd(snap.bad_debt / unit)}  positions {len(snap.positions)}"
    )
    table = Table(title="collateral assets")
    for col in ("asset", "price", "age", "LTV/LT/LB bps", "collateral", "debt", "≤1%", "≤2%", "≤5%", "≤10%",
                "top10"):
        table.add_column(col, justify="left" if col == "asset" else "right", no_wrap=True)
    for a in snap.assets:
        d = a.liquidation_density_usd
        table.add_row(
            a.symbol, f"{a.price_usd:,.2f}" if a.price_usd >= 1 else f"{a.price_usd:.4g}", f"{a.staleness_s}s",
            f"{a.params.ltv}/{a.params.liquidation_threshold}/{a.params.liquidation_bonus}",
            _usd(a.collateral_value_usd), _usd(a.debt_usd),
            *(_usd(d[k]) for k in ("1%", "2%", "5%", "10%")), f"{a.top10_share:.0%}",
        )
    table.caption = "≤x%: collateral value liquidatable after this asset's price falls by at most x %"
    console.print(table)
    hf = np.array([p.health_factor for p in snap.positions if p.debt > 0])
    if hf.size:
        edges = (0.0, *HF_EDGES, np.inf)
        counts = np.histogram(hf, bins=edges)[0]
        labels = [f"<{HF_EDGES[0]}"] + [f"{lo}-{hi}" for lo, hi in zip(HF_EDGES, HF_EDGES[1:], strict=False)] + [f">{HF_EDGES[-1]}"]
        console.print("health factors: " + "  ".join(f"{lab}: {c}" for lab, c in zip(labels, counts, strict=True)))
