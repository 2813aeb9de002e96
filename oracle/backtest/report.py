"""The backtest's output directory: ``backtest.json`` (+ its JSON Schema), ``backtest.md``, a self-contained
``backtest.html`` and ``charts/``, next to ``tasks/<task>.json`` (one per finished task, the grid's resume points).

Why these charts: a reviewer asks, per window, what the price and the feed did, what each strategy set, how the
book's health moved, what was lost and liquidated, and whether the oracle buys its safety with borrowing power
(the frontier: time-weighted LTV against bad debt, one point per strategy and window).
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
from jinja2 import Environment, select_autoescape
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict

from oracle.backtest.grid import GridSpec, StrategySummary, summarise
from oracle.backtest.run import STRATEGIES, TaskResult

DPI = 100
COLOURS = {"static": "#607d8b", "static-aave": "#8e24aa", "oracle": "#1565c0", "oracle-ewma": "#ef6c00"}


class BacktestReport(BaseModel):
    """``backtest.json``."""

    model_config = ConfigDict(frozen=True)

    version: int = 1
    spec: GridSpec
    policy: str
    data: str
    strategies: dict[str, str]
    summary: list[StrategySummary]
    tasks: list[str]  # task names, results in tasks/<name>.json
    evm_transactions: int
    steps: int
    runtime_s: float
    note: str = (
        "bad debt = debt the market recorded as bad plus what positions still owe beyond their collateral at the "
        "window's end (market prices); active borrowers return to their target leverage daily, none adds collateral"
    )


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _dates(r: TaskResult) -> list[datetime]:
    return [datetime.fromtimestamp(t, UTC) for t in r.times]


def window_chart(results: Sequence[TaskResult]) -> bytes:
    """One window, seed of the first task: prices and feed, LT per strategy, debt-weighted HF median, cumulative bad
    debt and liquidations."""
    seed = results[0].spec.seed
    runs = [r for r in results if r.spec.seed == seed]
    first = runs[0]
    symbols = list(first.assets)
    fig = Figure(figsize=(11, 10))
    axes = fig.subplots(4, 1, sharex=True)
    for s in symbols:
        a = first.assets[s]
        base = a.market_usd[0] or 1.0
        line = axes[0].plot(_dates(first), [p / base for p in a.market_usd], lw=1, label=f"{s} market")[0]
        axes[0].plot(_dates(first), [p / base for p in a.feed_usd], lw=0.8, ls="--", color=line.get_color())
    axes[0].set_ylabel("price / start (dashed: feed)")
    axes[0].legend(fontsize=7, ncol=4)
    for r in runs:
        c = COLOURS.get(r.spec.strategy)
        for s in symbols:
            axes[1].step(_dates(r), r.assets[s].lt, where="post", lw=1, color=c, alpha=0.8)
        axes[1].plot([], [], color=c, label=r.spec.strategy)
        axes[2].plot(_dates(r), [q[1] for q in r.health_quantiles], color=c, lw=1, label=f"{r.spec.strategy} p25")
        axes[3].plot(_dates(r), [b / 1e6 for b in r.bad_debt_cum_usd], color=c, lw=1.5, label=f"{r.spec.strategy} bad")
        axes[3].plot(_dates(r), [x / 1e6 for x in r.liquidated_cum_usd], color=c, lw=1, ls=":")
    axes[1].set_ylabel("LT (bps), every asset")
    axes[1].legend(fontsize=7)
    axes[2].axhline(1.0, color="#c62828", lw=0.8)
    axes[2].set_ylabel("health factor, debt-weighted p25")
    axes[2].legend(fontsize=7)
    axes[3].set_ylabel("USD m (dotted: liquidated)")
    axes[3].legend(fontsize=7)
    fig.suptitle(f"{first.spec.window.label()}, seed {seed}")
    fig.tight_layout()
    return _png(fig)


def frontier_chart(summary: Sequence[StrategySummary]) -> bytes:
    """Time-weighted LTV (capital efficiency) against bad debt, one point per strategy and window."""
    fig = Figure(figsize=(7, 5))
    ax = fig.subplots()
    for row in summary:
        ax.scatter(row.avg_ltv_weighted_bps, row.bad_debt_share * 100, color=COLOURS.get(row.strategy), s=30)
        ax.annotate(f"{row.strategy} {row.window}", (row.avg_ltv_weighted_bps, row.bad_debt_share * 100), fontsize=7)
    ax.set_xlabel("time-weighted LTV, collateral-weighted (bps): higher lends more")
    ax.set_ylabel("bad debt, % of initial debt: lower is safer")
    fig.tight_layout()
    return _png(fig)


def _usd(x: float) -> str:
    return f"${x / 1e6:,.2f}M" if abs(x) >= 1e5 else f"${x:,.0f}"


def markdown(report: BacktestReport) -> str:
    lines = [
        f"# Backtest: {', '.join(w.label() for w in report.spec.windows)}",
        "",
        f"Policy `{report.policy}`, data: {report.data}; {report.spec.positions} positions per market, keeper every "
        f"{report.spec.cadence_h} h, seeds {list(report.spec.seeds)}. {report.steps:,} hourly steps and "
        f"{report.evm_transactions:,} EVM transactions in {report.runtime_s:,.0f} s. Strategies: "
        + "; ".join(f"`{k}`: {v}" for k, v in report.strategies.items() if k in report.spec.strategies)
        + ".",
        "",
        "| window | strategy | bad debt | % of debt | liquidated | penalties | made liquidatable by cuts | avg LTV "
        "(bps) | borrowing power used | updates | keeper gas |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report.summary:
        lines.append(
            f"| {r.window} | {r.strategy} | {_usd(r.bad_debt_usd)} | {r.bad_debt_share:.3%} | "
            f"{_usd(r.liquidated_collateral_usd)} | {_usd(r.penalties_usd)} | "
            f"{_usd(r.made_liquidatable_by_cuts_usd)} | "
            f"{r.avg_ltv_weighted_bps:,.0f} | {r.avg_borrowing_power_used:.1%} | {r.updates_sent:g} | "
            f"{r.keeper_gas:,.0f} |"
        )
    lines += ["", f"_{report.note}._", "", "![frontier](charts/frontier.png)", ""]
    lines += [f"![{w.name}](charts/window_{w.name}.png)" for w in report.spec.windows]
    return "\n".join(lines) + "\n"


HTML = """<!doctype html><html><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
td:nth-child(-n+2),th{text-align:left}img{max-width:100%}</style></head><body>
<h1>{{ title }}</h1><p>{{ intro }}</p>
<table><tr>{% for h in header %}<th>{{ h }}</th>{% endfor %}</tr>
{% for row in rows %}<tr>{% for c in row %}<td>{{ c }}</td>{% endfor %}</tr>{% endfor %}</table>
<p><em>{{ note }}</em></p>
{% for name, src in images %}<h2>{{ name }}</h2><img alt="{{ name }}" src="{{ src }}">{% endfor %}
</body></html>
"""


def write_backtest(
    out_dir: Path, spec: GridSpec, results: Sequence[TaskResult], *, policy: str, data: str, runtime_s: float
) -> BacktestReport:
    """Write ``backtest.json`` (+ ``backtest.schema.json``), ``backtest.md``, ``backtest.html`` and ``charts/``."""
    summary = summarise(results)
    report = BacktestReport(
        spec=spec,
        policy=policy,
        data=data,
        strategies=STRATEGIES,
        summary=summary,
        tasks=[r.spec.name for r in results],
        evm_transactions=sum(r.evm_transactions for r in results),
        steps=sum(r.steps for r in results),
        runtime_s=runtime_s,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "backtest.json").write_text(report.model_dump_json(indent=1) + "\n")
    (out_dir / "backtest.schema.json").write_text(json.dumps(BacktestReport.model_json_schema(), indent=1) + "\n")
    charts = {"frontier": frontier_chart(summary)}
    for w in spec.windows:
        charts[f"window_{w.name}"] = window_chart([r for r in results if r.spec.window == w])
    (out_dir / "charts").mkdir(exist_ok=True)
    for name, png in charts.items():
        (out_dir / "charts" / f"{name}.png").write_bytes(png)
    md = markdown(report)
    (out_dir / "backtest.md").write_text(md)
    table = [line for line in md.splitlines() if line.startswith("|")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in table[2:]]
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    html = env.from_string(HTML).render(
        title=md.splitlines()[0].removeprefix("# "),
        intro=md.splitlines()[2],
        header=header,
        rows=rows,
        note=report.note,
        images=[(n, "data:image/png;base64," + base64.b64encode(p).decode()) for n, p in charts.items()],
    )
    (out_dir / "backtest.html").write_text(html)
    return report
