"""The keeper: one cycle = snapshot -> forecast -> recommendation (features, bounds, risk gate, SHAP) -> report ->
submit -> seal, journaled from start to end.

Why this shape: a cycle is pinned to one block and every decision in it is a pure function of the snapshot, so
the report written before sending (``reports/<chain>/<block>/``, its manifest's sha256 is the on-chain
``reportHash``) is exactly what the transactions commit to; the seal (report hash, transactions) is added after.
Nothing is sent in a dry run (the default); a live cycle first settles what an earlier process left open
(``Submitter.reconcile``) and sends nothing for an asset while one of its transactions is still pending. A paused
governor, a stale or broken feed, or an unreachable node end the cycle with the reason in the journal and no
transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from oracle.chain.reader import ChainSource, read_snapshot
from oracle.domain.policy import Policy
from oracle.domain.snapshot import MarketSnapshot
from oracle.errors import ContractRevert, ExecutionError, OracleError
from oracle.execution.journal import CycleStatus, Journal
from oracle.execution.submit import Submitter
from oracle.models.store import load_model
from oracle.models.volatility import NeuralForecaster
from oracle.pipeline import AssetRecommendation, MarketRecommendation, analyse
from oracle.policy.calibrate import Calibration
from oracle.policy.features import AssetFeatures
from oracle.report.build import build_report
from oracle.report.history import past_recommendations
from oracle.report.render import SEAL, Seal, seal_report, write_report
from oracle.report.schema import ModelCard, ReportInputs

log = logging.getLogger("oracle.keeper")


def load_forecaster(path: Path | None = None) -> tuple[NeuralForecaster, ModelCard]:
    """The committed (or given) volatility model and its card for the reports."""
    model, metadata = load_model(path) if path is not None else load_model()
    return model, ModelCard.from_metadata(metadata)


class CycleResult(BaseModel):
    """How a cycle ended."""

    cycle_id: int
    status: CycleStatus = "failed"
    block: int | None = None
    report_dir: Path | None = None
    report_hash: str | None = None
    recommendation: MarketRecommendation | None = None
    sent: dict[str, str] = Field(default_factory=dict)  # symbol -> tx hash of the mined update
    not_sent: dict[str, str] = Field(default_factory=dict)  # symbol -> why
    detail: str = ""


@dataclass
class Keeper:
    """Everything a cycle needs, built once per process."""

    source: ChainSource
    policy: Policy
    calibration: Calibration
    model: NeuralForecaster | None
    journal: Journal
    reports_dir: Path
    submitter: Submitter | None = None  # None: dry runs only
    model_card: ModelCard | None = None  # the model's training metadata, for the report

    def __post_init__(self) -> None:
        if self.model is not None and self.model_card is None:
            raise OracleError(
                "a keeper with a volatility model needs its card (see load_forecaster): the report "
                "must name the model that made its forecasts"
            )

    def _previous_features(self) -> dict[str, AssetFeatures] | None:
        """The features of the last completed cycle, for the since-last-cycle explanation."""
        done = [c for c in self.journal.cycles() if c.status == "done"]
        if not done:
            return None
        rows = self.journal.recommendations(done[-1].id)
        return {r.symbol: AssetRecommendation.model_validate_json(r.record).features for r in rows} or None

    def _report_dir(self, snapshot: MarketSnapshot, cycle_id: int) -> Path:
        """``reports/<chain>/<block>/``; a later cycle at the same block (nothing was mined in between) may replace
        that directory unless its report went on chain, in which case it gets ``<block>-cycle<id>/``."""
        directory = self.reports_dir / str(snapshot.chain_id) / str(snapshot.block_number)
        seal = directory / SEAL
        if seal.is_file() and Seal.model_validate_json(seal.read_text()).transactions:
            return directory.with_name(f"{snapshot.block_number}-cycle{cycle_id}")
        return directory

    def _outcome(self, rec: AssetRecommendation) -> str:
        if rec.bounded is None:
            return "asset not governed"
        if not rec.bounded.changes:
            return "no change: " + ", ".join(f"{c.param.label} {c.binding}" for c in rec.bounded.clamps)
        if rec.gate is not None and not rec.gate.passed:
            return f"gated: {rec.gate.reason}"
        return "proposed"

    def run_cycle(self, dry_run: bool = True) -> CycleResult:
        """One cycle; never raises: a bad market state, a dead node or a bug ends it as ``failed`` with the reason
        in the journal and the result."""
        if not dry_run and self.submitter is None:
            raise OracleError("a live cycle needs a keeper key")
        cycle_id = self.journal.start_cycle(dry_run)
        result = CycleResult(cycle_id=cycle_id)
        try:
            snapshot = read_snapshot(self.source)
            result.block = snapshot.block_number
            self.journal.set_cycle_block(cycle_id, snapshot.chain_id, snapshot.block_number)
            previous = self._previous_features()
            analysis = analyse(snapshot, self.policy, self.calibration, self.model, previous, robustness=True)
            recommendation = analysis.recommendation
            inputs = ReportInputs(
                snapshot=snapshot,
                forecasts=analysis.forecasts,
                policy=self.policy,
                calibration=self.calibration,
                previous=previous,
                model=self.model_card,
                past=past_recommendations(self.journal, self.source.w3, snapshot),
            )
            report = build_report(analysis, inputs, cycle_id=cycle_id, dry_run=dry_run)
            report_dir = self._report_dir(snapshot, cycle_id)
            result.report_hash = write_report(report, report_dir)
            result.report_dir, result.recommendation = report_dir, recommendation
            self.journal.set_cycle_report(cycle_id, report.model_dump_json())
            report_hash = bytes.fromhex(result.report_hash[2:])
            for rec in recommendation.assets:
                self.journal.record_recommendation(
                    cycle_id,
                    rec.asset,
                    snapshot.asset(rec.asset).address,
                    rec.proposed,
                    self._outcome(rec),
                    rec.model_dump_json(),
                )
            if snapshot.paused:
                result.status, result.detail = "paused", "governor paused by the guardian: nothing proposed"
            elif dry_run:
                result.status = "done"
                result.not_sent = {r.asset: "dry run" for r in recommendation.assets if r.proposed}
            else:
                self._send(snapshot, recommendation, report_hash, result)
                result.status = "done"
            seal_report(
                report, report_dir, Seal(report_hash=result.report_hash, dry_run=dry_run, transactions=result.sent)
            )
        except OracleError as exc:
            result.detail = f"{type(exc).__name__}: {exc}"
            log.warning("cycle %s failed: %s", cycle_id, result.detail)
        except Exception as exc:  # a bug: journal it and keep the daemon alive; the next cycle reconciles
            result.detail = f"internal error {type(exc).__name__}: {exc}"
            log.exception("cycle %s failed with an internal error", cycle_id)
        self.journal.finish_cycle(cycle_id, result.status, result.report_hash, result.detail)
        return result

    def _send(
        self, snapshot: MarketSnapshot, recommendation: MarketRecommendation, report_hash: bytes, result: CycleResult
    ) -> None:
        """Submit every proposed update; one asset's failure does not stop the others."""
        assert self.submitter is not None
        pending = {a.symbol for a in self.submitter.reconcile()}
        valid_until = snapshot.block_timestamp + self.policy.update.valid_for_s
        for rec in recommendation.assets:
            if not rec.proposed or rec.bounded is None:
                continue
            if rec.asset in pending:
                result.not_sent[rec.asset] = "an earlier transaction for it is still pending"
                continue
            try:
                outcome = self.submitter.submit(
                    cycle_id=result.cycle_id,
                    symbol=rec.asset,
                    asset=snapshot.asset(rec.asset).address,
                    params=rec.bounded.bounded,
                    report_hash=report_hash,
                    valid_until=valid_until,
                    block=snapshot.block_number,
                )
            except ContractRevert as exc:
                result.not_sent[rec.asset] = f"simulation reverted: {exc.name}"
                continue
            except ExecutionError as exc:
                result.not_sent[rec.asset] = str(exc)
                continue
            if outcome.applied and outcome.attempt is not None:
                result.sent[rec.asset] = outcome.attempt.tx_hash
            else:
                result.not_sent[rec.asset] = outcome.reason
