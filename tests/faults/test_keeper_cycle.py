"""Keeper cycles against a real anvil: dry run by default, a live cycle sends once, and a paused governor, a stale
feed, a dead RPC or a malformed policy end the cycle with a reason and no transaction."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner
from web3 import Web3

from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender
from oracle.cli import app
from oracle.devnet.deploy import Deployment
from oracle.domain.policy import Policy
from oracle.execution.journal import Journal
from oracle.report.verify import verify_directory
from tests.support.keeper import build_keeper, governed_params

pytestmark = pytest.mark.anvil


def test_dry_run_records_everything_and_sends_nothing(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, clean_chain: None
) -> None:
    before = governed_params(w3, seeded)
    result = build_keeper(w3, seeded, policy, journal, tmp_path / "reports", live=False).run_cycle()
    assert result.status == "done" and result.sent == {} and set(result.not_sent.values()) == {"dry run"}
    assert result.report_dir is not None and (result.report_dir / "manifest.json").is_file()
    assert governed_params(w3, seeded) == before and journal.attempts() == []
    rows = journal.recommendations(result.cycle_id)
    assert {r.symbol for r in rows} == {a.symbol for a in seeded.assets}


def test_live_cycle_sends_once_and_the_next_cycle_does_not_repeat_it(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, clean_chain: None
) -> None:
    keeper = build_keeper(w3, seeded, policy, journal, tmp_path / "reports")
    first = keeper.run_cycle(dry_run=False)
    assert first.status == "done" and first.sent, first
    assert first.recommendation is not None
    after = governed_params(w3, seeded)
    for rec in first.recommendation.assets:
        assert rec.bounded is not None
        expected = rec.bounded.bounded if rec.asset in first.sent else rec.bounded.current
        assert after[rec.asset] == expected
    second = keeper.run_cycle(dry_run=False)  # min delays hold every moved parameter: nothing new to send
    assert second.status == "done" and second.sent == {}
    assert governed_params(w3, seeded) == after
    assert len([a for a in journal.attempts() if a.status == "mined"]) == len(first.sent)
    # the second cycle explains the change since the first
    assert second.recommendation is not None
    assert all(a.since_last is not None for a in second.recommendation.assets)


def test_a_paused_governor_gets_no_proposal(
    w3: Web3,
    seeded: Deployment,
    policy: Policy,
    journal: Journal,
    tmp_path: Path,
    guardian: TxSender,
    clean_chain: None,
) -> None:
    guardian.transact(seeded.governor_contract(w3).functions.pause())
    before = governed_params(w3, seeded)
    result = build_keeper(w3, seeded, policy, journal, tmp_path / "reports").run_cycle(dry_run=False)
    assert result.status == "paused" and "paused" in result.detail and result.sent == {}
    assert governed_params(w3, seeded) == before and journal.attempts() == []
    # the cycle still reports what it would do, says why nothing went out, and the report verifies on chain
    assert result.report_dir is not None
    assert "the governor is paused" in (result.report_dir / "report.md").read_text()
    verification = verify_directory(result.report_dir, w3.provider.endpoint_uri, rerun=False)  # type: ignore[attr-defined]
    assert verification.passed, verification.checks


def test_a_stale_feed_stops_the_cycle_with_its_reason(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, clean_chain: None
) -> None:
    w3.provider.make_request("evm_increaseTime", [policy.snapshot.max_feed_age_s + 60])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    before = governed_params(w3, seeded)
    result = build_keeper(w3, seeded, policy, journal, tmp_path / "reports").run_cycle(dry_run=False)
    assert result.status == "failed" and "SnapshotError" in result.detail and "stale" in result.detail
    (cycle,) = journal.cycles()
    assert cycle.status == "failed" and "stale" in cycle.detail
    assert governed_params(w3, seeded) == before and journal.attempts() == []


def test_a_dead_rpc_fails_the_cycle_and_journals_it(
    seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path
) -> None:
    dead = make_web3("http://127.0.0.1:9", timeout_s=0.5)  # nothing listens on the discard port
    keeper = build_keeper(dead, seeded, policy, journal, tmp_path / "r", live=False)
    result = keeper.run_cycle()
    assert result.status == "failed" and "RpcError" in result.detail
    assert [c.status for c in journal.cycles()] == ["failed"]


def test_a_malformed_policy_is_a_clear_error_at_start(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[update]\nvalid_for_s = "six hours"\n')
    result = CliRunner().invoke(app, ["cycle", "--policy", str(bad)])
    assert result.exit_code == 2
    assert "invalid policy" in result.output and "valid_for_s" in result.output


def test_cycle_takes_its_journal_and_reports_dir_from_the_command_line(
    anvil, seeded: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORACLE_JOURNAL", str(tmp_path / "env-journal.sqlite"))  # the options win over it
    seeded.save(tmp_path / "deployment.json")
    args = ["cycle", "--rpc", anvil.url, "--deployment", str(tmp_path / "deployment.json")]
    paths = ["--journal", str(tmp_path / "j" / "journal.sqlite"), "--reports-dir", str(tmp_path / "r")]
    result = CliRunner().invoke(app, [*args, *paths], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    journal = Journal(tmp_path / "j" / "journal.sqlite")
    try:
        (cycle,) = journal.cycles()
    finally:
        journal.close()
    assert cycle.status == "done" and cycle.dry_run
    assert list((tmp_path / "r").glob("*/*/manifest.json")), "the report goes under --reports-dir"
    assert not (tmp_path / "env-journal.sqlite").exists()
