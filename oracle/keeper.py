"""The keeper: one cycle = snapshot -> forecast -> recommendation (features, bounds, risk gate, SHAP) -> report ->
submit -> seal, journaled from start to end.

Why this shape: a cycle is pinned to one block and every decision in it is a pure function of the snapshot, so
the report written before sending (``reports/<chain>/<block>-<cycle>/``, its manifest's sha256 is the on-chain
``reportHash``) is exactly what the transactions commit to; the seal (report hash, transactions, what was not
sent and why) is added after. A report directory is written once, as a new directory, and never replaced.
Nothing is sent in a dry run (the default); a live cycle first checks the setup on chain (chain id, the key is the
governor's keeper, the governor is the market's risk admin), settles what an earlier process left open
(``Submitter.reconcile``) and sends nothing for an asset while one of its transactions is still pending. A paused
governor, a stale or broken feed, or an unreachable node end the cycle with the reason in the journal and no
transaction; a live cycle in which a proposed update could not be sent ends ``failed``.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from oracle.chain.governor import setup_problems
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.rpc import rpc_call
from oracle.domain.policy import Policy
from oracle.domain.snapshot import MarketSnapshot
from oracle.errors import ContractRevert, ExecutionError, OracleError, ReportExistsError, RpcError, SetupError
from oracle.execution.journal import CycleStatus, Journal
from oracle.execution.submit import Submitter
from oracle.models.store import load_model
from oracle.models.volatility import NeuralForecaster
from oracle.pipeline import AssetRecommendation, MarketRecommendation, analyse
from oracle.policy.calibrate import Calibration
from oracle.policy.features import AssetFeatures
from oracle.report.build import build_report
from oracle.report.history import past_recommendations
from oracle.report.render import Seal, seal_report, write_report
from oracle.report.schema import ModelCard, Report, ReportInputs

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
    send_errors: list[str] = Field(default_factory=list)  # symbols whose proposed update failed to go out
    rpc_errors: int = 0  # RPC failures met (reading or sending)
    error: str = ""  # class of the error that ended the cycle (SetupError, RpcError, ...), "" when none
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
    chain_id: int | None = None  # the chain the deployment is on (deployment.json), checked before live cycles

    def __post_init__(self) -> None:
        if self.model is not None and self.model_card is None:
            raise OracleError(
                "a keeper with a volatility model needs its card (see load_forecaster): the report "
                "must name the model that made its forecasts"
            )

    def _previous_features(self, snapshot: MarketSnapshot) -> dict[str, AssetFeatures] | None:
        """The features of the last completed cycle, for the since-last-cycle explanation, under the assets'
        current symbols: matched by address, since a symbol is a label the token's owner may change."""
        done = [c for c in self.journal.cycles() if c.status == "done"]
        if not done:
            return None
        by_address = {
            r.asset.lower(): AssetRecommendation.model_validate_json(r.record).features
            for r in self.journal.recommendations(done[-1].id)
        }
        previous = {a.symbol: by_address[a.address.lower()] for a in snapshot.assets if a.address.lower() in by_address}
        return previous or None

    def check_setup(self, live: bool = True) -> None:
        """Raise ``SetupError`` naming every problem of the setup on chain (see ``setup_problems``); ``live`` also
        checks that the key is the governor's keeper."""
        keeper = self.submitter.address if live and self.submitter is not None else None
        problems = setup_problems(
            self.source.w3,
            self.source.governor,
            self.source.adapter.address,
            chain_id=self.chain_id,
            keeper=keeper,
        )
        if problems:
            raise SetupError("; ".join(problems))

    def _write_report(self, report: Report, snapshot: MarketSnapshot, cycle_id: int) -> tuple[Path, str]:
        """Write the cycle's report as ``reports/<chain>/<block>-<cycle>/``; when that name is taken (another journal
        wrote a cycle of the same number at the same block), as ``<block>-<cycle>-<hash prefix>/``. Never into an
        existing directory."""
        directory = self.reports_dir / str(snapshot.chain_id) / f"{snapshot.block_number}-{cycle_id}"
        try:
            return directory, write_report(report, directory)
        except ReportExistsError as taken:
            log.warning("%s is taken; writing the report next to it", directory)
            directory = directory.with_name(f"{directory.name}-{taken.report_hash[2:10]}")
            return directory, write_report(report, directory)

    def _outcome(self, rec: AssetRecommendation) -> str:
        if rec.bounded is None:
            return "asset not governed"
        if not rec.bounded.changes:
            return "no change: " + ", ".join(f"{c.param.label} {c.binding}" for c in rec.bounded.clamps)
        if rec.gate is not None and not rec.gate.passed:
            return f"gated: {rec.gate.reason}"
        return "proposed"

    def run_cycle(self, dry_run: bool = True) -> CycleResult:
        """One cycle; never raises: a bad market state or setup, a dead node or a bug ends it as ``failed`` with
        the reason in the journal and the result."""
        if not dry_run and self.submitter is None:
            raise OracleError("a live cycle needs a keeper key")
        cycle_id = self.journal.start_cycle(dry_run)
        result = CycleResult(cycle_id=cycle_id)
        try:
            if not dry_run:
                self.check_setup()
            snapshot = read_snapshot(self.source)
            result.block = snapshot.block_number
            self.journal.set_cycle_block(cycle_id, snapshot.chain_id, snapshot.block_number)
            previous = self._previous_features(snapshot)
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
            report_dir, result.report_hash = self._write_report(report, snapshot, cycle_id)
            result.report_dir, result.recommendation = report_dir, recommendation
            self.journal.set_cycle_report(cycle_id, report.model_dump_json(), report_dir)
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
                if result.send_errors:
                    result.status, result.error = "failed", "SendError"
                    result.detail = "not sent: " + "; ".join(f"{a} ({result.not_sent[a]})" for a in result.send_errors)
                else:
                    result.status = "done"
            seal = Seal(
                report_hash=result.report_hash,
                dry_run=dry_run,
                transactions=result.sent,
                not_sent={} if dry_run else result.not_sent,
            )
            seal_report(report, report_dir, seal)
            self.journal.set_cycle_seal(cycle_id, seal.model_dump_json())
        except OracleError as exc:
            result.status, result.error = "failed", type(exc).__name__
            result.detail = f"{type(exc).__name__}: {exc}"
            result.rpc_errors += isinstance(exc, RpcError)
            log.warning("cycle %s failed: %s", cycle_id, result.detail)
        except Exception as exc:  # a bug: journal it and keep the daemon alive; the next cycle reconciles
            result.status, result.error = "failed", "InternalError"
            result.detail = f"internal error {type(exc).__name__}: {exc}"
            log.exception("cycle %s failed with an internal error", cycle_id)
        self.journal.finish_cycle(cycle_id, result.status, result.report_hash, result.detail)
        return result

    def _send(
        self, snapshot: MarketSnapshot, recommendation: MarketRecommendation, report_hash: bytes, result: CycleResult
    ) -> None:
        """Submit every proposed update; one asset's failure does not stop the others, but a node that cannot be
        reached stops the sending (what was not sent is named, and counted as RPC errors)."""
        submitter = self.submitter
        assert submitter is not None
        w3 = self.source.w3
        pending = {a.symbol for a in rpc_call(w3, submitter.reconcile, "reconciling earlier transactions")}
        valid_until = snapshot.block_timestamp + self.policy.update.valid_for_s
        node_down = ""
        for rec in recommendation.assets:
            if not rec.proposed or rec.bounded is None:
                continue
            if rec.asset in pending:
                result.not_sent[rec.asset] = "an earlier transaction for it is still pending"
                continue
            if node_down:
                result.not_sent[rec.asset] = f"not tried: {node_down}"
                result.send_errors.append(rec.asset)
                continue
            bounded = rec.bounded.bounded
            asset = snapshot.asset(rec.asset).address
            try:
                send = functools.partial(
                    submitter.submit,
                    cycle_id=result.cycle_id,
                    symbol=rec.asset,
                    asset=asset,
                    params=bounded,
                    report_hash=report_hash,
                    valid_until=valid_until,
                    block=snapshot.block_number,
                )
                outcome = rpc_call(w3, send, f"sending {rec.asset}'s update")
            except ContractRevert as exc:
                result.not_sent[rec.asset] = f"simulation reverted: {exc.name}"
                result.send_errors.append(rec.asset)
                continue
            except ExecutionError as exc:
                result.not_sent[rec.asset] = str(exc)
                result.send_errors.append(rec.asset)
                continue
            except RpcError as exc:
                result.rpc_errors += 1
                node_down = str(exc)
                result.not_sent[rec.asset] = node_down
                result.send_errors.append(rec.asset)
                log.warning("node failed while sending %s: %s", rec.asset, exc)
                continue
            if outcome.applied and outcome.attempt is not None:
                result.sent[rec.asset] = outcome.attempt.tx_hash
            else:
                result.not_sent[rec.asset] = outcome.reason
                result.send_errors.append(rec.asset)
