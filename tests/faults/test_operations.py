"""The keeper as a careless or malicious operator meets it, against a real anvil: a wrong key, a wrong chain, a
token symbol that is markup or a path, a renamed token, sealed reports that must never be replaced, a second
keeper on the same journal, a node that dies while sending."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from eth_account import Account
from typer.testing import CliRunner
from web3 import Web3

from oracle.app import MarketAddresses
from oracle.app import build_keeper as build_app_keeper
from oracle.chain.rpc import make_web3
from oracle.cli import app
from oracle.devnet.anvil import ANVIL_GUARDIAN_KEY, ANVIL_KEEPER_KEY, AnvilNode
from oracle.devnet.deploy import Deployment
from oracle.devnet.storage import hex_word, variable_slot
from oracle.domain.policy import Policy
from oracle.errors import JournalLockedError, ReportExistsError, SetupError
from oracle.execution.journal import Journal
from oracle.execution.lock import journal_lock, keeper_lock
from oracle.execution.submit import FeePolicy
from oracle.report.render import MANIFEST, SEAL, Seal
from oracle.report.verify import verify_directory
from tests.support.keeper import build_keeper
from tests.support.rpc_proxy import RpcProxy

pytestmark = pytest.mark.anvil

HOSTILE = "<i>L</i><svg/onload=alert(1)>"  # 29 bytes: markup, a script handler and a path separator


def _set_symbol(w3: Web3, token: str, symbol: str) -> None:
    """Rewrite an OpenZeppelin ERC20's ``_symbol`` in storage (a short string: bytes left-aligned, length x 2 in the
    last byte), as whoever controls a token's code could."""
    data = symbol.encode()
    assert len(data) < 32
    word = int.from_bytes(data.ljust(31, b"\0") + bytes([2 * len(data)]), "big")
    slot = variable_slot("TestToken", "_symbol")
    w3.provider.make_request("anvil_setStorageAt", [token, hex_word(slot), hex_word(word)])  # type: ignore[arg-type]  # anvil RPC
    assert w3.eth.contract(address=Web3.to_checksum_address(token), abi=_SYMBOL_ABI).functions.symbol().call() == symbol


_SYMBOL_ABI = [
    {"name": "symbol", "type": "function", "stateMutability": "view", "inputs": [], "outputs": [{"type": "string"}]}
]


def _knowing(policy: Policy, old: str, new: str) -> Policy:
    """``policy`` with the pool depth (and the feed, in ``[risk.liquidators]``) of ``old`` known under the symbol
    ``new`` too."""
    depth = {**policy.risk.depth_usd, new: policy.risk.depth_usd[old]}
    risk = policy.risk.model_copy(update={"depth_usd": depth})
    behaviour = policy.risk.liquidators
    if behaviour is not None:
        feeds = {
            "feed_deviation": {**behaviour.feed_deviation, new: behaviour.feed_deviation[old]},
            "feed_heartbeat_s": {**behaviour.feed_heartbeat_s, new: behaviour.feed_heartbeat_s[old]},
        }
        risk = risk.model_copy(update={"liquidators": behaviour.model_copy(update=feeds)})
    return policy.model_copy(update={"risk": risk})


def _deployment_file(d: Deployment, tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "deployment.json"
    path.write_text(d.model_copy(update=changes).model_dump_json())
    return path


def _cli_env(anvil: AnvilNode, tmp_path: Path, key: str | None) -> dict[str, str]:
    env = {"ORACLE_RPC_URL": anvil.url, "ORACLE_JOURNAL": str(tmp_path / "journal.sqlite"), "COLUMNS": "250"}
    env["ORACLE_REPORTS_DIR"] = str(tmp_path / "reports")
    if key is not None:
        env["ORACLE_KEEPER_KEY"] = key
    return env


# ----------------------------------------------------------------------------------------------- setup checks
def test_a_key_that_is_not_the_governors_keeper_stops_a_live_cycle_before_anything(
    anvil: AnvilNode, seeded: Deployment, tmp_path: Path, clean_chain: None
) -> None:
    deployment = _deployment_file(seeded, tmp_path)
    run = CliRunner().invoke(
        app,
        ["cycle", "--live", "--deployment", str(deployment)],
        env=_cli_env(anvil, tmp_path, ANVIL_GUARDIAN_KEY),
    )
    print(run.output)
    assert run.exit_code == 2, run.output
    guardian = Account.from_key(ANVIL_GUARDIAN_KEY).address
    assert "error:" in run.output and f"keeper key's address {guardian} is not the governor's keeper" in run.output
    assert "Traceback" not in run.output
    journal = Journal(tmp_path / "journal.sqlite")
    assert journal.cycles() == [] and journal.attempts() == []  # nothing started, nothing signed


def test_a_deployment_of_another_chain_is_refused(anvil: AnvilNode, seeded: Deployment, tmp_path: Path) -> None:
    deployment = _deployment_file(seeded, tmp_path, chain_id=1)
    run = CliRunner().invoke(
        app, ["cycle", "--deployment", str(deployment)], env=_cli_env(anvil, tmp_path, ANVIL_KEEPER_KEY)
    )
    assert run.exit_code == 2 and "the node is chain 31337, the deployment is on chain 1" in run.output, run.output


def test_a_market_whose_risk_admin_is_not_the_governor_is_refused(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, clean_chain: None
) -> None:
    market = seeded.market_contract(w3)
    owner = Web3.to_checksum_address(seeded.owner)
    w3.provider.make_request("anvil_impersonateAccount", [owner])  # type: ignore[arg-type]  # anvil RPC
    stranger = Account.from_key(ANVIL_GUARDIAN_KEY).address
    w3.eth.wait_for_transaction_receipt(market.functions.setRiskAdmin(stranger).transact({"from": owner}))
    keeper = build_keeper(w3, seeded, policy, journal, tmp_path / "reports")
    with pytest.raises(SetupError, match=f"the market's risk admin is {stranger}, not the governor"):
        keeper.check_setup(live=False)
    result = keeper.run_cycle(dry_run=False)
    assert result.status == "failed" and result.error == "SetupError" and journal.attempts() == []


def test_one_live_keeper_per_key_across_journals(tmp_path: Path) -> None:
    os.environ.setdefault("ORACLE_LOCK_DIR", str(tmp_path / "locks"))
    address = Account.from_key(ANVIL_KEEPER_KEY).address
    with keeper_lock(31337, address):
        with pytest.raises(JournalLockedError, match=f"keeper {address} on chain 31337 is in use by process"):
            keeper_lock(31337, address).acquire()
        with keeper_lock(1, address):  # the same key on another chain has its own nonces
            pass


def test_a_keeper_rotated_away_mid_run_fails_the_cycle_reds_health_and_sends_nothing(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, clean_chain: None
) -> None:
    from oracle.daemon import KeeperMetrics, serve_metrics

    keeper = build_keeper(w3, seeded, policy, journal, tmp_path / "reports")
    governor = seeded.governor_contract(w3)
    owner = Web3.to_checksum_address(seeded.owner)
    w3.provider.make_request("anvil_impersonateAccount", [owner])  # type: ignore[arg-type]  # anvil RPC
    tx = governor.functions.setKeeper(Account.from_key(ANVIL_GUARDIAN_KEY).address).transact({"from": owner})
    w3.eth.wait_for_transaction_receipt(tx)
    result = keeper.run_cycle(dry_run=False)
    assert result.status == "failed" and result.error == "SetupError" and "not the governor's keeper" in result.detail
    assert journal.attempts() == [] and result.report_dir is None
    metrics = KeeperMetrics()
    metrics.last_success.set(time.time())  # even right after a success, a broken setup is unhealthy
    metrics.observe(result, 1.0, 0)
    assert metrics.setup_ok._value.get() == 0
    server = serve_metrics(metrics, 0, 60)
    try:
        health = requests.get(f"http://127.0.0.1:{server.server_address[1]}/healthz", timeout=10)
    finally:
        server.shutdown()
    assert health.status_code == 503 and health.json()["setup_ok"] is False
    assert journal.cycle(result.cycle_id).status == "failed"  # type: ignore[union-attr]  # the cycle exists


def test_a_live_cycle_whose_updates_revert_ends_failed_and_its_seal_says_why(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, clean_chain: None
) -> None:
    """The setup passes, but the governor is paused between the snapshot and the send: every simulation reverts.
    The cycle must end failed (not done) and the sealed report must list what was not sent and why."""
    keeper = build_keeper(w3, seeded, policy, journal, tmp_path / "reports")
    submitter = keeper.submitter
    assert submitter is not None
    real_reconcile = submitter.reconcile

    def pause_then_reconcile() -> list:  # type: ignore[type-arg]  # the submitter's own return type
        guardian = Account.from_key(ANVIL_GUARDIAN_KEY)
        governor = seeded.governor_contract(w3)
        w3.eth.wait_for_transaction_receipt(governor.functions.pause().transact({"from": guardian.address}))
        return real_reconcile()

    w3.provider.make_request("anvil_impersonateAccount", [Account.from_key(ANVIL_GUARDIAN_KEY).address])  # type: ignore[arg-type]  # anvil RPC
    submitter.reconcile = pause_then_reconcile  # type: ignore[method-assign]  # a real pause, at the worst moment
    result = keeper.run_cycle(dry_run=False)
    assert result.status == "failed" and result.sent == {} and result.send_errors, result
    assert all("reverted" in why for why in result.not_sent.values()), result.not_sent
    assert result.report_dir is not None
    seal = Seal.model_validate_json((result.report_dir / SEAL).read_text())
    assert seal.not_sent == result.not_sent and seal.transactions == {}
    html = (result.report_dir / "report.html").read_text()
    assert "<b>Not sent</b>" in html and "simulation reverted: GovernorPaused" in html
    assert verify_directory(result.report_dir).passed


# ----------------------------------------------------------------------------------------------- hostile strings
def test_a_hostile_symbol_is_escaped_in_the_report_and_cannot_make_a_path(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, clean_chain: None
) -> None:
    link = seeded.asset("LINK").token
    _set_symbol(w3, link, HOSTILE)
    keeper = build_keeper(w3, seeded, policy, journal, tmp_path / "reports", live=False)
    keeper.policy = _knowing(policy, "LINK", HOSTILE)  # a policy that lists it under that symbol
    result = keeper.run_cycle()
    assert result.status == "done" and result.report_dir is not None, result.detail
    html = (result.report_dir / "report.html").read_text()
    line = next(x for x in html.splitlines() if "&lt;i&gt;L&lt;/i&gt;" in x)
    print("hostile-symbol line of report.html:", line)
    assert HOSTILE not in html and "<svg" not in html and "<i>L</i>" not in html
    markdown = (result.report_dir / "report.md").read_text()
    assert HOSTILE not in markdown and "&lt;svg/onload=alert(1)&gt;" in markdown
    charts = result.report_dir / "charts"
    assert all(p.is_file() and p.parent == charts for p in charts.rglob("*")), sorted(charts.rglob("*"))
    assert (charts / "shap_2__i_L_i_svg_onload_alert_1_.png").is_file()
    assert verify_directory(result.report_dir).passed


def test_a_renamed_token_is_the_same_asset_to_the_next_cycle(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, clean_chain: None
) -> None:
    keeper = build_keeper(w3, seeded, policy, journal, tmp_path / "reports", live=False)
    first = keeper.run_cycle()
    assert first.status == "done"
    _set_symbol(w3, seeded.asset("LINK").token, "LINK.v2")
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]  # anvil RPC: a later block
    unknown = keeper.run_cycle()  # the policy does not know the new symbol: a clear failure, nothing else
    assert unknown.status == "failed" and unknown.error == "PolicyError", unknown.detail
    assert f"{seeded.asset('LINK').token} (symbol 'LINK.v2' on chain)" in unknown.detail.replace(
        Web3.to_checksum_address(seeded.asset("LINK").token), seeded.asset("LINK").token
    )
    keeper.policy = _knowing(policy, "LINK", seeded.asset("LINK").token)  # keyed by token address
    second = keeper.run_cycle()
    assert second.status == "done" and second.recommendation is not None, second.detail
    renamed = second.recommendation.asset("LINK.v2")
    assert renamed.since_last is not None  # matched to the first cycle's LINK by address
    assert second.report_dir is not None
    report = json.loads((second.report_dir / "report.json").read_text())
    assert {p["asset"] for p in report["inputs"]["past"]} >= {"LINK.v2"}


# ----------------------------------------------------------------------------------------------- sealed reports
def test_report_directories_are_per_cycle_and_a_taken_name_is_never_replaced(
    w3: Web3, seeded: Deployment, policy: Policy, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    first_journal = Journal(tmp_path / "a.sqlite")
    first = build_keeper(w3, seeded, policy, first_journal, reports, live=False).run_cycle()
    assert first.report_dir == reports / "31337" / f"{first.block}-{first.cycle_id}"
    taken = {p: p.read_bytes() for p in first.report_dir.rglob("*") if p.is_file()}
    # another journal, its cycle 1 at the same block: the same directory name
    second = build_keeper(w3, seeded, policy, Journal(tmp_path / "b.sqlite"), reports, live=False).run_cycle()
    assert second.status == "done" and second.block == first.block and second.cycle_id == first.cycle_id
    assert second.report_dir is not None and second.report_dir != first.report_dir
    assert second.report_dir.name.startswith(first.report_dir.name + "-")
    assert {p: p.read_bytes() for p in first.report_dir.rglob("*") if p.is_file()} == taken
    assert verify_directory(second.report_dir).passed and verify_directory(first.report_dir).passed


def test_report_cycle_restores_its_own_sealed_directory_and_refuses_another(
    w3: Web3, seeded: Deployment, policy: Policy, tmp_path: Path, clean_chain: None
) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    keeper = build_keeper(w3, seeded, policy, journal, tmp_path / "reports")
    dry = keeper.run_cycle(dry_run=True)
    live = keeper.run_cycle(dry_run=False)
    assert live.status == "done" and live.sent and live.report_dir is not None and dry.report_dir is not None
    sealed = {p: p.read_bytes() for p in live.report_dir.rglob("*") if p.is_file()}
    (live.report_dir / "report.html").write_text("edited")
    runner = CliRunner()
    args = ["report", "--journal", str(journal.path)]
    wide = {"COLUMNS": "250"}
    again = runner.invoke(app, [*args, "--cycle", str(live.cycle_id)], env=wide)
    assert again.exit_code == 0 and str(live.report_dir) in "".join(again.output.split()), again.output
    assert {p: p.read_bytes() for p in live.report_dir.rglob("*") if p.is_file()} == sealed  # restored, same bytes
    over = runner.invoke(app, [*args, "--cycle", str(dry.cycle_id), "--out", str(live.report_dir)], env=wide)
    print("report --cycle onto a sealed directory:", over.output)
    said = " ".join(over.output.split())
    assert over.exit_code == 2 and "holds another report (sealed" in said and "--out" in said, over.output
    assert {p: p.read_bytes() for p in live.report_dir.rglob("*") if p.is_file()} == sealed
    assert (live.report_dir / MANIFEST).is_file()


def test_write_report_refuses_an_existing_directory_even_for_the_same_report(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path
) -> None:
    from oracle.report.render import write_report
    from oracle.report.schema import Report

    result = build_keeper(w3, seeded, policy, journal, tmp_path / "reports", live=False).run_cycle()
    assert result.report_dir is not None
    report = Report.model_validate_json((result.report_dir / "report.json").read_text())
    with pytest.raises(ReportExistsError, match="never replaced"):
        write_report(report, result.report_dir)
    assert not list(result.report_dir.parent.glob(".*.tmp"))  # no staging directory left behind


# ----------------------------------------------------------------------------------------------- one keeper per journal
def test_a_second_keeper_on_the_same_journal_refuses_to_start(
    anvil: AnvilNode, seeded: Deployment, tmp_path: Path
) -> None:
    deployment = _deployment_file(seeded, tmp_path)
    env = {**os.environ, **_cli_env(anvil, tmp_path, ANVIL_KEEPER_KEY), "PYTHONUNBUFFERED": "1"}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "oracle.cli", "run", "--deployment", str(deployment), "--metrics-port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lock = tmp_path / "journal.sqlite.lock"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (lock.is_file() and lock.read_text()):
            assert daemon.poll() is None, daemon.stdout.read() if daemon.stdout else ""
            time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-m", "oracle.cli", "run", "--deployment", str(deployment), "--metrics-port", "0"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        print("second daemon:", second.stdout, second.stderr)
        assert second.returncode == 2, (second.stdout, second.stderr)
        message = second.stdout + second.stderr
        assert f"journal {tmp_path / 'journal.sqlite'} is in use by process {daemon.pid}" in message
        assert "Traceback" not in message
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)


def test_the_journal_lock_is_released_when_its_holder_dies(tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from oracle.execution.lock import journal_lock, keeper_lock; "
            "held = journal_lock(Path(sys.argv[1])).acquire(); print('held', flush=True); time.sleep(600)",
            str(journal),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(JournalLockedError, match=f"in use by process {holder.pid}"):
        journal_lock(journal).acquire()
    holder.kill()  # kill -9: no clean-up code runs
    holder.wait()
    with journal_lock(journal):
        pass


# ----------------------------------------------------------------------------------------------- a node dying
@pytest.fixture
def proxy(anvil: AnvilNode) -> Iterator[RpcProxy]:
    with RpcProxy(anvil.url) as p:
        yield p


def test_a_node_that_dies_while_sending_is_named_counted_and_loses_nothing(
    w3: Web3, seeded: Deployment, policy: Policy, journal: Journal, tmp_path: Path, proxy: RpcProxy, clean_chain: None
) -> None:
    from oracle.daemon import KeeperMetrics

    through = make_web3(proxy.url, timeout_s=5, attempts=2, backoff_s=0.05)
    keeper = build_app_keeper(
        through,
        MarketAddresses.of(seeded),
        policy,
        journal,
        tmp_path / "reports",
        signer=Account.from_key(ANVIL_KEEPER_KEY),
        fees=FeePolicy(poll_s=0.05),
    )
    submitter = keeper.submitter
    assert submitter is not None
    real_reconcile = submitter.reconcile

    def reconcile_then_die() -> list:  # type: ignore[type-arg]  # the submitter's own return type
        pending = real_reconcile()
        proxy.drop(-1)  # the node goes away after the report is written, before the first update is sent
        return pending

    submitter.reconcile = reconcile_then_die  # type: ignore[method-assign]
    result = keeper.run_cycle(dry_run=False)
    assert result.status == "failed" and result.rpc_errors >= 1 and result.sent == {}, result
    assert result.report_dir is not None and result.send_errors
    assert "RPC failed" in next(iter(result.not_sent.values()))
    metrics = KeeperMetrics()
    metrics.observe(result, 1.0, 0)
    assert metrics.rpc_errors._value.get() >= 1
    assert journal.cycle(result.cycle_id).status == "failed"  # type: ignore[union-attr]
    assert Seal.model_validate_json((result.report_dir / SEAL).read_text()).not_sent == result.not_sent


def test_a_cycle_killed_hard_is_marked_abandoned_by_the_next_cycle_command(
    anvil: AnvilNode, seeded: Deployment, tmp_path: Path
) -> None:
    journal = Journal(tmp_path / "journal.sqlite")
    stale = journal.start_cycle(dry_run=False)  # what `kill -9` during a cycle leaves behind
    journal.close()
    deployment = _deployment_file(seeded, tmp_path)
    run = CliRunner().invoke(
        app, ["cycle", "--deployment", str(deployment)], env=_cli_env(anvil, tmp_path, ANVIL_KEEPER_KEY)
    )
    assert run.exit_code == 0, run.output
    reopened = Journal(tmp_path / "journal.sqlite")
    assert reopened.cycle(stale).status == "abandoned"  # type: ignore[union-attr]
    shutil.rmtree(tmp_path / "reports")
