"""`risk-oracle demo` end to end through its console script: a real anvil, deployment, seeding, one bounded
update whose record's hash is the one on chain."""

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


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    cli = Path(sys.executable).with_name("risk-oracle")
    proc = subprocess.run(
        [str(cli), "demo", "--positions", "40", "--reports-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={"COLUMNS": "120", "PATH": "/usr/bin:/bin"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "WETH risk parameters" in proc.stdout and "anvil stopped" in proc.stdout
    (demo_json,) = tmp_path.glob("31337/*/demo.json")
    result = DemoResult.model_validate(json.loads(demo_json.read_text()))
    assert result.seeded.positions == 40
    assert result.applied.new == result.bounded.bounded != result.bounded.current
    assert result.applied.update_id == 1
    update_json = demo_json.with_name("update.json")
    assert result.applied.report_hash == "0x" + hashlib.sha256(update_json.read_bytes()).hexdigest()
    bindings = {c.param.label: c.binding for c in result.bounded.clamps}
    assert bindings == {"LTV": "max_decrease", "LT": "max_decrease", "LB": "none"}


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_demo_stops_anvil_when_interrupted(tmp_path: Path, sig: signal.Signals) -> None:
    cli = Path(sys.executable).with_name("risk-oracle")
    proc = subprocess.Popen(
        [str(cli), "demo", "--positions", "2000", "--reports-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
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
