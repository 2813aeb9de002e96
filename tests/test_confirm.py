"""The manipulation guard without a chain: the confirmed price history (a one-round jump is held back until its
window confirms it; both the rounds and the seconds of the window matter), the clamp that holds an LT cut (and
nothing else) with the guard's label, and old policies (no ``[manipulation_guard]``) reading as disabled."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.config import load_policy
from oracle.data.confirm import confirmed_asset, confirmed_history
from oracle.domain.params import AssetBounds, Param, ParamBounds, RiskParams, linked_rules_hold
from oracle.domain.policy import ManipulationGuard, Policy
from oracle.domain.snapshot import AssetState, FeedRound
from oracle.policy.bounds import LtCutHold, check_change, clamp_update
from oracle.report.schema import canonical_sha256, policy_sha256
from tests.test_bounds_clamp import ASSET, scenario

SIX_H = 6 * 3600
GUARD = ManipulationGuard(confirm_rounds=3, confirm_s=3600, jump_ratio=1.35)


def rounds(prices: list[float], every_s: int = SIX_H, start: int = 1_700_000_000) -> tuple[FeedRound, ...]:
    """A feed's rounds at ``prices`` (USD, 8 decimals), ``every_s`` apart."""
    return tuple(
        FeedRound(round_id=i + 1, answer=round(p * 10**8), updated_at=start + i * every_s) for i, p in enumerate(prices)
    )


def usd(history: tuple[FeedRound, ...]) -> list[float]:
    return [r.answer / 10**8 for r in history]


# --------------------------------------------------------------------------- the confirmed series


def test_a_one_round_spike_is_held_at_the_median_and_a_reverted_one_never_appears() -> None:
    calm = [100.0, 101, 99, 100, 102, 101]
    spiked = confirmed_history(rounds([*calm, 150]), GUARD)
    assert usd(spiked) == [*calm, 102]  # the median of (102, 101, 150)
    reverted = confirmed_history(rounds([*calm, 150, 101, 100]), GUARD)
    assert usd(reverted) == [*calm, 102, 101, 100]
    dip = confirmed_history(rounds([*calm, 60]), GUARD)  # either direction
    assert usd(dip)[-1] == 101


def test_a_move_kept_by_more_than_half_of_the_window_is_confirmed() -> None:
    calm = [100.0, 101, 99, 100, 102, 101]
    held = usd(confirmed_history(rounds([*calm, 150, 150]), GUARD))
    assert held[-1] == 150  # two of the three rounds show it
    assert held[-2] == 102  # causal: the first round of the move stays what its own window said
    assert usd(confirmed_history(rounds([*calm, 150, 150, 150]), GUARD))[-3:] == [102, 150, 150]


def test_the_window_needs_its_rounds() -> None:
    five = GUARD.model_copy(update={"confirm_rounds": 5})
    calm = [100.0] * 8
    assert usd(confirmed_history(rounds([*calm, 150, 150]), five))[-1] == 100  # 2 of 5
    assert usd(confirmed_history(rounds([*calm, 150, 150, 150]), five))[-1] == 150  # 3 of 5


def test_the_window_needs_its_seconds() -> None:
    """Rounds a minute apart: three rounds of a jump make a majority of three rounds, not of the hour."""
    calm, jump = [100.0] * 80, [150.0] * 3
    by_rounds = GUARD.model_copy(update={"confirm_s": 0})
    assert usd(confirmed_history(rounds([*calm, *jump], every_s=60), by_rounds))[-1] == 150
    assert usd(confirmed_history(rounds([*calm, *jump], every_s=60), GUARD))[-1] == 100  # 61 rounds in the hour
    # with 6 h rounds a day's window is 5 rounds: 2 rounds of a jump are not enough, 3 are
    day = GUARD.model_copy(update={"confirm_s": 86_400})
    assert usd(confirmed_history(rounds([*calm, 150, 150]), day))[-1] == 100
    assert usd(confirmed_history(rounds([*calm, 150, 150, 150]), day))[-1] == 150


def test_an_evenly_split_window_stays_where_it_was() -> None:
    four = GUARD.model_copy(update={"confirm_rounds": 4})
    assert usd(confirmed_history(rounds([100.0] * 6 + [150, 150]), four))[-1] == 100
    assert usd(confirmed_history(rounds([150.0] * 6 + [100, 100]), four))[-1] == 150


def test_moves_within_the_jump_ratio_are_their_own_confirmed_history() -> None:
    """A steady +10 % a round, a day's open-low-high-close as the demo replays it: nothing is a jump, every round is
    the very same object, and an asset without a jump is returned as it is (the pipeline then forecasts nothing)."""
    trend = rounds([100 * 1.1**i for i in range(20)])
    assert all(c is r for c, r in zip(confirmed_history(trend, GUARD), trend, strict=True))
    days = rounds([100, 80, 125, 110, 110, 90, 120, 100])
    assert all(c is r for c, r in zip(confirmed_history(days, GUARD), days, strict=True))
    policy = load_policy()
    weth = _demo_asset(policy, days)
    assert confirmed_asset(weth, GUARD) is weth
    spiked = weth.model_copy(update={"history": rounds([100, 101, 99, 150])})
    seen = confirmed_asset(spiked, GUARD)
    assert usd(seen.history) == [100, 101, 99, 101] and seen.price == spiked.price  # only the history changes


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(0.6, 1.6), min_size=1, max_size=60),
    st.integers(2, 7),
    st.sampled_from([0, 3600, 86_400]),
    st.floats(1.05, 2.0),
)
def test_each_confirmed_round_is_itself_or_its_window_median(
    steps: list[float], confirm_rounds: int, confirm_s: int, jump: float
) -> None:
    prices = [100.0]
    for s in steps:
        prices.append(prices[-1] * s)
    history = rounds(prices)
    guard = ManipulationGuard(confirm_rounds=confirm_rounds, confirm_s=confirm_s, jump_ratio=jump)
    out = confirmed_history(history, guard)
    assert [(r.round_id, r.updated_at) for r in out] == [(r.round_id, r.updated_at) for r in history]
    window = max(confirm_rounds, confirm_s // SIX_H + 1)
    for i, (c, r) in enumerate(zip(out, history, strict=True)):
        answers = sorted(h.answer for h in history[max(0, i - window + 1) : i + 1])
        if c is not r:
            n = len(answers)
            assert c.answer in answers[(n - 1) // 2 : n // 2 + 1]  # a middle answer of the window
            assert max(r.answer / c.answer, c.answer / r.answer) > jump


# --------------------------------------------------------------------------- the clamp


def _bounds() -> AssetBounds:
    b = ParamBounds(min=5000, max=8800, max_increase_bps=50, max_decrease_bps=300, min_delay_s=86_400)
    return AssetBounds(
        ltv=b,
        liquidation_threshold=b.model_copy(update={"max_decrease_bps": 100}),
        liquidation_bonus=b.model_copy(update={"min": 300, "max": 1500, "max_increase_bps": 150}),
    )


def test_an_lt_cut_stops_at_the_confirmed_level_and_says_why() -> None:
    current = RiskParams(ltv=8000, liquidation_threshold=8500, liquidation_bonus=600)
    raw = RiskParams(ltv=6200, liquidation_threshold=8426, liquidation_bonus=688)
    now, never = 1_800_000_000, (0, 0, 0)
    free = clamp_update(ASSET, current, raw, _bounds(), never, now, 25)
    assert free.bounded.liquidation_threshold == 8426
    for floor, held_at in [(8723, 8500), (8460, 8460), (8490, 8500), (8300, 8426)]:
        hold = LtCutHold(floor=floor, binding=GUARD.binding)
        update = clamp_update(ASSET, current, raw, _bounds(), never, now, 25, lt_hold=hold)
        lt = update.clamps[Param.LIQUIDATION_THRESHOLD]
        assert lt.bounded == held_at, floor
        # the guard binds when it decided the value (8490: what is left of the cut is under the hysteresis)
        assert (lt.binding == GUARD.binding) == (floor > 8426), floor
        assert update.clamps[Param.LTV] == free.clamps[Param.LTV]  # LTV and LB are never held back
        assert update.clamps[Param.LIQUIDATION_BONUS] == free.clamps[Param.LIQUIDATION_BONUS]
    raise_lt = RiskParams(ltv=7900, liquidation_threshold=8700, liquidation_bonus=600)
    up = clamp_update(ASSET, current, raise_lt, _bounds(), never, now, 25, lt_hold=LtCutHold(floor=9000, binding="x"))
    assert up == clamp_update(ASSET, current, raise_lt, _bounds(), never, now, 25)  # raising LT is untouched


def test_the_guard_label_names_its_windows() -> None:
    assert GUARD.binding == "manipulation guard: move not yet confirmed over 3 rounds / 1 h"
    assert GUARD.model_copy(update={"confirm_s": 5400}).binding.endswith("3 rounds / 90 min")
    assert GUARD.model_copy(update={"confirm_s": 45}).binding.endswith("3 rounds / 45 s")


@settings(max_examples=1_000, deadline=None)
@given(scenario(), st.sampled_from([0, 25, 100]), st.integers(0, 10_000))
def test_a_held_update_is_still_accepted_and_only_lt_cuts_change(case, min_change: int, floor: int) -> None:
    current, raw, bounds, last, now = case
    if not linked_rules_hold(current):
        return  # the contract guarantees the current parameters satisfy the linked rules
    free = clamp_update(ASSET, current, raw, bounds, last, now, min_change)
    held = clamp_update(ASSET, current, raw, bounds, last, now, min_change, lt_hold=LtCutHold(floor=floor, binding="g"))
    rejection = check_change(ASSET, current, held.bounded, bounds, last, now)
    assert rejection is None if held.changes else rejection is not None and rejection.name == "NoChange"
    lt = Param.LIQUIDATION_THRESHOLD
    if raw.liquidation_threshold >= current.liquidation_threshold:  # no LT cut asked: nothing to hold
        assert held == free
        return
    assert held.bounded.liquidation_threshold <= current.liquidation_threshold  # a held cut never turns into a raise
    if free.clamps[lt].binding != "linked_rule":
        assert held.bounded.liquidation_threshold >= free.bounded.liquidation_threshold  # nor gets deeper
    for p in (Param.LTV, Param.LIQUIDATION_BONUS):  # the others move as without the guard (linked rules aside)
        if "linked_rule" not in (free.clamps[p].binding, held.clamps[p].binding):
            assert held.clamps[p] == free.clamps[p]
    for c in held.clamps:
        assert c.bounded == c.current or abs(c.bounded - c.current) >= min_change, c


# --------------------------------------------------------------------------- policies


def test_the_default_policy_enables_the_guard() -> None:
    guard = load_policy().manipulation_guard
    assert guard is not None and guard.confirm_rounds >= 2 and guard.confirm_s > 0 and guard.jump_ratio > 1


def test_a_policy_without_the_section_has_the_guard_disabled_and_hashes_as_before() -> None:
    """What ``verify`` reads from an earlier report.json: the embedded policy has no ``manipulation_guard``; it
    must parse as disabled and serialise (so hash, so re-render) exactly as it was written."""
    old = load_policy().model_dump(mode="json")
    del old["manipulation_guard"]
    parsed = Policy.model_validate(old)
    assert parsed.manipulation_guard is None
    assert parsed.model_dump(mode="json") == old
    assert policy_sha256(parsed) == canonical_sha256(old)
    assert "manipulation_guard" not in json.loads(parsed.model_dump_json())


def test_a_guard_section_with_a_typo_is_refused() -> None:
    body = load_policy().model_dump(mode="json")
    body["manipulation_guard"]["confirm_round"] = body["manipulation_guard"].pop("confirm_rounds")
    with pytest.raises(ValueError, match="confirm_round"):
        Policy.model_validate(body)


def _demo_asset(policy: Policy, history: tuple[FeedRound, ...]) -> AssetState:
    """An ``AssetState`` shaped like the demo's WETH, with ``history``."""
    spec = policy.market.assets[0]
    last = history[-1]
    return AssetState(
        address="0x" + "11" * 20,
        symbol=spec.symbol,
        token_decimals=spec.decimals,
        feed="0x" + "22" * 20,
        feed_decimals=8,
        price=last.answer,
        price_updated_at=last.updated_at,
        staleness_s=0,
        history=history,
        params=spec.params,
        bounds=spec.bounds,
        last_changed_at=(0, 0, 0),
        total_collateral=0,
        collateral_value_usd=0.0,
        debt_usd=0.0,
        liquidation_density_usd={"1%": 0.0, "2%": 0.0, "5%": 0.0, "10%": 0.0},
        top10_share=0.0,
    )
