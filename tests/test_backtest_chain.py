"""A backtest on real anvil nodes through the real contracts: what the market records is what the result says,
the strategies share their book and paths, the Ray grid equals the serial run, and a finished grid resumes.

Small on purpose (one day, 2022-06-13, the 3AC crash day, 60 positions): the figures that matter come from
``benchmarks/bench_backtest.py``; this checks the instrument.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oracle.backtest.grid import GridSpec, run_grid
from oracle.backtest.report import BacktestReport, write_backtest
from oracle.backtest.run import AAVE_V3_PARAMS, TaskResult
from oracle.backtest.windows import parse_window
from oracle.config import DEFAULT_POLICY, load_policy

pytestmark = [pytest.mark.anvil, pytest.mark.xdist_group("backtest")]

POLICY = load_policy(DEFAULT_POLICY)
CRASH_DAY = parse_window("2022-06-13:2022-06-13")[0]
SPEC = GridSpec(windows=(CRASH_DAY,), strategies=("static", "oracle"), seeds=(1, 2), positions=60)


def _outcome(r: TaskResult) -> dict[str, object]:
    """Everything of a result but its timings."""
    return r.model_dump(exclude={"runtime_s", "keeper_s"})


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[TaskResult]]:
    out = tmp_path_factory.mktemp("serial")
    return out, run_grid(SPEC, POLICY, out, serial=True)


def test_the_crash_day_liquidates_through_the_contract(serial: tuple[Path, list[TaskResult]]) -> None:
    _, results = serial
    for r in results:
        m = r.metrics
        assert r.steps == 25 and len(r.times) == 25 and r.times[1] - r.times[0] == 3600
        assert m.liquidations > 0 and m.liquidated_collateral_usd > 0 and m.reverted_liquidations == 0
        assert m.penalties_usd > 0
        assert r.liquidated_cum_usd[-1] == pytest.approx(m.liquidated_collateral_usd)
        assert m.bad_debt_usd >= m.bad_debt_recorded_usd == r.bad_debt_cum_usd[-1] >= 0
        assert m.borrower_transactions > 0 and m.refused_borrows == 0  # active borrowers returned to their targets
        assert all(a.market_usd[-1] < a.market_usd[0] for a in r.assets.values())  # the day fell
    static = [r for r in results if r.spec.strategy == "static"]
    assert all(r.metrics.updates_sent == 0 and r.metrics.keeper_cycles == 0 for r in static)
    assert all(len(set(a.lt)) == 1 for r in static for a in r.assets.values())  # nothing moved the parameters
    oracle = [r for r in results if r.spec.strategy == "oracle"]
    assert all(r.metrics.keeper_cycles == 1 and r.metrics.keeper_failed_cycles == 0 for r in oracle)


def test_strategies_share_the_book_and_the_paths(serial: tuple[Path, list[TaskResult]]) -> None:
    _, results = serial
    by = {(r.spec.strategy, r.spec.seed): r for r in results}
    for seed in SPEC.seeds:
        a, b = by["static", seed], by["oracle", seed]
        assert a.metrics.initial_debt_usd == b.metrics.initial_debt_usd  # same draws, same starting parameters
        for s in a.assets:
            assert a.assets[s].market_usd == b.assets[s].market_usd and a.assets[s].feed_usd == b.assets[s].feed_usd
    assert by["static", 1].metrics.initial_debt_usd != by["static", 2].metrics.initial_debt_usd


def test_a_ray_grid_equals_the_serial_run(serial: tuple[Path, list[TaskResult]], tmp_path: Path) -> None:
    _, expected = serial
    on_ray = run_grid(SPEC, POLICY, tmp_path)
    assert [_outcome(r) for r in on_ray] == [_outcome(r) for r in expected]


def test_a_finished_grid_resumes_without_running_again(serial: tuple[Path, list[TaskResult]]) -> None:
    out, expected = serial
    files = sorted((out / "tasks").glob("*.json"))
    assert len(files) == len(SPEC.tasks())
    stamps = [f.stat().st_mtime_ns for f in files]
    seen: list[tuple[int, int]] = []
    again = run_grid(SPEC, POLICY, out, serial=True, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(4, 4)] and [f.stat().st_mtime_ns for f in files] == stamps
    assert [_outcome(r) for r in again] == [_outcome(r) for r in expected]


def test_static_aave_runs_aave_v3s_parameters(tmp_path: Path) -> None:
    spec = GridSpec(windows=(CRASH_DAY,), strategies=("static-aave",), seeds=(1,), positions=30)
    (result,) = run_grid(spec, POLICY, tmp_path, serial=True)
    for symbol, track in result.assets.items():
        p = AAVE_V3_PARAMS[symbol]
        assert {*track.ltv, *track.lt, *track.lb} == {p.ltv, p.liquidation_threshold, p.liquidation_bonus}


def test_the_report_files_are_written(serial: tuple[Path, list[TaskResult]], tmp_path: Path) -> None:
    _, results = serial
    report = write_backtest(tmp_path, SPEC, results, policy=POLICY.name, data="embedded", runtime_s=1.0)
    for name in ("backtest.json", "backtest.schema.json", "backtest.md", "backtest.html", "charts/frontier.png"):
        assert (tmp_path / name).is_file(), name
    assert BacktestReport.model_validate_json((tmp_path / "backtest.json").read_text()) == report
    assert [(r.window, r.strategy) for r in report.summary] == [(CRASH_DAY.name, "static"), (CRASH_DAY.name, "oracle")]
    md = (tmp_path / "backtest.md").read_text()
    assert "| window | strategy | bad debt |" in md and "oracle" in md
    assert "<script" not in (tmp_path / "backtest.html").read_text()


def test_no_active_borrowers_leave_the_book_to_the_liquidators(tmp_path: Path) -> None:
    spec = GridSpec(windows=(CRASH_DAY,), strategies=("static",), seeds=(1,), positions=30, active_borrowers=0.0)
    (result,) = run_grid(spec, POLICY, tmp_path, serial=True)
    assert result.metrics.borrower_transactions == 0 and result.metrics.borrowed_usd == 0
    assert result.debt_usd[-1] < result.debt_usd[0]  # only liquidations moved the debt: down


def test_oracle_ewma_runs_the_keeper_without_the_model(tmp_path: Path) -> None:
    spec = GridSpec(windows=(CRASH_DAY,), strategies=("oracle-ewma",), seeds=(1,), positions=30)
    (result,) = run_grid(spec, POLICY, tmp_path, serial=True)
    assert result.metrics.keeper_cycles == 1 and result.metrics.keeper_failed_cycles == 0
    (path,) = (tmp_path / "work").glob("*/reports/*/*/report.json")
    report = json.loads(path.read_text())
    forecasts = report["inputs"]["forecasts"]
    assert report["model_sha256"] is None
    assert len(forecasts) == 4 and all(f["source"] == "ewma-fallback" for f in forecasts)
