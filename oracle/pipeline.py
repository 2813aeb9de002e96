"""One cycle's whole pure analysis, computed once: snapshot -> daily candles -> forecasts -> features -> raw
recommendation -> bounded update -> cascade on the gate's paths (current and proposed parameters) -> risk gate ->
SHAP attributions (and, for a report, the explanation's robustness). With the policy's manipulation guard, the
assets whose feed shows an unconfirmed jump are also forecast and recommended from their confirmed history, and
the bounded update's LT cut goes no deeper than that view's LT.

Why one function and one object: the keeper, ``risk-oracle recommend``, ``risk-oracle verify`` and the report
must show the very same numbers from the same inputs, and none of them should compute a piece twice. Nothing here
touches the chain, the clock or the journal (the snapshot was read before, the submission comes after), so
``verify`` re-runs exactly this from a report's inputs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from oracle.data.candles import daily_candles
from oracle.data.confirm import confirmed_asset
from oracle.domain.appetite import RiskAppetite
from oracle.domain.fields import unset
from oracle.domain.forecast import VolForecast
from oracle.domain.params import Param, RiskParams
from oracle.domain.policy import Policy
from oracle.domain.snapshot import MarketSnapshot
from oracle.errors import ModelError
from oracle.explain.attribution import AssetAttribution, Model, explain, explain_change
from oracle.explain.background import BACKGROUND_DAYS, recent_background, recent_forecasts
from oracle.explain.robustness import explainer_gaps
from oracle.models.live import forecast, forecast_asset
from oracle.models.volatility import NeuralForecaster
from oracle.policy.bounds import BoundedUpdate, LooseningHold, LtCutHold, clamp_update, ltv_cut_only
from oracle.policy.calibrate import Calibration
from oracle.policy.features import AssetFeatures, build_features, feature_matrix, feature_names
from oracle.policy.recommend import MarketConstants, recommend_matrix, to_params
from oracle.policy.stress import StressState, stress_states
from oracle.risk.cascade import INSTANT, CascadeMarket, CascadeResult, Liquidators, Shocks, run_cascade
from oracle.risk.edge import EdgeCase, edge_shocks
from oracle.risk.gate import GateDecision, params_arrays, risk_gate
from oracle.risk.market import cascade_liquidators, cascade_market, market_shocks, position_values
from oracle.risk.metrics import RiskMetrics, risk_metrics

EDGE_PATHS = 2000  # price paths of each edge-book test (two horizons, two parameter sets per proposed asset)
TRACK_DAYS = 60  # the report's forecast track; the SHAP background reads its last BACKGROUND_DAYS
assert TRACK_DAYS >= BACKGROUND_DAYS


class AssetRecommendation(BaseModel):
    """Everything decided about one asset in one cycle."""

    model_config = ConfigDict(frozen=True)

    asset: str
    features: AssetFeatures
    raw_bps: tuple[float, float, float]  # LTV, LT, LB before rounding and bounds (what SHAP explains)
    bounded: BoundedUpdate | None  # None when the governor has no bounds for the asset
    gate: GateDecision | None  # None when the bounded update changes nothing
    attribution: AssetAttribution
    since_last: AssetAttribution | None
    # the policy's stress hold (None without one: left out of the JSON, so earlier reports re-serialise as written)
    stress: StressState | None = Field(
        default=None, exclude_if=unset, description="the stress hold's conditions this cycle"
    )

    @property
    def proposed(self) -> bool:
        """Whether this asset's update goes to the chain."""
        return self.bounded is not None and self.bounded.changes and self.gate is not None and self.gate.passed


class MarketRecommendation(BaseModel):
    """A cycle's recommendations for every asset of a market."""

    model_config = ConfigDict(frozen=True)

    block_number: int
    block_timestamp: int
    calibration_sha256: str
    assets: tuple[AssetRecommendation, ...]

    def asset(self, symbol: str) -> AssetRecommendation:
        for a in self.assets:
            if a.asset == symbol:
                return a
        raise KeyError(symbol)


@dataclass(frozen=True)
class RiskRun:
    """One set of parameters simulated on the cycle's paths."""

    params: tuple[RiskParams, ...]
    result: CascadeResult
    metrics: RiskMetrics


@dataclass(frozen=True)
class ExplainerGaps:
    """How far a seeded sampling explainer and the kernel explainer land from the published attributions (bps)."""

    max_seed_gap_bps: float
    max_second_gap_bps: float


@dataclass(frozen=True)
class ConfirmedView:
    """The manipulation guard's second reading of the market: forecasts and raw recommendation from the
    confirmed price history (``oracle.data.confirm``), with the same model, calibration and snapshot otherwise.

    Only the assets in ``jumped`` (a round of their history is a jump) are forecast again; every other asset's
    confirmed history is its history, so its forecast and row are the cycle's own.
    """

    jumped: tuple[str, ...]  # symbols whose history holds a jump, in the snapshot's order
    forecasts: tuple[VolForecast, ...]  # per asset of the snapshot, from the confirmed history
    raw: np.ndarray  # the raw (LTV, LT, LB) bps rows from those forecasts, in the snapshot's asset order


@dataclass(frozen=True)
class CycleAnalysis:
    """Everything a cycle computes from its snapshot, once; the keeper, ``recommend``, ``verify`` and the report
    read it and compute nothing of it again."""

    snapshot: MarketSnapshot
    policy: Policy
    calibration: Calibration
    candles: Mapping[str, pd.DataFrame]  # per symbol, rebuilt from the feed's rounds
    tracks: Mapping[str, pd.DataFrame | None]  # the model's last TRACK_DAYS forecasts per symbol (None: no model)
    forecasts: tuple[VolForecast, ...]
    features: Mapping[str, AssetFeatures]
    matrix: np.ndarray  # the features as rows (assets) x FEATURE_NAMES
    policy_model: Model  # feature rows -> raw (LTV, LT, LB) bps: what SHAP explains
    background: np.ndarray  # the SHAP background rows
    recommendation: MarketRecommendation
    market: CascadeMarket  # the snapshot's positions as the simulator sees them
    shocks: Shocks  # the gate's price paths
    current: RiskRun  # today's parameters on those paths
    after: RiskRun  # every proposed update applied (== current when nothing is proposed)
    applied: tuple[str, ...]  # the assets whose update ``after`` applies
    gaps: ExplainerGaps | None  # None unless asked for (the report's robustness section)
    confirmed: ConfirmedView | None = None  # None when the policy has no manipulation guard


def policy_model(close_factor_bps: int, policy: Policy, calibration: Calibration) -> Model:
    """The raw recommendation as a function of feature rows (bps of LTV, LT, LB): what SHAP explains."""
    const = MarketConstants.from_policy(policy.risk, close_factor_bps, calibration.form)
    coef = calibration.coefficients

    def model(rows: np.ndarray) -> np.ndarray:
        return recommend_matrix(rows, coef, const)

    return model


def forecast_tracks(
    candles: Mapping[str, pd.DataFrame], vol_model: NeuralForecaster | None, days: int = TRACK_DAYS
) -> dict[str, pd.DataFrame | None]:
    """Per symbol, what ``vol_model`` forecast on each of the last ``days`` days (None without a model or with
    too little history for it)."""
    tracks: dict[str, pd.DataFrame | None] = {}
    for symbol, frame in candles.items():
        tracks[symbol] = None
        if vol_model is not None:
            try:
                tracks[symbol] = recent_forecasts(vol_model, frame, days)
            except (ModelError, ValueError, KeyError, IndexError):
                pass  # too little history for the model
    return tracks


def confirmed_view(
    snapshot: MarketSnapshot,
    policy: Policy,
    vol_model: NeuralForecaster | None,
    model: Model,
    forecasts: tuple[VolForecast, ...],
    raw: np.ndarray,
    form: int = 1,
) -> ConfirmedView | None:
    """The manipulation guard's view (None without a guard): each asset whose history holds a jump is forecast
    again from its confirmed history, and every row recommended again from those forecasts (``forecasts`` and
    ``raw`` are the cycle's own, reused where nothing jumped: a calm market costs one pass over its rounds)."""
    guard = policy.manipulation_guard
    if guard is None:
        return None
    confirmed = list(forecasts)
    jumped = []
    for i, asset in enumerate(snapshot.assets):
        seen = confirmed_asset(asset, guard)
        if seen is not asset:
            jumped.append(asset.symbol)
            confirmed[i] = forecast_asset(seen, vol_model, daily_candles(seen))
    if not jumped:
        return ConfirmedView(jumped=(), forecasts=forecasts, raw=raw)
    rows = model(feature_matrix(build_features(snapshot, tuple(confirmed), policy.risk, form)))
    return ConfirmedView(jumped=tuple(jumped), forecasts=tuple(confirmed), raw=rows)


def _lt_holds(snapshot: MarketSnapshot, policy: Policy, view: ConfirmedView | None) -> dict[str, LtCutHold]:
    """Per jumped asset, the floor the guard puts under its LT cut: the confirmed view's LT, rounded like any."""
    guard = policy.manipulation_guard
    if guard is None or view is None:
        return {}
    return {
        asset.symbol: LtCutHold(floor=to_params(row).liquidation_threshold, binding=guard.binding)
        for asset, row in zip(snapshot.assets, view.raw, strict=True)
        if asset.symbol in view.jumped
    }


HELD_WITH_LT = "held with the guarded LT cut: the whole update failed the risk gate"
HELD_FAILED_GATE = "held: the whole update failed the risk gate ({reason}); its LTV cut goes alone"


def _keep_ltv_cuts(
    snapshot: MarketSnapshot,
    policy: Policy,
    holds: Mapping[str, LtCutHold],
    bounded: dict[str, BoundedUpdate | None],
    gates: dict[str, GateDecision],
    market: CascadeMarket,
    shocks: Shocks,
    current: RiskRun,
    liquidators: Liquidators = INSTANT,
    edge: Mapping[str, EdgeCase] | None = None,
) -> None:
    """Where an update that cuts LTV failed the risk gate (whatever held or moved its LT and LB: the manipulation
    guard, the stress hold, an LT cut too deep at once), propose the LTV cut alone (``ltv_cut_only``), gated again:
    cutting LTV liquidates no one and must never wait for the rest. Updates ``bounded`` and ``gates`` in place."""
    symbols = [a.symbol for a in snapshot.assets]
    current_params = [a.params for a in snapshot.assets]
    for symbol in symbols:
        update, gate = bounded.get(symbol), gates.get(symbol)
        if update is None or gate is None or gate.passed:
            continue
        hold = holds.get(symbol)
        guarded = hold is not None and update.clamps[Param.LIQUIDATION_THRESHOLD].binding == hold.binding
        asset = snapshot.asset(symbol)
        assert asset.bounds is not None  # bounded[symbol] is not None
        alone = ltv_cut_only(
            update,
            asset.bounds,
            asset.last_changed_at,
            snapshot.block_timestamp,
            policy.update.min_change_bps,
            HELD_WITH_LT if guarded else HELD_FAILED_GATE.format(reason=gate.reason),
            keep_lt_binding=guarded,
        )
        if alone is None or not alone.changes:
            continue
        decision = risk_gate(
            market,
            shocks,
            symbols,
            current_params,
            {symbol: alone.bounded},
            policy.risk,
            current.result,
            liquidators=liquidators,
            edge=edge,
        )[symbol]
        if decision.passed:
            bounded[symbol], gates[symbol] = alone, decision


def _bound(
    snapshot: MarketSnapshot,
    policy: Policy,
    raw: np.ndarray,
    holds: Mapping[str, LtCutHold],
    stress: Mapping[str, StressState],
) -> dict[str, BoundedUpdate | None]:
    loosening = {s: LooseningHold(binding=state.binding) for s, state in stress.items() if state.binding is not None}
    return {
        asset.symbol: None
        if asset.bounds is None
        else clamp_update(
            asset.address,
            asset.params,
            to_params(row),
            asset.bounds,
            asset.last_changed_at,
            snapshot.block_timestamp,
            policy.update.min_change_bps,
            lt_hold=holds.get(asset.symbol),
            loosening_hold=loosening.get(asset.symbol),
        )
        for asset, row in zip(snapshot.assets, raw, strict=True)
    }


def edge_cases(
    snapshot: MarketSnapshot,
    forecasts: tuple[VolForecast, ...],
    appetite: RiskAppetite,
    market: CascadeMarket,
    only: Collection[str],
) -> dict[str, EdgeCase] | None:
    """Per asset of ``only`` (those with a proposed update: nothing else is gated), the worst-admissible-book test
    the gate judges its update on (None without ``[risk.edge_book]``): the asset's collateral at the edge, its
    largest holder at least the configured share, its own feed and volatility forecast, paths over the update and
    the cut horizon (seeded from the gate's seed and the asset's place in the market, so an asset's paths do not
    depend on which others are proposed)."""
    edge_book = appetite.edge_book
    if edge_book is None:
        return None
    values, _debt = position_values(snapshot)
    cases = {}
    for i, (asset, f) in enumerate(zip(snapshot.assets, forecasts, strict=True)):
        if asset.symbol not in only:
            continue
        total = float(values[:, i].sum())
        top = float(values[:, i].max()) / total if total > 0 else 0.0
        cases[asset.symbol] = EdgeCase(
            collateral_usd=total,
            depth_usd=float(market.depth_usd[i]),
            top_share=max(top, edge_book.top_holder_share),
            gas_usd=market.gas_usd,
            close_factor=market.close_factor,
            liquidators=cascade_liquidators(appetite, [(asset.address, asset.symbol)]),
            shocks=edge_shocks(
                f.sigma,
                np.inf if f.dof is None else f.dof,
                appetite,
                edge_book,
                paths=min(appetite.paths, EDGE_PATHS),
                seed=appetite.seed + 1 + i,
            ),
            edge=edge_book,
        )
    return cases


def _run(
    market: CascadeMarket, shocks: Shocks, params: list[RiskParams], liquidators: Liquidators = INSTANT
) -> RiskRun:
    result = run_cascade(market, params_arrays(params), shocks, liquidators=liquidators)
    return RiskRun(tuple(params), result, risk_metrics(result, market.supplied_collateral_usd))


def analyse(
    snapshot: MarketSnapshot,
    policy: Policy,
    calibration: Calibration,
    vol_model: NeuralForecaster | None = None,
    previous: Mapping[str, AssetFeatures] | None = None,
    *,
    robustness: bool = False,
) -> CycleAnalysis:
    """Forecast, recommend, bound, stress, gate and explain every asset of ``snapshot``.

    ``previous`` (the last cycle's features) adds the since-last-cycle explanation; ``robustness`` runs the
    second explainers for the report (about a second; ``recommend`` skips it). The policy's manipulation guard
    adds a forecast per asset whose feed shows a jump (``confirmed_view``); SHAP explains the raw model output,
    the guard only bounds the LT cut.
    """
    candles = {a.symbol: daily_candles(a) for a in snapshot.assets}
    forecasts = forecast(snapshot, vol_model, candles)
    tracks = forecast_tracks(candles, vol_model)
    features = build_features(snapshot, forecasts, policy.risk, calibration.form)
    names = feature_names(calibration.form)
    symbols = list(features)
    x = feature_matrix(features)
    model = policy_model(snapshot.close_factor_bps, policy, calibration)
    raw = model(x)
    background = recent_background(features, tracks)
    attributions = explain(model, x, background, symbols, names=names)

    confirmed = confirmed_view(snapshot, policy, vol_model, model, forecasts, raw, calibration.form)
    holds = _lt_holds(snapshot, policy, confirmed)
    stress = stress_states(candles, forecasts, policy.stress_hold)
    bounded = _bound(snapshot, policy, raw, holds, stress)
    market = cascade_market(snapshot, policy.risk)
    shocks = market_shocks(candles, forecasts, policy.risk)
    liquidators = cascade_liquidators(policy.risk, [(a.address, a.symbol) for a in snapshot.assets])
    current_params = [a.params for a in snapshot.assets]
    current = _run(market, shocks, current_params, liquidators)
    changing = {s: b.bounded for s, b in bounded.items() if b is not None and b.changes}
    edge = edge_cases(snapshot, forecasts, policy.risk, market, changing) if calibration.form == 2 else None
    gates = (
        risk_gate(
            market,
            shocks,
            symbols,
            current_params,
            changing,
            policy.risk,
            current.result,
            liquidators=liquidators,
            edge=edge,
        )
        if changing
        else {}
    )
    _keep_ltv_cuts(snapshot, policy, holds, bounded, gates, market, shocks, current, liquidators, edge)

    assets = []
    for i, symbol in enumerate(symbols):
        since = None
        # a previous cycle of another recommendation form has other features: no since-last split then
        if previous is not None and symbol in previous and previous[symbol].names == names:
            since = explain_change(model, previous[symbol].vector(), x[i], symbol, names)
        assets.append(
            AssetRecommendation(
                asset=symbol,
                features=features[symbol],
                raw_bps=(float(raw[i, 0]), float(raw[i, 1]), float(raw[i, 2])),
                bounded=bounded[symbol],
                gate=gates.get(symbol),
                attribution=attributions[i],
                since_last=since,
                stress=stress.get(symbol),
            )
        )
    recommendation = MarketRecommendation(
        block_number=snapshot.block_number,
        block_timestamp=snapshot.block_timestamp,
        calibration_sha256=calibration.sha256,
        assets=tuple(assets),
    )

    after_params = list(current_params)
    applied = []
    for i, rec in enumerate(recommendation.assets):
        if rec.proposed and rec.bounded is not None:
            after_params[i] = rec.bounded.bounded
            applied.append(rec.asset)
    after = _run(market, shocks, after_params, liquidators) if applied else current

    gaps = None
    if robustness:
        seed_gap, kernel_gap = explainer_gaps(model, x, background, attributions)
        gaps = ExplainerGaps(max_seed_gap_bps=seed_gap, max_second_gap_bps=kernel_gap)
    return CycleAnalysis(
        snapshot=snapshot,
        policy=policy,
        calibration=calibration,
        candles=candles,
        tracks=tracks,
        forecasts=forecasts,
        features=features,
        matrix=x,
        policy_model=model,
        background=background,
        recommendation=recommendation,
        market=market,
        shocks=shocks,
        current=current,
        after=after,
        applied=tuple(applied),
        gaps=gaps,
        confirmed=confirmed,
    )
