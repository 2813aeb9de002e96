"""`risk-oracle demo` end to end through its console script: a real anvil, deployment, seeding, one bounded
update whose record's hash is the one on chain."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

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
