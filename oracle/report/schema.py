"""``report.json``: everything a cycle's report says, and everything needed to check it.

Why one pydantic document: the Markdown, the HTML and the charts are renders of this object and nothing else, so
two renders of the same report are byte-identical and ``risk-oracle verify`` can re-render them; ``inputs`` holds
what the pure part of the pipeline consumed (snapshot, forecasts, policy, calibration, previous features), so
``verify`` can also re-run that part and compare. Its JSON Schema is committed as ``schemas/report.schema.json``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from oracle.domain.forecast import VolForecast
from oracle.domain.params import RiskParams
from oracle.domain.policy import Policy
from oracle.domain.snapshot import MarketSnapshot
from oracle.pipeline import MarketRecommendation
from oracle.policy.calibrate import Calibration
from oracle.policy.features import AssetFeatures
from oracle.risk.metrics import RiskMetrics

REPORT_VERSION = 2
"""2: HTML autoescaped, Markdown cells escaped, chart file names sanitised (``shap_<index>_<symbol>.png``), the
seal lists what was not sent. Version-1 reports still render (and verify) with the version-1 renderer."""


def canonical_sha256(body: Any) -> str:
    """sha256 of a JSON value in canonical form (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ModelCard(BaseModel):
    """The volatility model the forecasts came from, as its training metadata describes it."""

    model_config = ConfigDict(frozen=True)

    name: str
    weights_sha256: str
    architecture: str
    inputs: list[str] = Field(default_factory=list, description="the model's input features, in order")
    hyper_parameters: dict[str, float | int | str]
    data_range: dict[str, tuple[str, str]] = Field(description="first and last day of each asset's training data")
    walk_forward_from: str = Field(description="start of the out-of-sample walk-forward the metrics come from")
    qlike: dict[str, float]
    qlike_ratio_garch: dict[str, float] = Field(description="model QLIKE / GARCH(1,1)-t QLIKE; below 1 is better")
    kupiec_p99: dict[str, float] = Field(description="p-value of Kupiec's test of the 99 % VaR's coverage")
    versions: dict[str, str]

    @classmethod
    def from_metadata(cls, meta: dict[str, Any]) -> ModelCard:
        """From the ``.json`` written by ``risk-oracle train`` next to the weights."""
        metrics = meta.get("metrics", {})
        hp = meta.get("hyper_parameters", {})
        return cls(
            name=meta["name"],
            weights_sha256=meta["weights_sha256"],
            architecture=str(hp.get("arch", "?")),
            inputs=list(meta.get("features", [])),
            hyper_parameters=hp,
            data_range={k: (v[0], v[1]) for k, v in meta.get("date_range", {}).items()},
            walk_forward_from=str(metrics.get("walk_forward_from", "")),
            qlike=metrics.get("qlike", {}),
            qlike_ratio_garch=metrics.get("qlike_ratio_garch", {}),
            kupiec_p99=metrics.get("kupiec_p99", {}),
            versions=meta.get("versions", {}),
        )


class PastRecommendation(BaseModel):
    """One asset's recommendation in an earlier cycle, as the journal holds it, with what the chain saw since."""

    model_config = ConfigDict(frozen=True)

    cycle_id: int
    block: int
    timestamp: int
    asset: str
    sigma_1d: float
    var99_1d: float = Field(description="the forecast's one-day 99 % VaR, a positive fraction")
    params: RiskParams = Field(description="after bounds (what was proposed, or kept)")
    sent: bool
    liquidations_since: int = Field(description="Liquidated events of this asset from that block to the snapshot")


class ReportInputs(BaseModel):
    """What the pure part of the pipeline consumed: ``verify`` re-runs it from these."""

    model_config = ConfigDict(frozen=True)

    snapshot: MarketSnapshot
    forecasts: tuple[VolForecast, ...]
    policy: Policy
    calibration: Calibration
    previous: dict[str, AssetFeatures] | None = Field(description="the last completed cycle's features")
    model: ModelCard | None = Field(description="None when no model was loaded (EWMA fallback everywhere)")
    past: tuple[PastRecommendation, ...] = Field(description="earlier cycles, newest first")


class LossHistogram(BaseModel):
    """Bad debt per simulated path, binned on shared edges, for the current and the proposed parameters."""

    model_config = ConfigDict(frozen=True)

    edges_usd: tuple[float, ...]
    now: tuple[int, ...]
    after: tuple[int, ...]
    zero_now: int = Field(description="paths without bad debt (not in the bins)")
    zero_after: int


class RiskImpact(BaseModel):
    """The market under the current parameters and under every proposed update at once, on the same paths."""

    model_config = ConfigDict(frozen=True)

    applied: tuple[str, ...] = Field(description="assets whose proposed update the 'after' case applies")
    now: RiskMetrics
    after: RiskMetrics
    liquidatable_now_share: float
    liquidatable_after_share: float
    histogram: LossHistogram


class Robustness(BaseModel):
    """How much the explanation depends on how it was computed."""

    model_config = ConfigDict(frozen=True)

    method: str = Field(description="the published explainer")
    seeds: tuple[int, ...]
    max_seed_gap_bps: float = Field(
        description="largest gap between the permutation explainer's runs with these "
        "seeds and the published attributions, over assets, parameters and features"
    )
    second_explainer: str
    max_second_gap_bps: float = Field(description="largest gap between the second explainer and the published one")
    max_additivity_error_bps: float


class VolTrack(BaseModel):
    """An asset's recent daily forecasts against what happened: the σ line and the VaR band of the chart."""

    model_config = ConfigDict(frozen=True)

    asset: str
    source: str
    days: tuple[str, ...] = Field(description="the day forecast (UTC date of the 24 h window's end)")
    sigma_1d: tuple[float, ...]
    var99_1d: tuple[float, ...] = Field(description="one-day 99 % VaR of a long position, a positive fraction")
    realised_return: tuple[float, ...] = Field(description="the day's log return")
    breaches: int = Field(description="days whose loss exceeded the VaR")


class PastOutcome(BaseModel):
    """A past recommendation next to what the feeds and the market did since."""

    model_config = ConfigDict(frozen=True)

    past: PastRecommendation
    next_day_return: float | None = Field(description="log return over the 24 h after the cycle; None if too recent")
    breached_var99: bool | None
    realised_sigma_1d: float | None = Field(description="std of daily log returns since the cycle (>= 2 days)")


class Report(BaseModel):
    """One cycle's report."""

    model_config = ConfigDict(frozen=True)

    version: int = REPORT_VERSION
    cycle_id: int
    chain_id: int
    block_number: int
    block_timestamp: int
    dry_run: bool
    governor: str
    market: str
    policy_name: str
    policy_sha256: str
    calibration_sha256: str
    model_sha256: str | None
    summary: tuple[str, ...] = Field(description="the plain-words summary, one sentence per item")
    inputs: ReportInputs
    recommendation: MarketRecommendation
    risk: RiskImpact
    robustness: Robustness
    vol_tracks: tuple[VolTrack, ...]
    outcomes: tuple[PastOutcome, ...]


def policy_sha256(policy: Policy) -> str:
    """sha256 of the policy's canonical JSON."""
    return canonical_sha256(policy.model_dump(mode="json"))


def report_json_schema() -> str:
    """The JSON Schema of ``report.json``, as committed in ``schemas/report.schema.json``."""
    return json.dumps(Report.model_json_schema(), indent=1, sort_keys=True) + "\n"
