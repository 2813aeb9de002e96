"""The backtest's inputs, before any chain runs: windows, the data they need, the feeds' rounds, gas, and every
bad input refused with an error that names it (``check_grid`` runs before the first task)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from oracle.backtest.borrowers import plan_borrowers
from oracle.backtest.grid import GridSpec, check_grid
from oracle.backtest.prices import EMBEDDED_HOURLY, HISTORY_DAYS, feed_rounds, gas_gwei, load_path
from oracle.backtest.run import backtest_policy
from oracle.backtest.windows import CRISES, NAMED, parse_window
from oracle.chain.adapters.base import RawPosition
from oracle.config import DEFAULT_POLICY, load_policy
from oracle.data.demo_prices import DEMO_PRICES
from oracle.errors import ConfigError

POLICY = load_policy(DEFAULT_POLICY)
JUNE = parse_window("2022-06")[0]


def _ticks(prices: list[float], start: datetime = datetime(2022, 6, 1, 1, tzinfo=UTC)) -> pd.Series:
    return pd.Series(prices, index=pd.DatetimeIndex([start + timedelta(hours=i) for i in range(len(prices))]))


def test_windows_parse_names_ranges_and_refuse_the_rest() -> None:
    assert parse_window("crises") == CRISES and len(CRISES) == 7
    assert parse_window("2022-06") == (NAMED["2022-06"],)
    (w,) = parse_window("2022-06-10:2022-06-12")
    assert (w.days, w.hours) == (3, 72)
    for bad in ("2022-06-12:2022-06-10", "2022/06/10:2022-06-12", "june", ""):
        with pytest.raises(ConfigError, match="window"):
            parse_window(bad)


def test_the_embedded_extract_covers_june_2022_hourly_with_its_history() -> None:
    path = load_path("eth", JUNE)
    assert path.resolution == "1h" and len(path.market) == JUNE.hours
    assert path.market.index[0] == pd.Timestamp("2022-06-01T01:00Z")  # the first hour's close, known at its end
    assert len(path.history) == 4 * HISTORY_DAYS  # four rounds per daily candle before the window
    assert path.history[-1][0] < path.market.index[0].to_pydatetime()


def test_a_window_outside_the_data_names_the_asset_and_the_coverage() -> None:
    with pytest.raises(ConfigError, match=r"eth needs 150 days of history before 2021-05-12.*2022-01-01"):
        load_path("eth", NAMED["2021-05"])
    with pytest.raises(ConfigError, match="outside the data"):
        load_path("eth", parse_window("2022-06-20:2022-07-05")[0])


def test_a_missing_price_file_is_named(tmp_path: Path) -> None:
    frame = pd.read_csv(DEMO_PRICES)
    for key in ("eth", "btc", "link"):  # no aave
        frame[frame["asset"] == key].drop(columns="asset").to_csv(tmp_path / f"{key}_usd_1d.csv", index=False)
    shutil.copytree(EMBEDDED_HOURLY / "onchain", tmp_path / "onchain")
    spec = GridSpec(windows=(JUNE,), strategies=("static",), seeds=(1,))
    with pytest.raises(ConfigError, match=r"no price file for 'aave'.*aave_usd_1d.csv"):
        check_grid(spec, POLICY, tmp_path)


def test_daily_data_stands_in_where_a_window_has_no_hourly_candles(tmp_path: Path) -> None:
    frame = pd.read_csv(DEMO_PRICES)
    frame[frame["asset"] == "eth"].drop(columns="asset").to_csv(tmp_path / "eth_usd_1d.csv", index=False)
    path = load_path("eth", JUNE, tmp_path)
    assert path.resolution == "1d" and len(path.market) == 4 * JUNE.days


def test_an_unknown_strategy_is_refused_before_anything_runs() -> None:
    spec = GridSpec(windows=(JUNE,), strategies=("static", "gauntlet-ish"), seeds=(1,))
    with pytest.raises(ConfigError, match="unknown strategy 'gauntlet-ish'"):
        check_grid(spec, POLICY, None)
    with pytest.raises(ConfigError, match="unknown strategy"):
        spec.tasks()


def test_a_policy_without_feed_settings_for_an_asset_is_refused() -> None:
    assert POLICY.risk.liquidators is not None
    liquidators = POLICY.risk.liquidators.model_copy(
        update={"feed_heartbeat_s": {k: v for k, v in POLICY.risk.liquidators.feed_heartbeat_s.items() if k != "LINK"}}
    )
    policy = POLICY.model_copy(update={"risk": POLICY.risk.model_copy(update={"liquidators": liquidators})})
    with pytest.raises(ConfigError, match="feed_heartbeat_s has no entry for LINK"):
        check_grid(GridSpec(windows=(JUNE,), strategies=("static",), seeds=(1,)), policy, None)


def test_feeds_publish_on_deviation_or_heartbeat_and_never_in_a_gap() -> None:
    start = datetime(2022, 6, 1, tzinfo=UTC)
    flat = feed_rounds(_ticks([100.0] * 6), 0.01, 3 * 3600, (start, 100.0))
    assert [t.hour for t, _ in flat] == [3, 6]  # heartbeat only
    moves = feed_rounds(_ticks([100.4, 101.2, 101.0, 99.0]), 0.01, 24 * 3600, (start, 100.0))
    assert [p for _, p in moves] == [101.2, 99.0]  # 0.4 % lags, 1.2 % publishes, then from 101.2: -0.2 % / -2.2 %
    gap = feed_rounds(_ticks([float("nan"), float("nan"), 120.0]), 0.01, 3600, (start, 100.0))
    assert [(t.hour, p) for t, p in gap] == [(3, 120.0)]
    with pytest.raises(ValueError, match="deviation"):
        feed_rounds(_ticks([1.0]), 1.0, 3600, (start, 1.0))


def test_gas_is_the_real_daily_series_carried_over_missing_days(tmp_path: Path) -> None:
    gas = gas_gwei(JUNE)
    assert len(gas) == JUNE.days and gas.notna().all()
    assert gas.loc["2022-06-13"] > 2 * gas.loc["2022-06-12"]  # the 3AC day's gas spike is in it (96 vs 39 gwei)
    (tmp_path / "onchain").mkdir()
    (tmp_path / "onchain" / "gas_price_1d.csv").write_text(
        "timestamp,avg_gas_price_gwei\n2022-06-01T00:00:00Z,50\n2022-06-03T00:00:00Z,70\n"
    )
    carried = gas_gwei(parse_window("2022-06-01:2022-06-04")[0], tmp_path)
    assert list(carried) == [50.0, 50.0, 70.0, 70.0]
    with pytest.raises(ConfigError, match="no gas price on any of its days"):
        gas_gwei(parse_window("2022-07-01:2022-07-02")[0], tmp_path)


def test_the_backtest_snapshot_reads_the_whole_history_the_forecast_needs() -> None:
    paths = {k: load_path(k, JUNE) for k in ("eth", "btc", "link", "aave")}
    policy = backtest_policy(POLICY, paths, JUNE)
    assert policy.snapshot.history_rounds == 4 * HISTORY_DAYS + JUNE.hours
    assert policy.risk == POLICY.risk and policy.market == POLICY.market  # nothing else changes


def test_borrower_plans_come_from_the_seed_alone() -> None:
    positions = tuple(RawPosition(account=f"0x{i:040x}", collateral=(1, 0, 0, 0), debt=1) for i in range(2000))
    a, b = plan_borrowers(positions, 3, active_share=0.6), plan_borrowers(positions, 3, active_share=0.6)
    assert a == b and a != plan_borrowers(positions, 4, active_share=0.6)
    active = [p for p in a.values() if p.active]
    assert 0.55 < len(active) / len(a) < 0.65
    assert all(0.6 <= p.target <= 0.97 for p in a.values())
    assert not any(p.active for p in plan_borrowers(positions, 3, active_share=0.0).values())
