"""The report's charts as PNG bytes, drawn from the ``Report`` alone.

Why bytes from ``Figure`` objects and not pyplot: no global state between charts or cycles, and the same report
always gives the same bytes (Agg backend, fixed size and DPI, no timestamp or software tag in the PNG), which is
what lets a manifest hash them and ``verify`` re-render them.
"""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from oracle.explain.attribution import OutputAttribution
from oracle.pipeline import AssetRecommendation, MarketRecommendation
from oracle.policy.features import FEATURE_NAMES, FEATURE_SHORT
from oracle.report.schema import RiskImpact, VolTrack

DPI = 100
WATERFALL_TOP = 5
UP, DOWN, NEUTRAL, ACCENT = "#2e7d32", "#c62828", "#607d8b", "#1565c0"


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def _waterfall(ax: Axes, out: OutputAttribution, title: str, current: int | None, bounded: int | None) -> None:
    """Base -> top contributions -> the rest -> raw output, as horizontal steps in bps."""
    steps = out.drivers(WATERFALL_TOP)
    labels = ["base"] + [s[0] for s in steps] + ["raw"]
    y = np.arange(len(labels))[::-1]
    ax.barh(y[0], out.base_bps, color=NEUTRAL, height=0.6)
    level = out.base_bps
    for k, (_, v) in enumerate(steps, start=1):
        ax.barh(y[k], v, left=level, color=UP if v >= 0 else DOWN, height=0.6)
        ax.text(max(level, level + v), y[k], f" {v:+.0f}", va="center", fontsize=7)
        level += v
    ax.barh(y[-1], out.value_bps, color=ACCENT, height=0.6)
    ax.text(out.value_bps, y[-1], f" {out.value_bps:.0f}", va="center", fontsize=7)
    values = [out.base_bps, out.value_bps] + [v for v in (current, bounded) if v is not None]
    lo, hi = min(values), max(values)
    running = out.base_bps
    for _, v in steps:
        running += v
        lo, hi = min(lo, running), max(hi, running)
    pad = max(20.0, 0.15 * (hi - lo))
    ax.set_xlim(lo - pad, hi + 2 * pad)
    if current is not None:
        ax.axvline(current, color="black", linestyle=":", linewidth=1, label=f"on chain {current}")
    if bounded is not None and bounded != current:
        ax.axvline(bounded, color=ACCENT, linestyle="--", linewidth=1, label=f"after bounds {bounded}")
    if current is not None:
        ax.legend(fontsize=6, loc="best")
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_title(title, fontsize=8)
    ax.tick_params(axis="x", labelsize=7)


def shap_waterfall(rec: AssetRecommendation) -> bytes:
    """One asset: each parameter's raw value as base + SHAP contributions (bps); a second row explains the change
    since the last cycle when there is one."""
    rows = 2 if rec.since_last is not None else 1
    fig = Figure(figsize=(11, 3.1 * rows))
    axes = fig.subplots(rows, 3, squeeze=False)
    for k, out in enumerate(rec.attribution.outputs):
        clamp = rec.bounded.clamps[k] if rec.bounded else None
        _waterfall(
            axes[0][k],
            out,
            f"{rec.asset} {out.output}: vs recent market",
            clamp.current if clamp else None,
            clamp.bounded if clamp else None,
        )
        if rec.since_last is not None:
            _waterfall(axes[1][k], rec.since_last.outputs[k], f"{rec.asset} {out.output}: since last cycle", None, None)
    fig.tight_layout()
    return _png(fig)


def cross_asset(rec: MarketRecommendation) -> bytes:
    """Every asset and parameter against every feature: the SHAP contributions (bps) as one heat map."""
    rows = [(a.asset, o) for a in rec.assets for o in a.attribution.outputs]
    names = list(rows[0][1].contributions_bps) if rows else list(FEATURE_NAMES)
    values = np.array([[o.contributions_bps[f] for f in names] for _, o in rows])
    fig = Figure(figsize=(10, 0.38 * len(rows) + 1.6))
    ax = fig.subplots()
    limit = max(1.0, float(np.abs(values).max()))
    image = ax.imshow(values, cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
    ax.set_xticks(range(len(names)), [FEATURE_SHORT[f] for f in names], fontsize=8, rotation=30)
    ax.set_yticks(range(len(rows)), [f"{a} {o.output}" for a, o in rows], fontsize=8)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            if abs(values[i, j]) >= 0.5:
                ax.text(
                    j,
                    i,
                    f"{values[i, j]:+.0f}",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="white" if abs(values[i, j]) > 0.6 * limit else "black",
                )
    fig.colorbar(image, ax=ax, label="bps")
    ax.set_title("SHAP contributions to each raw recommendation (bps; red lowers, blue raises)", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def risk_histogram(risk: RiskImpact) -> bytes:
    """Bad debt per simulated path, now vs after the update (paths without bad debt counted in the legend)."""
    h = risk.histogram
    edges = np.array(h.edges_usd)
    fig = Figure(figsize=(8, 3.4))
    ax = fig.subplots()
    ax.stairs(
        np.array(h.now), edges, label=f"now ({h.zero_now:,} paths without bad debt)", color=NEUTRAL, linewidth=1.5
    )
    ax.stairs(
        np.array(h.after), edges, label=f"after ({h.zero_after:,} without)", color=ACCENT, linewidth=1.5, linestyle="--"
    )
    ax.axvline(
        risk.now.bad_debt_es99_usd,
        color=NEUTRAL,
        linestyle=":",
        linewidth=1,
        label=f"ES99 now ${risk.now.bad_debt_es99_usd:,.0f}",
    )
    ax.axvline(
        risk.after.bad_debt_es99_usd,
        color=ACCENT,
        linestyle=":",
        linewidth=1,
        label=f"ES99 after ${risk.after.bad_debt_es99_usd:,.0f}",
    )
    if max(h.now + h.after, default=0) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("bad debt at the horizon (USD)", fontsize=8)
    ax.set_ylabel("paths", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7)
    ax.set_title(f"simulated bad debt over {risk.now.paths:,} paths", fontsize=9)
    fig.tight_layout()
    return _png(fig)


def vol_tracks(tracks: tuple[VolTrack, ...]) -> bytes:
    """Per asset: each day's realised return against the forecast's ±σ and its 99 % VaR; breaches in red."""
    fig = Figure(figsize=(10, 2.2 * len(tracks) + 0.4))
    axes = fig.subplots(len(tracks), 1, squeeze=False)[:, 0]
    for ax, t in zip(axes, tracks, strict=True):
        x = np.arange(len(t.days))
        sigma, var99, r = np.array(t.sigma_1d), np.array(t.var99_1d), np.array(t.realised_return)
        loss_edge = np.log1p(-var99)  # the log return at which the loss equals the VaR
        ax.fill_between(x, loss_edge, -loss_edge, color=ACCENT, alpha=0.12, label="99 % VaR band")
        ax.plot(x, sigma, color=ACCENT, linewidth=1, label="forecast σ")
        ax.plot(x, -sigma, color=ACCENT, linewidth=1)
        breach = r < loss_edge
        ax.scatter(x[~breach], r[~breach], s=6, color=NEUTRAL, label="realised return")
        ax.scatter(x[breach], r[breach], s=14, color=DOWN, label=f"VaR breach ({int(breach.sum())})")
        ax.set_ylabel(f"{t.asset}\nlog return", fontsize=8)
        ax.set_title(f"{t.asset}: {t.source}, {len(x)} days", fontsize=8)
        ticks = x[:: max(1, len(x) // 6)]
        ax.set_xticks(ticks, [t.days[i] for i in ticks], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
        ax.legend(fontsize=6, loc="upper left", ncols=4)
    fig.tight_layout()
    return _png(fig)
