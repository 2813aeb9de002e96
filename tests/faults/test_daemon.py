"""The daemon: `risk-oracle run` as a real process against anvil (cycles on schedule, /metrics and /healthz, JSON
logs without the key, a clean stop on SIGTERM with every cycle journaled), and a guardian pausing mid-run."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests
from web3 import Web3

from oracle.chain.tx import TxSender
from oracle.daemon import QUIET_LIBRARIES
from oracle.devnet.anvil import ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import Deployment
from oracle.devnet.seed import seed_positions
from oracle.domain.policy import Policy
from oracle.execution.journal import Journal

pytestmark = pytest.mark.anvil


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_daemon_runs_cycles_serves_metrics_and_stops_on_sigterm(
    anvil: AnvilNode, w3: Web3, deployment: Deployment, tmp_path: Path, clean_chain: None
) -> None:
    seed_positions(w3, deployment, 120, method="storage")
    deployment.save(tmp_path / "deployment.json")
    port = _free_port()
    env = {
        **os.environ,
        "ORACLE_KEEPER_KEY": ANVIL_KEEPER_KEY,
        "ORACLE_JOURNAL": str(tmp_path / "j.sqlite"),
        "ORACLE_REPORTS_DIR": str(tmp_path / "reports"),
    }
    cli = Path(sys.executable).with_name("risk-oracle")
    proc = subprocess.Popen(
        [
            str(cli),
            "run",
            "--rpc",
            anvil.url,
            "--deployment",
            str(tmp_path / "deployment.json"),
            "--live",
            "--interval",
            "4",
            "--metrics-port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 150
        metrics = ""
        while time.monotonic() < deadline:
            try:
                metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except (requests.ConnectionError, requests.Timeout):  # not up yet, or busy in a cycle on a loaded CI box
                metrics = ""
            if 'oracle_cycles_total{status="done"} 2.0' in metrics:
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.5)
        assert 'oracle_cycles_total{status="done"} 2.0' in metrics, metrics
        assert "oracle_cycle_duration_seconds_count 2.0" in metrics
        assert 'oracle_updates_total{outcome="sent"}' in metrics and "oracle_gas_spent_wei_total" in metrics
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
        assert health.status_code == 200 and health.json()["healthy"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert {line["message"] for line in lines} >= {"keeper started", "cycle finished", "keeper stopped"}
    chatter = [line for line in lines if line["logger"].split(".")[0] in QUIET_LIBRARIES and line["level"] == "INFO"]
    assert not chatter, chatter[:3]  # shap's explainer internals stay out of the keeper's log
    assert ANVIL_KEEPER_KEY[2:] not in out + err, "the key must never reach the logs"
    journal = Journal(tmp_path / "j.sqlite")
    statuses = [c.status for c in journal.cycles()]
    assert statuses.count("done") >= 2 and "running" not in statuses
    sent = [a for a in journal.attempts() if a.status == "mined"]
    assert sent and len({(a.symbol, a.nonce) for a in sent}) == len(sent)  # each asset sent once, the first cycle
    assert {a.cycle_id for a in sent} == {1}


def test_guardian_pause_mid_run_stops_proposals(
    w3: Web3, deployment: Deployment, tmp_path: Path, guardian: TxSender, policy: Policy, clean_chain: None
) -> None:
    from oracle.daemon import run_daemon
    from tests.support.keeper import build_keeper

    seed_positions(w3, deployment, 120, method="storage")
    journal = Journal(tmp_path / "j.sqlite")
    keeper = build_keeper(w3, deployment, policy, journal, tmp_path / "r")

    def pause_after_first_cycle() -> None:  # the guardian acts while the daemon runs
        deadline = time.monotonic() + 120
        while not any(c.status == "done" for c in journal.cycles()) and time.monotonic() < deadline:
            time.sleep(0.05)
        guardian.transact(deployment.governor_contract(w3).functions.pause())

    pauser = threading.Thread(target=pause_after_first_cycle)
    pauser.start()
    metrics = run_daemon(keeper, interval_s=1, dry_run=False, metrics_port=0, max_cycles=4)
    pauser.join()
    statuses = [c.status for c in journal.cycles()]
    assert statuses[0] == "done" and statuses[-1] == "paused", statuses
    first_paused = statuses.index("paused") + 1
    assert all(a.cycle_id < first_paused for a in journal.attempts()), "nothing sent once paused"
    assert metrics.paused._value.get() == 1
    journal.close()
