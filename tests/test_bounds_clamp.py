"""``clamp_update`` always yields an update the governor accepts (or a no-op), and says which limit bound it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.domain.params import BPS, AssetBounds, Param, ParamBounds, RiskParams, linked_rules_hold
from oracle.policy.bounds import check_change, clamp_update

ASSET = "0x" + "ab" * 20


@st.composite
def scenario(draw: st.DrawFn) -> tuple[RiskParams, RiskParams, AssetBounds, tuple[int, int, int], int]:
    bounds = []
    for _ in Param:
        lo = draw(st.integers(0, BPS))
        hi = draw(st.integers(lo, BPS))
        bounds.append(
            ParamBounds(
                min=lo,
                max=hi,
                max_increase_bps=draw(st.integers(0, 1_000)),
                max_decrease_bps=draw(st.integers(0, 1_000)),
                min_delay_s=draw(st.integers(0, 5 * 86_400)),
            )
        )
    ab = AssetBounds(ltv=bounds[0], liquidation_threshold=bounds[1], liquidation_bonus=bounds[2])
    current = RiskParams.from_tuple([draw(st.integers(b.min, b.max)) for b in bounds])
    raw = RiskParams.from_tuple([draw(st.integers(0, BPS)) for _ in Param])
    now = 1_750_000_000
    last = tuple(draw(st.sampled_from([0, now - draw(st.integers(0, 6 * 86_400))])) for _ in Param)
    return current, raw, ab, last, now  # type: ignore[return-value]


@settings(max_examples=1_000, deadline=None)
@given(scenario(), st.sampled_from([0, 0, 25, 100]))
def test_clamped_update_is_accepted_or_noop(case, min_change: int) -> None:
    current, raw, bounds, last, now = case
    if not linked_rules_hold(current):
        return  # the contract guarantees the current parameters satisfy the linked rules
    update = clamp_update(ASSET, current, raw, bounds, last, now, min_change)
    for c in update.clamps:
        assert c.bounded == c.current or abs(c.bounded - c.current) >= min_change, c
    rejection = check_change(ASSET, current, update.bounded, bounds, last, now)
    if update.changes:
        assert rejection is None, (update, rejection)
    else:
        assert rejection is not None and rejection.name == "NoChange"
    for c in update.clamps:
        assert (c.binding == "none") == (c.bounded == c.raw), c
        assert c.next_change_at == 0 or c.next_change_at >= now or c.bounded == c.current


def test_clamp_names_each_binding_limit() -> None:
    b = ParamBounds(min=5000, max=8500, max_increase_bps=50, max_decrease_bps=300, min_delay_s=86_400)
    bounds = AssetBounds(
        ltv=b,
        liquidation_threshold=b.model_copy(update={"max": 9000}),
        liquidation_bonus=ParamBounds(min=300, max=1500, max_increase_bps=150, max_decrease_bps=50, min_delay_s=86_400),
    )
    current = RiskParams(ltv=8000, liquidation_threshold=8250, liquidation_bonus=500)
    now = 1_750_000_000
    update = clamp_update(
        ASSET,
        current,
        RiskParams(ltv=9000, liquidation_threshold=8100, liquidation_bonus=1600),
        bounds,
        (0, 0, now - 100),
        now,
    )
    assert [c.binding for c in update.clamps] == ["max_increase", "none", "min_delay"]
    assert update.bounded == RiskParams(ltv=8050, liquidation_threshold=8100, liquidation_bonus=500)
    assert update.clamps[2].next_change_at == now - 100 + 86_400
    # LTV up while LT is cut below it: the loosening LTV move falls back first; LTV 8000 still is not below
    # LT 8000, so the LT cut falls back too and nothing is proposed
    lt_fast = bounds.model_copy(update={"liquidation_threshold": b.model_copy(update={"max_decrease_bps": 300})})
    crossed = clamp_update(
        ASSET, current, RiskParams(ltv=8050, liquidation_threshold=8000, liquidation_bonus=500), lt_fast, (0, 0, 0), now
    )
    assert [c.binding for c in crossed.clamps] == ["linked_rule", "linked_rule", "none"]
    assert not crossed.changes
    # with room below, the LT cut survives and only the LTV raise falls back
    room = clamp_update(
        ASSET, current, RiskParams(ltv=8050, liquidation_threshold=8050, liquidation_bonus=500), lt_fast, (0, 0, 0), now
    )
    assert room.bounded == RiskParams(ltv=8000, liquidation_threshold=8050, liquidation_bonus=500)
    assert [c.binding for c in room.clamps] == ["linked_rule", "none", "none"]


def test_moves_below_the_hysteresis_are_not_made() -> None:
    b = ParamBounds(min=5000, max=9000, max_increase_bps=50, max_decrease_bps=300, min_delay_s=0)
    lb = ParamBounds(min=300, max=1500, max_increase_bps=150, max_decrease_bps=50, min_delay_s=0)
    bounds = AssetBounds(ltv=b, liquidation_threshold=b, liquidation_bonus=lb)
    current = RiskParams(ltv=7300, liquidation_threshold=7800, liquidation_bonus=650)
    raw = RiskParams(ltv=7280, liquidation_threshold=8900, liquidation_bonus=474)
    update = clamp_update(ASSET, current, raw, bounds, (0, 0, 0), 1_750_000_000, min_change_bps=25)
    assert [c.binding for c in update.clamps] == ["min_change", "max_increase", "max_decrease"]
    assert update.bounded == RiskParams(ltv=7300, liquidation_threshold=7850, liquidation_bonus=600)
