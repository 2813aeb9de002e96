"""Reports of real keeper cycles on anvil: complete directories, byte-identical re-renders, ``verify`` against the
chain (and its failures on tampering or a hash that is not on chain), re-rendering from the journal, and the HTML
in a real headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner
from web3 import Web3

from oracle.chain.tx import TxSender, contract_at
from oracle.cli import app
from oracle.devnet.anvil import AnvilNode
from oracle.devnet.deploy import Deployment
from oracle.domain.policy import Policy
from oracle.execution.journal import Journal
from oracle.keeper import CycleResult
from oracle.models.volatility import FEATURES
from oracle.report.render import MANIFEST, SEAL, Seal, render_directory, render_files
from oracle.report.schema import Report
from oracle.report.verify import verify_directory
from tests.support.browser import open_report
from tests.support.keeper import build_keeper

pytestmark = pytest.mark.anvil

SCREENSHOTS = Path(__file__).parents[1] / "test-output"


@dataclass
class Cycles:
    journal: Journal
    reports: Path
    dry: CycleResult
    live: CycleResult
    liquidated_weth: int


def _crash_and_liquidate(w3: Web3, d: Deployment, owner: TxSender, symbol: str, positions: list[str]) -> int:
    """Drop ``symbol``'s feed by 25 % and liquidate every position that became liquidatable; returns how many."""
    asset = next(a for a in d.assets if a.symbol == symbol)
    feed = contract_at(w3, "PriceFeed", asset.feed)
    (_, answer, *_rest) = feed.functions.latestRoundData().call()
    owner.transact(feed.functions.updateAnswer(answer * 3 // 4))
    market, stable = d.market_contract(w3), contract_at(w3, "TestToken", d.stable)
    budget = 10**12 * 10**d.stable_decimals
    owner.transact(stable.functions.mint(owner.address, budget))
    owner.transact(stable.functions.approve(d.market, budget))
    liquidated = 0
    for account in positions:
        if market.functions.healthFactor(account).call() < 10**18:
            owner.transact(market.functions.liquidate(account, asset.token, budget))
            liquidated += 1
    return liquidated


@pytest.fixture(scope="module")
def cycles(
    w3: Web3, seeded: Deployment, policy: Policy, owner: TxSender, tmp_path_factory: pytest.TempPathFactory
) -> Cycles:
    """A dry-run cycle; then WETH falls 25 % and the positions it breaks are liquidated; then a live cycle, which
    explains the change since the first and lists the first's recommendations with the liquidations since."""
    root = tmp_path_factory.mktemp("reports")
    journal = Journal(root / "journal.sqlite")
    keeper = build_keeper(w3, seeded, policy, journal, root / "reports")
    dry = keeper.run_cycle(dry_run=True)
    assert dry.report_dir is not None
    borrowers = [p.account for p in _report(dry.report_dir).inputs.snapshot.positions if p.debt > 0]
    liquidated = _crash_and_liquidate(w3, seeded, owner, "WETH", borrowers)
    assert liquidated > 0
    live = keeper.run_cycle(dry_run=False)
    assert dry.status == "done" and live.status == "done" and live.sent, (dry, live)
    return Cycles(journal, root / "reports", dry, live, liquidated)


def _report(directory: Path) -> Report:
    return Report.model_validate_json((directory / "report.json").read_bytes())


def test_a_cycle_writes_a_complete_report(cycles: Cycles) -> None:
    assert cycles.live.report_dir is not None
    directory = cycles.live.report_dir
    report = _report(directory)
    assets = [a.asset for a in report.recommendation.assets]
    names = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    assert names == {
        "report.json",
        "report.md",
        "report.html",
        MANIFEST,
        SEAL,
        "charts/risk.png",
        "charts/cross_asset.png",
        "charts/vol.png",
        *(f"charts/shap_{k}_{a}.png" for k, a in enumerate(assets)),
    }
    assert report.dry_run is False and report.cycle_id == cycles.live.cycle_id
    seal = Seal.model_validate_json((directory / SEAL).read_text())
    assert seal.report_hash == cycles.live.report_hash and seal.transactions == cycles.live.sent
    md = (directory / "report.md").read_text()
    for section in (
        "## Summary",
        "## Changes",
        "## Risk impact",
        "## Why: SHAP attributions per asset",
        "## Across assets",
        "## Forecast vs realised volatility",
        "## Inputs and freshness",
        "## Robustness",
        "## Model card",
        "## Past recommendations vs what happened",
    ):
        assert section in md
    assert cycles.live.report_hash in md and all(tx in md for tx in cycles.live.sent.values())
    assert report.inputs.model is not None and report.inputs.model.inputs == list(FEATURES)
    assert "Inputs: " + ", ".join(FEATURES) + "; 3 network(s)" in md  # the model card says what the model reads
    # the second cycle explains the change since the first, and lists the first's recommendations with outcomes
    assert all(a.since_last is not None for a in report.recommendation.assets)
    assert {o.past.cycle_id for o in report.outcomes} == {cycles.dry.cycle_id}
    since = {o.past.asset: o.past.liquidations_since for o in report.outcomes}
    assert since == {a.asset: cycles.liquidated_weth if a.asset == "WETH" else 0 for a in report.recommendation.assets}
    assert report.robustness.max_second_gap_bps < 1.0 and report.robustness.max_additivity_error_bps < 1e-6
    dry_md = (cycles.dry.report_dir / "report.md").read_text()  # type: ignore[operator]
    assert "DRY RUN, nothing was sent" in dry_md


def test_two_renders_of_the_same_report_are_byte_identical(cycles: Cycles, tmp_path: Path) -> None:
    directory = cycles.live.report_dir
    assert directory is not None
    report = _report(directory)
    seal = Seal.model_validate_json((directory / SEAL).read_text())
    first, second = render_files(report, seal), render_files(report, seal)
    assert first == second
    assert render_directory(report, tmp_path / "again", seal) == cycles.live.report_hash
    for name in [*first, MANIFEST, SEAL]:
        assert (tmp_path / "again" / name).read_bytes() == (directory / name).read_bytes(), name


def test_verify_passes_on_the_live_report_and_finds_its_hash_on_chain(cycles: Cycles, anvil: AnvilNode) -> None:
    assert cycles.live.report_dir is not None
    result = verify_directory(cycles.live.report_dir, anvil.url)
    assert result.passed, result.checks
    assert {c.name for c in result.checks} >= {
        "files",
        "seal",
        "render",
        "forecasts",
        "recommendation",
        "report",
        "chain",
    }
    chain = next(c for c in result.checks if c.name == "chain")
    assert f"{len(cycles.live.sent)} ParametersUpdated" in chain.detail


def _flip(path: Path, at: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if at is None else at
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_catches_a_changed_byte_in_any_file(cycles: Cycles, tmp_path: Path, anvil: AnvilNode) -> None:
    source = cycles.live.report_dir
    assert source is not None
    names = sorted(p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file())
    for name in names:
        copy = tmp_path / name.replace("/", "_")
        shutil.copytree(source, copy)
        _flip(copy / name)
        result = verify_directory(copy, anvil.url, rerun=False)
        assert not result.passed, f"a changed byte in {name} went unnoticed"
    # inside the seal block of the Markdown: the hash check ignores it, the seal check must not
    copy = tmp_path / "seal_block"
    shutil.copytree(source, copy)
    md = copy / "report.md"
    text = md.read_text()
    real = cycles.live.report_hash
    assert real is not None
    md.write_text(text.replace(real, real[:-1] + ("1" if real[-1] != "1" else "2")))
    assert text != md.read_text()
    assert not verify_directory(copy, anvil.url).passed


def test_verify_rejects_a_live_report_whose_hash_is_not_on_chain(
    cycles: Cycles, tmp_path: Path, anvil: AnvilNode
) -> None:
    assert cycles.dry.report_dir is not None
    dry = verify_directory(cycles.dry.report_dir, anvil.url)
    assert dry.passed, dry.checks  # a dry run: nothing expected on chain
    claimed = _report(cycles.dry.report_dir).model_copy(update={"dry_run": False})
    assert any(a.proposed for a in claimed.recommendation.assets)
    report_hash = render_directory(claimed, tmp_path / "claimed", None)
    render_directory(claimed, tmp_path / "claimed", Seal(report_hash=report_hash, dry_run=False))
    result = verify_directory(tmp_path / "claimed", anvil.url, rerun=False)
    chain = next(c for c in result.checks if c.name == "chain")
    assert not result.passed and not chain.passed and "not on chain" in chain.detail
    assert all(c.passed for c in result.checks if c.name != "chain")  # the files themselves are consistent


def test_report_command_rerenders_a_cycle_from_the_journal(cycles: Cycles, tmp_path: Path) -> None:
    assert cycles.live.report_dir is not None
    out = tmp_path / "rerendered"
    run = CliRunner().invoke(
        app, ["report", "--cycle", str(cycles.live.cycle_id), "--journal", str(cycles.journal.path), "--out", str(out)]
    )
    assert run.exit_code == 0, run.output
    original = cycles.live.report_dir
    for path in original.rglob("*"):
        if path.is_file():
            assert (out / path.relative_to(original)).read_bytes() == path.read_bytes(), path
    missing = CliRunner().invoke(app, ["report", "--cycle", "999", "--journal", str(cycles.journal.path)])
    assert missing.exit_code == 2 and "no cycle #999" in missing.output


def test_verify_command_exit_codes(cycles: Cycles, tmp_path: Path, anvil: AnvilNode) -> None:
    assert cycles.live.report_dir is not None
    ok = CliRunner().invoke(app, ["verify", str(cycles.live.report_dir), "--rpc", anvil.url])
    assert ok.exit_code == 0 and "verified" in ok.output, ok.output
    copy = tmp_path / "tampered"
    shutil.copytree(cycles.live.report_dir, copy)
    _flip(copy / "charts" / "risk.png")
    bad = CliRunner().invoke(app, ["verify", str(copy)])
    assert bad.exit_code == 1 and "charts/risk.png changed" in bad.output, bad.output


def test_the_html_report_renders_in_headless_chromium(cycles: Cycles) -> None:
    assert cycles.live.report_dir is not None
    SCREENSHOTS.mkdir(exist_ok=True)
    shot = SCREENSHOTS / "report.png"
    page = open_report(cycles.live.report_dir / "report.html", shot)
    assert page.errors == [] and page.console == [], (page.errors, page.console)
    assert page.images == len(_report(cycles.live.report_dir).recommendation.assets) + 3
    assert page.broken_images == []
    assert page.title.startswith("Risk-parameter report") and "Summary" in page.headings
    assert shot.stat().st_size > 50_000


def test_a_cycle_is_analysed_once_and_the_report_only_formats_it(
    cycles: Cycles, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pipeline builds each asset's candles and forecast track once and runs the cascade once per parameter
    set (current, each gated update, each LTV cut gated alone after its whole update failed, all proposed updates);
    building the report from the analysis runs none. The manipulation guard builds candles (and forecasts) again
    only for an asset whose feed shows a jump: here none (WETH's 25 % fall is one round of x1/0.75 = x1.33 against
    the policy's x1.35), so the counts are as without it."""
    import oracle.pipeline as pipeline
    import oracle.risk.gate as gate
    from oracle.keeper import load_forecaster
    from oracle.report.build import build_report

    assert cycles.live.report_dir is not None
    report = _report(cycles.live.report_dir)
    inputs = report.inputs
    calls = {"candles": 0, "tracks": 0, "cascade": 0, "ltv_alone": 0}

    def counted(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return fn(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(pipeline, "daily_candles", counted("candles", pipeline.daily_candles))
    monkeypatch.setattr(pipeline, "recent_forecasts", counted("tracks", pipeline.recent_forecasts))
    monkeypatch.setattr(pipeline, "run_cascade", counted("cascade", pipeline.run_cascade))
    monkeypatch.setattr(gate, "run_cascade", counted("cascade", gate.run_cascade))
    ltv_cut_only = pipeline.ltv_cut_only

    def alone(*args: Any, **kwargs: Any) -> Any:
        update = ltv_cut_only(*args, **kwargs)
        calls["ltv_alone"] += update is not None and bool(update.changes)  # gated once more
        return update

    monkeypatch.setattr(pipeline, "ltv_cut_only", alone)
    model, _card = load_forecaster()
    analysis = pipeline.analyse(
        inputs.snapshot, inputs.policy, inputs.calibration, model, inputs.previous, robustness=True
    )
    assets = len(inputs.snapshot.assets)
    gated = sum(1 for a in analysis.recommendation.assets if a.gate is not None)
    assert analysis.confirmed is not None and analysis.confirmed.jumped == ()
    assert calls["candles"] == assets + len(analysis.confirmed.jumped) and calls["tracks"] == assets
    assert calls["cascade"] == 1 + gated + calls["ltv_alone"] + (1 if analysis.applied else 0)
    assert analysis.recommendation == report.recommendation  # the same numbers the keeper published

    before = dict(calls)
    rebuilt = build_report(analysis, inputs, cycle_id=report.cycle_id, dry_run=report.dry_run)
    assert calls == before, "building the report must not compute any part of the analysis again"
    assert rebuilt.risk == report.risk and rebuilt.vol_tracks == report.vol_tracks
