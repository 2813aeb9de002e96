"""The stress hold (issue 15, item 4: no loosening in a crisis): while an asset's regime is stressed, its forecast σ
is above its trailing median, or within ``breach_days`` of a VaR99 breach, its LTV and LT never rise and its LB
never falls; cuts are never held; a calm market still loosens, by the governor's steps. Each condition on
constructed candles, the clamp as properties, then the demo's real 2022: walking it day by day, and the demo's own
cycle of 2022-06-30 (the version-1 report's inputs), where every LT rose by 50 bps before the hold.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.config import load_policy
from oracle.data.demo_prices import load_demo_ohlc
from oracle.domain.forecast import VolForecast
from oracle.domain.params import Param, RiskParams, linked_rules_hold
from oracle.domain.policy import Policy, StressHold
from oracle.domain.snapshot import AssetState, FeedRound
from oracle.models.base import EWMA_WARMUP, daily_history
from oracle.models.store import load_model
from oracle.models.volatility import NeuralForecaster
from oracle.pipeline import HELD_FAILED_GATE, CycleAnalysis, analyse
from oracle.policy.bounds import BoundedUpdate, LooseningHold, LtCutHold, check_change, clamp_update
from oracle.policy.calibrate import load_calibration
from oracle.policy.stress import MIN_DAYS, Z99, ewma_track, stress_state, stress_states
from oracle.report.build import build_report
from oracle.report.render import render_files
from oracle.report.schema import REPORT_VERSION, Report, canonical_sha256, policy_sha256
from oracle.report.verify import _check_pipeline
from tests.test_bounds_clamp import ASSET, scenario

RULE = StressHold(regime_at_least=0.5, median_days=90, breach_days=14)
HOLD = LooseningHold(binding="stress_hold: test")
LTV, LT, LB = Param.LTV, Param.LIQUIDATION_THRESHOLD, Param.LIQUIDATION_BONUS
FIXTURE = Path(__file__).parent / "fixtures" / "report-v1"  # the demo's live cycle (2022-06-30 replayed)
DEMO_ASSETS = ("eth", "btc", "link", "aave")  # the demo market's price sources


# --------------------------------------------------------------------------- the clamp


def _loosens(p: Param, old: int, new: int) -> bool:
    return new < old if p == LB else new > old


@settings(max_examples=1_000, deadline=None)
@given(scenario(), st.sampled_from([0, 25, 100]), st.none() | st.integers(0, 10_000))
def test_with_the_hold_lt_and_ltv_never_rise_and_lb_never_falls(case, min_change: int, floor: int | None) -> None:
    current, raw, bounds, last, now = case
    if not linked_rules_hold(current):
        return  # the contract guarantees the current parameters satisfy the linked rules
    guard = None if floor is None else LtCutHold(floor=floor, binding="guard")
    held = clamp_update(ASSET, current, raw, bounds, last, now, min_change, guard, HOLD)
    assert held.bounded.ltv <= current.ltv and held.bounded.liquidation_threshold <= current.liquidation_threshold
    assert held.bounded.liquidation_bonus >= current.liquidation_bonus
    rejection = check_change(ASSET, current, held.bounded, bounds, last, now)  # the governor still accepts it
    assert rejection is None if held.changes else rejection is not None and rejection.name == "NoChange"
    for c in held.clamps:
        if c.binding == HOLD.binding:
            assert c.bounded == c.current and _loosens(c.param, c.current, c.raw)


@settings(max_examples=1_000, deadline=None)
@given(scenario(), st.sampled_from([0, 25, 100]), st.none() | st.integers(0, 10_000))
def test_a_cut_is_the_same_with_or_without_the_hold(case, min_change: int, floor: int | None) -> None:
    """Every parameter the free clamp cuts (LTV, LT down, LB up) or leaves, it leaves or cuts the very same way with
    the hold, binding included; a loosening move is held at its current value with the hold's label. (Holding a
    loosening move never breaks a linked rule the free update kept, so the fallback never reaches a cut.)"""
    current, raw, bounds, last, now = case
    if not linked_rules_hold(current):
        return
    guard = None if floor is None else LtCutHold(floor=floor, binding="guard")
    free = clamp_update(ASSET, current, raw, bounds, last, now, min_change, guard)
    held = clamp_update(ASSET, current, raw, bounds, last, now, min_change, guard, HOLD)
    for f, h in zip(free.clamps, held.clamps, strict=True):
        if _loosens(f.param, f.current, f.bounded):
            assert h.bounded == h.current and h.binding == HOLD.binding, (f, h)
        elif f.binding == "linked_rule":  # a move the fallback undid: undone by the hold, or by the fallback again
            assert h.bounded == h.current and h.binding in ("linked_rule", HOLD.binding), (f, h)
        else:
            assert h == f, (f, h)


@settings(max_examples=500, deadline=None)
@given(scenario(), st.sampled_from([0, 25, 100]))
def test_without_a_loosening_move_the_hold_changes_nothing(case, min_change: int) -> None:
    current, raw, bounds, last, now = case
    if not linked_rules_hold(current):
        return
    free = clamp_update(ASSET, current, raw, bounds, last, now, min_change)
    assert clamp_update(ASSET, current, raw, bounds, last, now, min_change, loosening_hold=None) == free
    if not any(_loosens(c.param, c.current, c.bounded) or c.binding == "linked_rule" for c in free.clamps):
        assert clamp_update(ASSET, current, raw, bounds, last, now, min_change, loosening_hold=HOLD) == free


# --------------------------------------------------------------------------- the conditions on constructed candles


def _candles(returns: list[float] | np.ndarray, start: str = "2022-01-01") -> pd.DataFrame:
    """Daily candles whose closes make ``returns`` (log), each day's range 1 % around its open and close."""
    closes = 100 * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    opens = np.concatenate([[closes[0]], closes[:-1]])
    index = pd.date_range(start, periods=closes.size, freq="D", tz="UTC")
    return pd.DataFrame(
        {
            "open": opens,
            "high": np.maximum(opens, closes) * 1.005,
            "low": np.minimum(opens, closes) * 0.995,
            "close": closes,
            "rounds": 4,
        },
        index=index,
    )


def _calm(days: int = 150, sigma: float = 0.01) -> list[float]:
    """``days`` returns of exactly ``sigma``, alternating up and down: an EWMA σ of ``sigma``, no breach."""
    return [sigma if i % 2 == 0 else -sigma for i in range(days)]


def _forecast(sigma: float, regime: float | None = 0.0) -> VolForecast:
    return VolForecast(
        asset="WETH",
        variance=sigma**2,
        sigma=sigma,
        dof=None if regime is None else 6.0,
        var99=0.1,
        regime=regime,
        source="ewma-fallback" if regime is None else "neural",
        reason="",
        history_days=150,
    )


def test_a_calm_market_holds_nothing_and_still_loosens_by_the_governors_step() -> None:
    policy = load_policy()
    spec = policy.market.assets[0]
    assert spec.bounds is not None
    state = stress_state(_candles(_calm()), _forecast(0.009), RULE)
    assert not state.held and state.binding is None and state.reasons == ()
    assert state.sigma_median == pytest.approx(0.01) and state.median_days == 90 and state.breach_day is None
    assert state.text.startswith("off: regime 0.0")
    raw = RiskParams(ltv=8400, liquidation_threshold=8700, liquidation_bonus=300)
    hold = None if state.binding is None else LooseningHold(binding=state.binding)  # as the pipeline builds it
    update = clamp_update(ASSET, spec.params, raw, spec.bounds, (0, 0, 0), 1_800_000_000, 25, loosening_hold=hold)
    step = spec.bounds.liquidation_threshold.max_increase_bps
    assert update.bounded.liquidation_threshold == spec.params.liquidation_threshold + step
    assert [c.binding for c in update.clamps] == ["max_increase", "max_increase", "max_decrease"]


@pytest.mark.parametrize(
    ("regime", "label"),
    [
        (1.0, "stress_hold: regime stressed (1.0)"),
        (0.5, "stress_hold: regime mid (0.5)"),
        (None, "stress_hold: regime unknown (EWMA fallback)"),
        (0.0, None),
    ],
)
def test_the_regime_rule(regime: float | None, label: str | None) -> None:
    state = stress_state(_candles(_calm()), _forecast(0.009, regime), RULE)
    assert state.binding == label and state.held == (label is not None) and state.regime == regime
    only_stressed = RULE.model_copy(update={"regime_at_least": 1.0})
    assert stress_state(_candles(_calm()), _forecast(0.009, regime), only_stressed).held == (regime in (None, 1.0))


def test_the_median_rule() -> None:
    """σ 1 % for 100 days, then 2 % for 50: the EWMA median of the last 90 days is between them; a forecast above
    it holds, one below does not; the window is the policy's, or the history when shorter."""
    candles = _candles(_calm(100, 0.01) + _calm(50, 0.02))
    track = ewma_track(candles)
    median = float(np.median(track["sigma"].iloc[-90:]))
    assert 0.01 < median < 0.02
    above = stress_state(candles, _forecast(median * 1.01), RULE)
    assert above.reasons == (f"stress_hold: σ {median * 1.01:.1%} above its 90-day median {median:.1%}",)
    assert above.sigma_median == pytest.approx(median) and above.sigma_1d == pytest.approx(median * 1.01)
    assert not stress_state(candles, _forecast(median), RULE).held  # "above" is strict
    short = stress_state(_candles(_calm(60)), _forecast(0.02), RULE)
    assert short.median_days == 60 - EWMA_WARMUP and short.binding is not None and "30-day median" in short.binding


def test_too_short_a_history_holds() -> None:
    """Fewer than ``MIN_DAYS`` candles: no EWMA σ to compare with, no loosening (a new listing waits a month)."""
    state = stress_state(_candles(_calm(MIN_DAYS - 2)), _forecast(0.001), RULE)
    assert state.sigma_median is None and state.median_days == 0
    assert state.reasons == (f"stress_hold: no EWMA σ history to compare σ with (needs {MIN_DAYS} days)",)
    assert not stress_state(_candles(_calm(MIN_DAYS - 1)), _forecast(0.001), RULE).held


@pytest.mark.parametrize("ago", [0, 5, 13, 14, 30])
def test_the_breach_rule(ago: int) -> None:
    """One day falls 5 % (five EWMA σ: a VaR99 breach) ``ago`` days before the latest: held for the 14 candles the
    latest one ends, the breach's day named; a rise as large is no breach."""
    returns = _calm(150)
    returns[-1 - ago] = -0.05
    candles = _candles(returns)
    state = stress_state(candles, _forecast(0.001), RULE)
    day = candles.index[-1 - ago].strftime("%Y-%m-%d")
    if ago < 14:
        assert state.reasons == (f"stress_hold: VaR99 breach on {day} (within 14 days)",)
        assert state.breach_day == day and state.breach_return == pytest.approx(-0.05)
        assert state.breach_var99 == pytest.approx(-Z99 * float(ewma_track(candles)["sigma_before"].iloc[-1 - ago]))
    else:
        assert state.breach_day is None and not state.held
    returns[-1 - ago] = 0.05
    assert stress_state(_candles(returns), _forecast(0.001), RULE).breach_day is None
    assert stress_state(candles, _forecast(0.001), RULE.model_copy(update={"breach_days": 0})).breach_day is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.floats(-0.2, 0.2), min_size=0, max_size=200),
    st.integers(1, 120),
    st.integers(0, 30),
    st.floats(0.001, 0.2),
    st.sampled_from([None, 0.0, 0.5, 1.0]),
)
def test_the_conditions_match_their_definitions(
    returns: list[float], median_days: int, breach_days: int, sigma: float, regime: float | None
) -> None:
    """Recomputed the plain way: EWMA σ_t (λ 0.94, started on the mean square of the first 30 returns), the median
    of the σ made at the last ``median_days`` closes, a breach = a return of the last ``breach_days`` candles below
    −2.326 × the σ before it."""
    rule = StressHold(regime_at_least=0.5, median_days=median_days, breach_days=breach_days)
    candles = _candles(returns)
    state = stress_state(candles, _forecast(sigma, regime), rule)
    assert state.held == bool(state.reasons) and all(r.startswith("stress_hold: ") for r in state.reasons)
    assert state.binding == (state.reasons[0] if state.reasons else None)
    r = np.diff(np.log(candles["close"].to_numpy()))
    if r.size <= EWMA_WARMUP:
        assert state.sigma_median is None and state.breach_day is None and state.held
        return
    var, sigmas = float(np.mean(r[:EWMA_WARMUP] ** 2)), []
    for x in r:
        sigmas.append(np.sqrt(var))  # known before x
        var = 0.94 * var + 0.06 * x * x
    sigmas.append(np.sqrt(var))
    made = sigmas[EWMA_WARMUP + 1 :]  # at each close from day 31 on
    median = float(np.median(made[-median_days:]))
    assert state.sigma_median == pytest.approx(median) and state.median_days == min(median_days, len(made))
    breaches = [
        candles.index[i + 1].strftime("%Y-%m-%d")
        for i in range(EWMA_WARMUP, r.size)
        if i + 1 >= len(candles) - breach_days and r[i] < -Z99 * sigmas[i]
    ]
    assert state.breach_day == (breaches[-1] if breaches else None)
    assert (regime is None or regime >= 0.5 or sigma > median or bool(breaches)) == state.held


DRAWDOWN = RULE.model_copy(update={"drawdown_max": 0.2, "drawdown_days": 150})


@pytest.mark.parametrize(("fall", "held"), [(0.25, True), (0.19, False)])
def test_the_drawdown_rule(fall: float, held: bool) -> None:
    """A calm 120 days, a slow slide of ``fall`` over 30 days at the same σ, then calm again: no σ rule and no
    breach fires, the drawdown rule alone holds when the close is more than 20 % below the 150-day high."""
    slide = [float(np.log(1 - fall)) / 30 + (0.01 if i % 2 == 0 else -0.01) for i in range(30)]
    candles = _candles(_calm(120) + slide + _calm(10))
    state = stress_state(candles, _forecast(0.005), DRAWDOWN)
    high = float(candles["close"].iloc[-151:].max())
    assert state.drawdown == pytest.approx(1 - float(candles["close"].iloc[-1]) / high)
    assert state.drawdown_max == 0.2 and state.drawdown_days == 150 and state.breach_day is None
    assert state.reasons == ((f"stress_hold: close {state.drawdown:.1%} below its 150-day high",) if held else ())
    assert ("below its 150-day high (holds above 20%)" in state.text) and state.text.startswith("on" if held else "off")
    # without the rule, nothing of it in the state or its JSON (earlier reports re-serialise as written)
    plain = stress_state(candles, _forecast(0.005), RULE)
    assert plain.drawdown is None and not plain.held and "drawdown" not in plain.model_dump_json()
    assert "high" not in plain.text
    # a history shorter than the window: its days, no more
    short = stress_state(_candles(_calm(40) + slide), _forecast(0.005), DRAWDOWN)
    assert short.drawdown_days == 71 and short.held == held


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-0.2, 0.2), min_size=0, max_size=200), st.integers(1, 200), st.floats(0.01, 0.9))
def test_the_drawdown_rule_matches_its_definition_and_only_adds_holds(
    returns: list[float], days: int, drawdown_max: float
) -> None:
    """The fall of the latest close from the highest close of the candles of the last ``days`` days, recomputed the
    plain way; the rule only ever adds a reason, and a lower threshold holds whenever a higher one does."""
    candles = _candles(returns)
    rule = RULE.model_copy(update={"drawdown_max": drawdown_max, "drawdown_days": days})
    state = stress_state(candles, _forecast(0.01), rule)
    closes = candles["close"].to_numpy()
    high = closes[-min(days, closes.size) :].max()
    assert state.drawdown == pytest.approx(1 - closes[-1] / high)
    assert set(stress_state(candles, _forecast(0.01), RULE).reasons) <= set(state.reasons)
    stricter = rule.model_copy(update={"drawdown_max": drawdown_max / 2})
    assert state.held <= stress_state(candles, _forecast(0.01), stricter).held


def test_the_drawdown_rule_needs_both_of_its_settings() -> None:
    with pytest.raises(ValueError, match="drawdown_max and drawdown_days go together"):
        StressHold(regime_at_least=0.5, median_days=90, breach_days=14, drawdown_max=0.2)
    with pytest.raises(ValueError, match="drawdown_max"):
        StressHold(regime_at_least=0.5, median_days=90, breach_days=14, drawdown_max=1.5, drawdown_days=150)


def test_no_policy_section_no_states() -> None:
    assert stress_states({"WETH": _candles(_calm())}, (_forecast(0.05, 1.0),), None) == {}
    assert set(stress_states({"WETH": _candles(_calm())}, (_forecast(0.05, 1.0),), RULE)) == {"WETH"}


# --------------------------------------------------------------------------- policies


def test_the_default_policy_enables_the_hold() -> None:
    assert load_policy().stress_hold == StressHold(
        regime_at_least=0.5, median_days=90, breach_days=14, drawdown_max=0.2, drawdown_days=150
    )


def test_a_policy_without_the_section_has_the_hold_disabled_and_hashes_as_before() -> None:
    """What ``verify`` reads from an earlier report.json: no ``stress_hold`` in the embedded policy; it parses as
    disabled and serialises (so hashes, so re-renders) exactly as it was written."""
    old = load_policy().model_dump(mode="json")
    del old["stress_hold"]
    parsed = Policy.model_validate(old)
    assert parsed.stress_hold is None
    assert parsed.model_dump(mode="json") == old and policy_sha256(parsed) == canonical_sha256(old)
    assert "stress_hold" not in json.loads(parsed.model_dump_json())


def test_a_section_with_a_typo_or_a_bad_value_is_refused() -> None:
    body = load_policy().model_dump(mode="json")
    body["stress_hold"]["median_day"] = body["stress_hold"].pop("median_days")
    with pytest.raises(ValueError, match="median_day"):
        Policy.model_validate(body)
    with pytest.raises(ValueError, match="regime_at_least"):
        StressHold(regime_at_least=0.0, median_days=90, breach_days=14)


# --------------------------------------------------------------------------- the demo's 2022


@pytest.fixture(scope="module")
def model() -> NeuralForecaster:
    return load_model()[0]


def held_days(model: NeuralForecaster, start: str = "2022-02-01") -> dict[str, dict[pd.Timestamp, tuple[str, ...]]]:
    """Walking the demo's history: per asset and day from ``start``, the reasons the hold is on (empty: off), from
    the candles a snapshot that day carries (``history_rounds`` rounds, four a day) and the EWMA σ those candles
    forecast, with the model's regime label of that day where it has one (its features need about three months of
    history: from 2022-04-01 here); without one only the candle rules count."""
    days = load_policy().snapshot.history_rounds // 4
    out: dict[str, dict[pd.Timestamp, tuple[str, ...]]] = {}
    for key in DEMO_ASSETS:
        ohlc = load_demo_ohlc()[key]
        regime = model.regime_labels(daily_history(ohlc))
        out[key] = {}
        for day in ohlc.loc[start:].index:
            candles = ohlc.loc[:day].tail(days)
            sigma = float(ewma_track(candles)["sigma"].iloc[-1])  # what the EWMA forecasts for the next day
            label = regime.get(day, np.nan)
            forecast = _forecast(sigma, 0.0 if np.isnan(label) else float(label))  # no label: not counted
            out[key][day] = stress_state(candles, forecast, RULE).reasons
    return out


def test_walking_2022_every_june_day_is_held_for_every_asset_and_calm_days_are_not(model: NeuralForecaster) -> None:
    walk = held_days(model)
    for key, days in walk.items():
        june = {d: r for d, r in days.items() if d.month == 6}
        assert len(june) == 30 and all(june.values()), (key, [d for d, r in june.items() if not r])
        # 13 June 2022 (Celsius freezes withdrawals, 3AC): a VaR99 breach for every asset but LINK (which broke
        # its own on the 11th): the breach rule alone holds them for two weeks
        breach = "2022-06-11" if key == "link" else "2022-06-13"
        on_24th = days[pd.Timestamp("2022-06-24", tz="UTC")]
        assert f"stress_hold: VaR99 breach on {breach} (within 14 days)" in on_24th, (key, on_24th)
        # the hold is no freeze: the calmer days of February and March loosen
        free = [d for d, r in days.items() if not r and d < pd.Timestamp("2022-04-01", tz="UTC")]
        assert len(free) >= 10, (key, free)


def _v1_report() -> Report:
    return Report.model_validate_json(gzip.decompress((FIXTURE / "report.json.gz").read_bytes()))


def _lt_ltv(update: BoundedUpdate) -> tuple[int, int]:
    return update.bounded.liquidation_threshold, update.bounded.ltv


@pytest.fixture(scope="module")
def demo_held(model: NeuralForecaster) -> tuple[Report, Policy, CycleAnalysis]:
    """The version-1 report, today's default hold added to its policy, and its inputs analysed with that policy."""
    report = _v1_report()
    inputs = report.inputs
    policy = inputs.policy.model_copy(update={"stress_hold": load_policy().stress_hold})
    analysis = analyse(inputs.snapshot, policy, inputs.calibration, model, inputs.previous, robustness=True)
    return report, policy, analysis


def test_at_the_demos_date_no_lt_or_ltv_rises(demo_held: tuple[Report, Policy, CycleAnalysis]) -> None:
    """The demo's live cycle on the replayed 2022-06-30 (a version-1 report: the same inputs, rerun with today's
    default hold): without the hold every asset's LT rose by 50 bps (the issue); with it none rises, no LTV rises
    and no LB falls, each held move names the hold, and every cut is the one the report made."""
    report, _policy, analysis = demo_held
    assert report.inputs.policy.stress_hold is None
    before = {a.asset: a.bounded for a in report.recommendation.assets}
    assert all(
        b is not None and b.bounded.liquidation_threshold == b.current.liquidation_threshold + 50
        for b in before.values()
    )
    for rec in analysis.recommendation.assets:
        update, old = rec.bounded, before[rec.asset]
        assert update is not None and old is not None and rec.stress is not None and rec.stress.held
        assert rec.stress.regime == 1.0 and rec.stress.binding == "stress_hold: regime stressed (1.0)"
        current = update.current
        assert update.bounded.liquidation_threshold == current.liquidation_threshold, rec.asset
        assert update.bounded.ltv <= current.ltv and update.bounded.liquidation_bonus >= current.liquidation_bonus
        assert update.clamps[LT].binding == rec.stress.binding  # the raise the model asked for, held
        for new, was in zip(update.clamps, old.clamps, strict=True):
            if _loosens(was.param, was.current, was.bounded):
                assert new.bounded == new.current and new.binding == rec.stress.binding
            else:
                assert new == was, rec.asset  # the cuts are the report's own
        assert rec.raw_bps == next(a.raw_bps for a in report.recommendation.assets if a.asset == rec.asset)
    proposed = {a.asset: _lt_ltv(a.bounded) for a in analysis.recommendation.assets if a.proposed and a.bounded}
    assert proposed == {"WETH": (8250, 7700), "AAVE": (7300, 6300)}  # the LTV cuts still go out


def test_the_report_names_the_hold_and_verify_reruns_it(demo_held: tuple[Report, Policy, CycleAnalysis]) -> None:
    """The held demo cycle as a report of today's format: the change table names ``stress_hold: ...`` as the
    binding limit, the stress state of each asset is listed, report.json carries it, and ``verify``'s pipeline
    check re-runs the hold from the report's inputs to the same result."""
    old, policy, analysis = demo_held
    inputs = old.inputs.model_copy(update={"policy": policy})
    report = build_report(analysis, inputs, cycle_id=old.cycle_id, dry_run=True, version=REPORT_VERSION)
    files = render_files(report)
    md, html = files["report.md"].decode(), files["report.html"].decode()
    assert "| LT | 8250 | 8652 | 8250 | +0 | stress_hold: regime stressed (1.0) | now |" in md  # WETH: held
    weth = analysis.recommendation.asset("WETH").stress
    assert weth is not None and f"- **WETH** {weth.text}" in md and f"<li><b>WETH</b> {weth.text}</li>" in html
    assert weth.text.startswith("on: regime 1.0 (holds from 0.5); σ 7.2% vs its 90-day median 4.2%")
    assert json.loads(files["report.json"])["recommendation"]["assets"][0]["stress"]["regime"] == 1.0
    assert render_files(Report.model_validate_json(files["report.json"])) == files
    checks = _check_pipeline(report, None)
    assert [c.name for c in checks] == ["forecasts", "recommendation", "report"]
    assert all(c.passed for c in checks), checks


def _calm_history(asset: AssetState, before: float, after: float, calm_days: int = 40) -> AssetState:
    """``asset`` with 150 days of feed rounds ending where its own end: daily moves of exactly ``before``, then
    ``after`` for the last ``calm_days`` (up and down in turn, four rounds a day as the demo replays them)."""
    days, last = 150, asset.history[-1]
    sigma = np.where(np.arange(days) >= days - calm_days, after, before)
    log_close = np.concatenate([[0.0], np.cumsum(sigma * np.where(np.arange(days) % 2 == 0, 1, -1))])
    closes = last.answer * np.exp(log_close - log_close[-1])
    rounds = []
    for d in range(1, days + 1):
        o, c, s = closes[d - 1], closes[d], sigma[d - 1]
        hi, lo = max(o, c) * (1 + s / 4), min(o, c) * (1 - s / 4)
        end = last.updated_at - (days - d) * 86_400
        for offset, price in zip((23, 17, 11, 0), (o, lo if c >= o else hi, hi if c >= o else lo, c), strict=True):
            rounds.append(FeedRound(round_id=len(rounds) + 1, answer=round(price), updated_at=end - offset * 3600))
    return asset.model_copy(update={"history": tuple(rounds)})


def test_a_calm_market_loosens_through_the_pipeline(model: NeuralForecaster) -> None:
    """The demo's market with its feeds calmed (2.5 % a day, the last 40 days 1 %): the model forecasts a calm
    regime, σ below its median, no breach: nothing is held, LTV and LT rise by the governor's 50 bps step, LB falls
    by its 50, and the updates pass the gate."""
    inputs = _v1_report().inputs
    snapshot = inputs.snapshot.model_copy(
        update={"assets": tuple(_calm_history(a, 0.025, 0.01) for a in inputs.snapshot.assets)}
    )
    policy = inputs.policy.model_copy(update={"stress_hold": load_policy().stress_hold})
    analysis = analyse(snapshot, policy, inputs.calibration, model)
    for rec in analysis.recommendation.assets:
        assert rec.stress is not None and not rec.stress.held, rec.stress
        assert rec.stress.regime == 0.0 and rec.stress.sigma_median is not None
        assert rec.stress.sigma_1d < rec.stress.sigma_median
        assert rec.bounded is not None and rec.proposed
        moves = [c.bounded - c.current for c in rec.bounded.clamps]
        assert moves == [50, 50, -50], (rec.asset, rec.bounded.clamps)
        assert [c.binding for c in rec.bounded.clamps] == ["max_increase", "max_increase", "max_decrease"]


def test_an_ltv_cut_goes_out_alone_when_the_rest_of_its_update_fails_the_gate(model: NeuralForecaster) -> None:
    """Today's policy on the demo's 2022-06-30 market, LINK at LTV 6000 / LT 6650 and its pool a tenth of the
    policy's (the model wants LINK far lower): the model cuts both, but the 100 bps LT cut would make 0.3 % of debt
    liquidatable at once, over a limit of 0.1 %. The update fails the gate as a whole; its LTV cut must not be
    lost with it (cutting LTV liquidates no one): it goes out alone, LT and LB stay where they are and name the
    refused update's reason."""
    inputs = _v1_report().inputs
    state = RiskParams(ltv=6000, liquidation_threshold=6650, liquidation_bonus=750)
    snapshot = inputs.snapshot.model_copy(
        update={
            "assets": tuple(
                a.model_copy(update={"params": state}) if a.symbol == "LINK" else a for a in inputs.snapshot.assets
            )
        }
    )
    default = load_policy()
    calibration = load_calibration(default)

    def policy(**risk: object) -> Policy:
        depth = {**default.risk.depth_usd, "LINK": default.risk.depth_usd["LINK"] / 10}
        return default.model_copy(update={"risk": default.risk.model_copy(update={"depth_usd": depth, **risk})})

    free = analyse(snapshot, policy(), calibration, model).recommendation.asset("LINK")
    assert free.bounded is not None and free.gate is not None and free.gate.passed and free.proposed
    assert free.bounded.bounded.liquidation_threshold == 6550 and free.bounded.bounded.ltv == 5700
    cut = free.gate.liquidatable_after_share - free.gate.liquidatable_now_share
    assert 0.001 < cut < 0.02

    link = analyse(snapshot, policy(max_liquidated_at_once_share=0.001), calibration, model).recommendation.asset(
        "LINK"
    )
    assert link.bounded is not None and link.gate is not None and link.gate.passed and link.proposed
    assert link.bounded.bounded == RiskParams(ltv=5700, liquidation_threshold=6650, liquidation_bonus=750)
    reason = f"would make {cut:.2%} of debt liquidatable at once (limit 0.10%)"
    for p in (LT, LB):
        assert link.bounded.clamps[p].binding == HELD_FAILED_GATE.format(reason=reason)
    assert link.bounded.clamps[LT].raw == free.bounded.clamps[LT].raw  # the model's LT is still shown
