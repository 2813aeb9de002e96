"""Build a cycle's ``Report`` from its analysis (``oracle.pipeline.CycleAnalysis``): the risk impact of the whole
update, the explanation's robustness, the forecasts' recent track record, the past recommendations' outcomes and
the summary, formatted; nothing here computes any part of the analysis again.

Why pure: ``risk-oracle verify`` re-runs the analysis from ``report.json``'s inputs and rebuilds the report, and
must get the same figures, so nothing here reads the chain, the clock or the journal (the keeper gathers those into
``ReportInputs``).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from oracle.domain.forecast import VolForecast
from oracle.domain.params import RiskParams
from oracle.domain.snapshot import AssetState, MarketSnapshot
from oracle.explain.robustness import SEEDS
from oracle.models.base import ewma_variances
from oracle.pipeline import TRACK_DAYS, CycleAnalysis, MarketRecommendation
from oracle.policy.features import FEATURE_SHORT, Z99
from oracle.report.schema import (
    REPORT_VERSION,
    LossHistogram,
    PastOutcome,
    PastRecommendation,
    Report,
    ReportInputs,
    RiskImpact,
    Robustness,
    VolTrack,
    policy_sha256,
)
from oracle.risk.gate import liquidatable_share

HISTOGRAM_BINS = 30
DAY = 86_400


def risk_impact(analysis: CycleAnalysis) -> RiskImpact:
    """Bad debt and liquidations under the current parameters and with every proposed update applied, on the
    gate's paths (same seed, so the difference is the parameters' alone)."""
    now, after = analysis.current, analysis.after
    losses_now, losses_after = now.result.bad_debt_usd, after.result.bad_debt_usd
    top = float(max(losses_now.max(), losses_after.max()))
    edges = np.linspace(0.0, top if top > 0 else 1.0, HISTOGRAM_BINS + 1)
    histogram = LossHistogram(
        edges_usd=tuple(float(e) for e in edges),
        now=tuple(int(c) for c in np.histogram(losses_now[losses_now > 0], bins=edges)[0]),
        after=tuple(int(c) for c in np.histogram(losses_after[losses_after > 0], bins=edges)[0]),
        zero_now=int((losses_now <= 0).sum()),
        zero_after=int((losses_after <= 0).sum()),
    )
    return RiskImpact(
        applied=analysis.applied,
        now=now.metrics,
        after=after.metrics,
        liquidatable_now_share=liquidatable_share(analysis.market, list(now.params)),
        liquidatable_after_share=liquidatable_share(analysis.market, list(after.params)),
        histogram=histogram,
    )


def robustness(analysis: CycleAnalysis) -> Robustness:
    """Gaps of a seeded sampling explainer and of the kernel explainer to the published attributions."""
    if analysis.gaps is None:
        raise ValueError("the analysis ran without the robustness check (analyse(..., robustness=True))")
    published = [a.attribution for a in analysis.recommendation.assets]
    return Robustness(
        method=published[0].method,
        seeds=SEEDS,
        max_seed_gap_bps=analysis.gaps.max_seed_gap_bps,
        second_explainer="shap.KernelExplainer",
        max_second_gap_bps=analysis.gaps.max_second_gap_bps,
        max_additivity_error_bps=max(o.additivity_error_bps for a in published for o in a.outputs),
    )


def _ewma_track(closes: pd.Series) -> pd.DataFrame:
    """One-step-ahead EWMA forecasts of the daily closes' returns, normal tail."""
    r = np.log(closes).diff().dropna()
    sigma = np.sqrt(ewma_variances(r.to_numpy())[:-1])
    return pd.DataFrame({"sigma_1d": sigma, "tail_q99": Z99}, index=r.index)


def vol_track(
    asset: AssetState, forecast: VolForecast, candles: pd.DataFrame, track: pd.DataFrame | None, days: int
) -> VolTrack:
    """The last ``days`` daily forecasts of the source the live forecast came from, next to the realised returns
    (``track``: the model's, when the live forecast is the model's)."""
    if forecast.source == "neural" and track is not None:
        made, source = track.dropna(), "neural"
    else:
        made, source = _ewma_track(candles["close"]).iloc[-days:], "ewma-fallback"
    returns = np.log(candles["close"]).diff().reindex(made.index)
    keep = returns.notna()
    made, returns = made[keep], returns[keep]
    var99 = 1 - np.exp(-made["tail_q99"].to_numpy() * made["sigma_1d"].to_numpy())
    realised = returns.to_numpy()
    return VolTrack(
        asset=asset.symbol,
        source=source,
        days=tuple(t.strftime("%Y-%m-%d") for t in made.index),
        sigma_1d=tuple(float(s) for s in made["sigma_1d"]),
        var99_1d=tuple(float(v) for v in var99),
        realised_return=tuple(float(r) for r in realised),
        breaches=int((1 - np.exp(realised) > var99).sum()),
    )


def _price_at(asset: AssetState, t: int) -> float | None:
    """The feed's answer in force at time ``t`` (the last round at or before it)."""
    answer = None
    for r in asset.history:
        if r.updated_at > t:
            break
        answer = r.answer
    return None if answer is None else answer / 10**asset.feed_decimals


def past_outcome(snapshot: MarketSnapshot, past: PastRecommendation) -> PastOutcome:
    """What the asset's feed did after a past recommendation, as far as the snapshot's history reaches."""
    asset = snapshot.asset(past.asset)
    prices = []
    t = past.timestamp
    while t <= snapshot.block_timestamp:
        prices.append(_price_at(asset, t))
        t += DAY
    known = [p for p in prices if p is not None]
    next_day = None
    if len(prices) >= 2 and prices[0] is not None and prices[1] is not None:
        next_day = math.log(prices[1] / prices[0])
    returns = np.diff(np.log(known)) if len(known) >= 3 else np.array([])
    return PastOutcome(
        past=past,
        next_day_return=next_day,
        breached_var99=None if next_day is None else bool(1 - math.exp(next_day) > past.var99_1d),
        realised_sigma_1d=float(returns.std(ddof=1)) if returns.size >= 2 else None,
    )


def _params_text(p: RiskParams) -> str:
    return f"LTV {p.ltv}, LT {p.liquidation_threshold}, LB {p.liquidation_bonus}"


def summarise(
    inputs: ReportInputs,
    recommendation: MarketRecommendation,
    risk: RiskImpact,
    dry_run: bool,
    version: int = REPORT_VERSION,
) -> tuple[str, ...]:
    """The report's summary in plain words, one sentence per line: what changes, why, what stays, at what risk."""
    snapshot = inputs.snapshot
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(snapshot.block_timestamp))
    proposed = [a for a in recommendation.assets if a.proposed]
    head = f"Chain {snapshot.chain_id}, block {snapshot.block_number} ({stamp}): "
    if snapshot.paused:
        lines = [
            head + "the governor is paused by the guardian, so nothing is proposed until it is unpaused; "
            "below is what the oracle would do."
        ]
    else:
        lines = [
            head
            + f"{len(proposed)} of {len(recommendation.assets)} assets get new parameters"
            + (" (dry run: nothing was sent)." if dry_run else ", submitted to the governor with this report's hash.")
        ]
        if version >= 2:  # the report is written before sending: it can only say what is proposed
            lines = [
                head
                + f"{len(proposed)} of {len(recommendation.assets)} assets are proposed new parameters"
                + (
                    " (dry run: nothing is sent)."
                    if dry_run
                    else ", to be submitted to the governor with this report's hash; the seal lists what was "
                    "mined and what was not sent, and why."
                )
            ]
    for a in recommendation.assets:
        if a.bounded is None:
            lines.append(f"{a.asset} is not governed by the risk governor; it is shown for information.")
            continue
        # explain the parameter that moves most (or, when nothing moves, the one the model wants to move most)
        clamps = a.bounded.clamps
        k = max(
            range(3),
            key=lambda i: (abs(clamps[i].bounded - clamps[i].current), abs(a.raw_bps[i] - clamps[i].current)),
        )
        out, clamp = a.attribution.outputs[k], a.bounded.clamps[k]
        top_name, top_bps = out.top(1)[0]
        why = (
            f"the model puts its {out.output} at {out.value_bps:.0f} bps (on chain {clamp.current}) against a "
            f"recent-market base of {out.base_bps:.0f}, mostly from {FEATURE_SHORT[top_name]} ({top_bps:+.0f} bps; "
            f"σ {a.features.sigma_1d:.1%}/day)"
        )
        if a.proposed:
            moves = ", ".join(
                f"{c.param.label} {c.current}→{c.bounded} ({c.bounded - c.current:+d} bps)"
                for c in a.bounded.clamps
                if c.bounded != c.current
            )
            limited = sorted({c.binding for c in a.bounded.clamps if c.binding not in ("none", "min_change")})
            lines.append(
                f"{a.asset}: {moves}; {why}" + (f"; the step was limited by {', '.join(limited)}." if limited else ".")
            )
        elif a.gate is not None and not a.gate.passed:
            lines.append(f"{a.asset}: an update was blocked by the risk gate ({a.gate.reason}); {why}.")
        else:
            binding = sorted({c.binding for c in a.bounded.clamps})
            lines.append(f"{a.asset}: unchanged at {_params_text(a.bounded.current)} ({', '.join(binding)}); {why}.")
    now, after = risk.now, risk.after
    lines.append(
        f"Simulated over {inputs.policy.risk.horizon_days:g} day(s) on {now.paths:,} paths, bad-debt ES99 is "
        f"${now.bad_debt_es99_usd:,.0f} ({now.es99_share:.4%} of collateral) with today's parameters and "
        f"${after.bad_debt_es99_usd:,.0f} ({after.es99_share:.4%}) after the update; the appetite is "
        f"{inputs.policy.risk.es99_max_share:.4%}."
    )
    for f in inputs.forecasts:
        if f.source != "neural":
            lines.append(f"{f.asset}'s volatility comes from the EWMA fallback, not the model: {f.reason}.")
    return tuple(lines)


def build_report(
    analysis: CycleAnalysis, inputs: ReportInputs, *, cycle_id: int, dry_run: bool, version: int = REPORT_VERSION
) -> Report:
    """The whole report of a cycle: ``analysis`` formatted, next to the ``inputs`` it was computed from
    (``version``: the report format, for ``verify`` to rebuild an older report as it was built)."""
    snapshot = analysis.snapshot
    risk = risk_impact(analysis)
    tracks = tuple(
        vol_track(a, f, analysis.candles[a.symbol], analysis.tracks[a.symbol], TRACK_DAYS)
        for a, f in zip(snapshot.assets, analysis.forecasts, strict=True)
    )
    recommendation = analysis.recommendation
    return Report(
        cycle_id=cycle_id,
        chain_id=snapshot.chain_id,
        block_number=snapshot.block_number,
        block_timestamp=snapshot.block_timestamp,
        dry_run=dry_run,
        governor=snapshot.governor,
        market=snapshot.market,
        policy_name=inputs.policy.name,
        policy_sha256=policy_sha256(inputs.policy),
        calibration_sha256=inputs.calibration.sha256,
        model_sha256=inputs.model.weights_sha256 if inputs.model else None,
        version=version,
        summary=summarise(inputs, recommendation, risk, dry_run, version),
        inputs=inputs,
        recommendation=recommendation,
        risk=risk,
        robustness=robustness(analysis),
        vol_tracks=tracks,
        outcomes=tuple(past_outcome(snapshot, p) for p in inputs.past),
    )
