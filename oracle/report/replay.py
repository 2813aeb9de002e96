"""Re-render a cycle's report directory from the journal (``risk-oracle report --cycle ID``).

Why this is possible: the journal stores each cycle's ``report.json`` before anything is sent, and the mined
attempts; every file of the directory is a pure render of those, so a lost or edited directory can be rebuilt
byte for byte and its hash checked against the one the cycle recorded (and put on chain).
"""

from __future__ import annotations

from pathlib import Path

from oracle.errors import OracleError, ReportExistsError
from oracle.execution.journal import Journal
from oracle.report.render import Seal, render_directory
from oracle.report.schema import Report


def rerender_cycle(journal: Journal, cycle_id: int, directory: Path | None, reports_dir: Path) -> tuple[Path, str]:
    """Write cycle ``cycle_id``'s report to ``directory`` (default: the directory the cycle wrote, as the journal
    recorded it, else ``reports_dir/<chain>/<block>-<cycle>``); returns the directory and the report hash, which
    must equal the one the cycle recorded. A directory holding this same report is restored file by file; one
    holding any other report is never touched (``ReportExistsError``)."""
    cycle = journal.cycle(cycle_id)
    if cycle is None:
        raise OracleError(f"no cycle #{cycle_id} in {journal.path}")
    stored = journal.cycle_report(cycle_id)
    if stored is None:
        raise OracleError(
            f"cycle #{cycle_id} ({cycle.status}) stored no report: it ended before one was built"
            + (f" ({cycle.detail})" if cycle.detail else "")
        )
    report = Report.model_validate_json(stored)
    default = (
        Path(cycle.report_dir)
        if cycle.report_dir
        else reports_dir / str(report.chain_id) / f"{report.block_number}-{cycle_id}"
    )
    target = directory or default
    mined = {a.symbol: a.tx_hash for a in journal.attempts(cycle_id=cycle_id, statuses=("mined",))}
    recorded = cycle.report_hash
    seal = None
    if recorded:
        stored_seal = journal.cycle_seal(cycle_id)
        sealed = (
            Seal.model_validate_json(stored_seal)
            if stored_seal
            else Seal(report_hash=recorded, dry_run=report.dry_run)  # a journal from before seals were stored
        )
        # transactions found mined after the seal was written (a reconciled attempt) join it
        not_sent = {asset: why for asset, why in sealed.not_sent.items() if asset not in mined}
        seal = sealed.model_copy(update={"transactions": {**sealed.transactions, **mined}, "not_sent": not_sent})
    try:
        report_hash = render_directory(report, target, seal)
    except ReportExistsError as exc:
        raise ReportExistsError(
            f"cycle #{cycle_id}: {exc} (pass --out DIR to re-render it elsewhere)", exc.directory, exc.report_hash
        ) from exc
    if recorded and report_hash != recorded:
        raise OracleError(
            f"cycle #{cycle_id}: re-rendered report hashes to {report_hash}, the cycle recorded "
            f"{recorded} (was the renderer or a pinned library changed?)"
        )
    return target, report_hash
