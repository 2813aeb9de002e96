"""`risk-oracle demo` end to end through its console script: a real anvil, deployment, seeding, a calibrated,
gated and explained recommendation, and the bounded updates on chain with the record's hash."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from oracle.demo import DemoResult
from oracle.execution.journal import Journal
from oracle.report.schema import Report


def _demo(positions: int, reports_dir: Path) -> subprocess.CompletedProcess[str]:
    """``risk-oracle demo`` through its console script, in a bare environment; asserts it succeeded."""
    cli = Path(sys.executable).with_name("risk-oracle")
    proc = subprocess.run(
        [str(cli), "demo", "--positions", str(positions), "--reports-dir", str(reports_dir)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    proc = _demo(40, tmp_path)
    assert "recommendations (bps)" in proc.stdout and "sent by the keeper" in proc.stdout
    assert "anvil stopped" in proc.stdout and "report.html" in proc.stdout
    assert "keeper 0x70997970C51812dc3A010C7d01b50e0d17dc79C8: anvil's account 1" in proc.stdout
    (demo_json,) = tmp_path.glob("demo/*/31337/*/demo.json")
    result = DemoResult.model_validate(json.loads(demo_json.read_text()))
    assert result.seeded.positions == 40 and result.cycle.status == "done"
    record = Report.model_validate_json(demo_json.with_name("report.json").read_text())
    manifest = demo_json.with_name("manifest.json")
    assert not record.dry_run and record.cycle_id == result.cycle.cycle_id
    proposed = [a for a in record.recommendation.assets if a.proposed]
    # the demo replays the 2022 crash: the oracle moves something, and sends exactly what passed bounds and gate
    assert proposed and set(result.cycle.sent) == {a.asset for a in proposed} and not result.cycle.not_sent
    # and in that crisis nothing loosens (the policy's stress hold): no LTV or LT rises, no LB falls
    for a in record.recommendation.assets:
        assert a.bounded is not None and a.stress is not None and a.stress.held, a.asset
        new, now = a.bounded.bounded, a.bounded.current
        assert new.ltv <= now.ltv and new.liquidation_threshold <= now.liquidation_threshold, a.asset
        assert new.liquidation_bonus >= now.liquidation_bonus, a.asset
    assert len(result.applied) == len(proposed)
    for update, rec in zip(result.applied, proposed, strict=True):
        assert rec.bounded is not None and update.new == rec.bounded.bounded != rec.bounded.current
        assert update.update_id == 1  # each asset's first update
        assert update.report_hash == "0x" + hashlib.sha256(manifest.read_bytes()).hexdigest()
    run_dir = demo_json.parents[2]
    journal = Journal(run_dir / "journal.sqlite")
    assert [c.status for c in journal.cycles()] == ["done"]
    assert sorted(a.symbol for a in journal.attempts() if a.status == "mined") == sorted(result.cycle.sent)
    # a second demo: a fresh chain repeats the blocks and the cycle number, yet the first run is kept as it was
    first = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith("journal")}
    _demo(10, tmp_path)
    runs = sorted(d for d in (tmp_path / "demo").iterdir() if d.is_dir())
    assert len(runs) == 2 and all((d / "journal.sqlite").is_file() for d in runs)
    assert {p: p.read_bytes() for p in first} == first
    assert [c.status for c in Journal(run_dir / "journal.sqlite").cycles()] == ["done"]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_stops_anvil_when_interrupted(tmp_path: Path, sig: signal.Signals) -> None:
    cli = Path(sys.executable).with_name("risk-oracle")
    proc = subprocess.Popen(
        [str(cli), "demo", "--positions", "1000", "--reports-dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()  # "anvil listening on http://127.0.0.1:<port>"
    url = first.split()[-1]
    deadline = time.monotonic() + 60
    while "deployed" not in proc.stdout.readline():  # interrupt while seeding
        assert time.monotonic() < deadline
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert proc.returncode != 0
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=2)


def test_two_demos_at_once_both_finish_and_keep_their_own_runs(tmp_path: Path) -> None:
    """Two demos started together in one reports directory: each has its own chain, run directory and journal
    (before, they shared one journal file and one died with 'disk I/O error')."""
    cli = Path(sys.executable).with_name("risk-oracle")
    procs = [
        subprocess.Popen(
            [str(cli), "demo", "--positions", "10", "--reports-dir", str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    runs = sorted(d for d in (tmp_path / "demo").iterdir() if d.is_dir())
    assert len(runs) == 2
    for run in runs:
        assert [c.status for c in Journal(run / "journal.sqlite").cycles()] == ["done"]
        (manifest,) = run.glob("31337/*/manifest.json")
        assert (manifest.parent / "seal.json").is_file()
