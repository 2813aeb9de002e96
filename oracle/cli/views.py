"""Terminal summaries (rich) of the pipeline's objects, for the CLI."""

from __future__ import annotations

import time
from itertools import pairwise

import numpy as np
from rich.console import Console
from rich.table import Table

from oracle.chain.governor import AppliedUpdate
from oracle.domain.forecast import VolForecast
from oracle.domain.params import Param
from oracle.domain.snapshot import MarketSnapshot
from oracle.explain.attribution import OutputAttribution
from oracle.pipeline import MarketRecommendation

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
    for col in ("asset", "price", "age", "LTV/LT/LB bps", "collateral", "debt", "≤1%", "≤2%", "≤5%", "≤10%", "top10"):
        table.add_column(col, justify="left" if col == "asset" else "right", no_wrap=True)
    for a in snap.assets:
        d = a.liquidation_density_usd
        table.add_row(
            a.symbol,
            f"{a.price_usd:,.2f}" if a.price_usd >= 1 else f"{a.price_usd:.4g}",
            f"{a.staleness_s}s",
            f"{a.params.ltv}/{a.params.liquidation_threshold}/{a.params.liquidation_bonus}",
            _usd(a.collateral_value_usd),
            _usd(a.debt_usd),
            *(_usd(d[k]) for k in ("1%", "2%", "5%", "10%")),
            f"{a.top10_share:.0%}",
        )
    table.caption = "≤x%: collateral value liquidatable after this asset's price falls by at most x %"
    console.print(table)
    hf = np.array([p.health_factor for p in snap.positions if p.debt > 0])
    if hf.size:
        edges = (0.0, *HF_EDGES, np.inf)
        counts = np.histogram(hf, bins=edges)[0]
        labels = [f"<{HF_EDGES[0]}"] + [f"{lo}-{hi}" for lo, hi in pairwise(HF_EDGES)] + [f">{HF_EDGES[-1]}"]
        console.print("health factors: " + "  ".join(f"{lab}: {c}" for lab, c in zip(labels, counts, strict=True)))


def _explained(out: OutputAttribution, n: int = 3) -> str:
    """``raw = base + top drivers + the rest``, in bps: the additive SHAP reading of one output."""
    drivers = "  ".join(f"{name} {bps:+.0f}" for name, bps in out.drivers(n))
    return f"{out.value_bps:6.0f} = base {out.base_bps:.0f}  {drivers}"


def print_recommendation(rec: MarketRecommendation, chain_id: int, console: Console, paused: bool = False) -> None:
    """Per asset and parameter: current | model raw | after bounds | Δ bps | binding limit; then each raw value as
    base + its top 3 SHAP drivers (bps); then the risk gate's verdict."""
    stamp = time.strftime("%Y-%m-%d %H:%M", time.gmtime(rec.block_timestamp))
    console.print(
        f"[bold]chain {chain_id}[/] block {rec.block_number} ({stamp} UTC), calibration "
        f"{rec.calibration_sha256[:12]}…{'  [bold red]GOVERNOR PAUSED[/]' if paused else ''}"
    )
    table = Table(title="recommendations (bps)", caption="raw = the model's value before rounding and bounds")
    for col in ("asset", "", "now", "raw", "bounded", "Δ", "binding limit", "next change"):
        table.add_column(
            col, justify="left" if col in ("asset", "", "binding limit", "next change") else "right", no_wrap=True
        )
    for a in rec.assets:
        for k, out in enumerate(a.attribution.outputs):
            clamp = a.bounded.clamps[k] if a.bounded else None
            label = a.asset if k == 0 else (f"σ {a.features.sigma_1d:.1%}" if k == 1 else "")
            when = (
                time.strftime("%m-%d %H:%M", time.gmtime(clamp.next_change_at))
                if clamp and clamp.next_change_at
                else "now"
            )
            table.add_row(
                label,
                out.output,
                str(clamp.current) if clamp else "-",
                f"{out.value_bps:.0f}",
                str(clamp.bounded) if clamp else "-",
                f"{clamp.bounded - clamp.current:+d}" if clamp else "-",
                clamp.binding if clamp else "no bounds",
                when,
                end_section=k == 2,
            )
    console.print(table)
    console.print("why (SHAP, bps; base = the recent market's average recommendation):")
    for a in rec.assets:
        for out in a.attribution.outputs:
            console.print(f"  {a.asset:<5} {out.output:<3} {_explained(out)}")
    for a in rec.assets:
        if a.gate is None:
            verdict = "no change to propose" if a.bounded else "asset not governed"
        elif a.gate.passed:
            verdict = (
                f"[green]passes the risk gate[/]: bad-debt ES99 {a.gate.current.es99_share:.4%} -> "
                f"{a.gate.proposed.es99_share:.4%} of collateral, liquidatable now "
                f"{a.gate.liquidatable_now_share:.2%} -> {a.gate.liquidatable_after_share:.2%} of debt"
            )
        else:
            verdict = f"[bold red]gated[/]: {a.gate.reason}"
        console.print(f"{a.asset}: {verdict}")


def applied_table(applied: list[AppliedUpdate], symbols: dict[str, str]) -> Table:
    table = Table(title="sent by the keeper (simulated at the cycle's block, journaled, then sent)")
    for col in ("asset", "update", "LTV/LT/LB before", "after", "tx", "gas"):
        table.add_column(col, justify="left" if col in ("asset", "tx") else "right", no_wrap=True)
    for a in applied:
        table.add_row(
            symbols[a.asset.lower()],
            f"#{a.update_id}",
            "/".join(str(a.old.get(p)) for p in Param),
            "/".join(str(a.new.get(p)) for p in Param),
            f"{a.tx_hash[:10]}…",
            f"{a.gas_used:,}",
        )
    return table


def forecast_table(snapshot: MarketSnapshot, forecasts: tuple[VolForecast, ...]) -> Table:
    table = Table(title=f"market at block {snapshot.block_number}: next-day volatility from on-chain feed history")
    for col in ("asset", "price", "σ 1d", "VaR99 1d", "liq. ≤10 % drop", "source"):
        table.add_column(col, justify="left" if col in ("asset", "source") else "right", no_wrap=True)
    for a, f in zip(snapshot.assets, forecasts, strict=True):
        table.add_row(
            a.symbol,
            f"{a.price_usd:,.2f}",
            f"{f.sigma:.2%}",
            f"{f.var99:.1%}",
            f"${a.liquidation_density_usd['10%']:,.0f}",
            f.source + (f" ({f.reason})" if f.reason else ""),
        )
    return table
