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


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("risk-oracle")
    proc = subprocess.run(
        [str(cli), "demo", "--positions", "40", "--reports-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recommendations (bps)" in proc.stdout and "sent by the keeper" in proc.stdout
    assert "anvil stopped" in proc.stdout and "report.html" in proc.stdout
    (demo_json,) = tmp_path.glob("31337/*/demo.json")
    result = DemoResult.model_validate(json.loads(demo_json.read_text()))
    assert result.seeded.positions == 40 and result.cycle.status == "done"
    record = Report.model_validate_json(demo_json.with_name("report.json").read_text())
    manifest = demo_json.with_name("manifest.json")
    assert not record.dry_run and record.cycle_id == result.cycle.cycle_id
    proposed = [a for a in record.recommendation.assets if a.proposed]
    # the demo replays the 2022 crash: the oracle moves something, and sends exactly what passed bounds and gate
    assert proposed and set(result.cycle.sent) == {a.asset for a in proposed} and not result.cycle.not_sent
    assert len(result.applied) == len(proposed)
    for update, rec in zip(result.applied, proposed, strict=True):
        assert rec.bounded is not None and update.new == rec.bounded.bounded != rec.bounded.current
        assert update.update_id == 1  # each asset's first update
        assert update.report_hash == "0x" + hashlib.sha256(manifest.read_bytes()).hexdigest()
    journal = Journal(tmp_path / "demo-journal.sqlite")
    assert [c.status for c in journal.cycles()] == ["done"]
    assert sorted(a.symbol for a in journal.attempts() if a.status == "mined") == sorted(result.cycle.sent)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_stops_anvil_when_interrupted(tmp_path: Path, sig: signal.Signals) -> None:
    cli = Path(sys.executable).with_name("risk-oracle")
    proc = subprocess.Popen(
        [str(cli), "demo", "--positions", "2000", "--reports-dir", str(tmp_path)],
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
