"""The governor's rules, mirrored in Python, and the clamp that turns a raw recommendation into an update the
governor will accept.

Why: the keeper must know before sending whether the contract will accept an update, and why not; a
recommendation must be bounded the same way the chain bounds it. ``check_change`` follows
``RiskParameterGovernor.validateChange`` rule by rule and in the same order, so that the first rule broken has the
same name and arguments as the contract's custom error; ``tests/test_bounds_mirror.py`` checks the two agree on
tens of thousands of random cases against the contract itself.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from oracle.domain.params import BPS, AssetBounds, LastChanged, Param, ParamBounds, RiskParams, linked_rules_hold


class Rejection(BaseModel):
    """Why the governor would reject an update: the custom error's name and arguments, as on chain."""

    model_config = ConfigDict(frozen=True)

    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.args.items())
        return f"{self.name}({shown})"


def _check_param(p: Param, old: int, new: int, b: ParamBounds, last_changed: int, timestamp: int) -> Rejection | None:
    """One parameter's rules, in the contract's order: range, direction step, min delay."""
    if new < b.min or new > b.max:
        return Rejection(name="OutOfRange", args={"param": int(p), "value": new, "min": b.min, "max": b.max})
    if new == old:
        return None
    if new > old and new - old > b.max_increase_bps:
        return Rejection(
            name="IncreaseTooLarge",
            args={"param": int(p), "fromValue": old, "toValue": new, "maxIncrease": b.max_increase_bps},
        )
    if new < old and old - new > b.max_decrease_bps:
        return Rejection(
            name="DecreaseTooLarge",
            args={"param": int(p), "fromValue": old, "toValue": new, "maxDecrease": b.max_decrease_bps},
        )
    if last_changed != 0 and timestamp < last_changed + b.min_delay_s:
        return Rejection(name="TooSoon", args={"param": int(p), "nextAllowedAt": last_changed + b.min_delay_s})
    return None


def check_change(
    asset: str,
    current: RiskParams,
    proposed: RiskParams,
    bounds: AssetBounds,
    last_changed_at: LastChanged,
    timestamp: int,
) -> Rejection | None:
    """Mirror of ``RiskParameterGovernor.validateChange``: the first rule broken, or ``None`` when allowed."""
    if current == proposed:
        return Rejection(name="NoChange", args={"asset": asset})
    for p in Param:
        rejection = _check_param(p, current.get(p), proposed.get(p), bounds.get(p), last_changed_at[p], timestamp)
        if rejection is not None:
            return rejection
    if proposed.ltv >= proposed.liquidation_threshold:
        return Rejection(
            name="LtvNotBelowThreshold",
            args={"ltv": proposed.ltv, "liquidationThreshold": proposed.liquidation_threshold},
        )
    if proposed.liquidation_threshold * (BPS + proposed.liquidation_bonus) >= BPS * BPS:
        return Rejection(
            name="BonusCreatesBadDebt",
            args={
                "liquidationThreshold": proposed.liquidation_threshold,
                "liquidationBonus": proposed.liquidation_bonus,
            },
        )
    return None


def check_update(
    asset: str,
    current: RiskParams,
    proposed: RiskParams,
    bounds: AssetBounds | None,
    last_changed_at: LastChanged,
    timestamp: int,
    valid_until: int,
    paused: bool,
) -> Rejection | None:
    """Mirror of ``RiskParameterGovernor.checkUpdate`` (``bounds is None`` = asset not configured)."""
    if paused:
        return Rejection(name="GovernorPaused", args={})
    if timestamp > valid_until:
        return Rejection(name="UpdateExpired", args={"validUntil": valid_until, "timestamp": timestamp})
    if bounds is None:
        return Rejection(name="AssetNotConfigured", args={"asset": asset})
    return check_change(asset, current, proposed, bounds, last_changed_at, timestamp)


# --------------------------------------------------------------------------- clamping


class ParamClamp(BaseModel):
    """How one parameter went from the model's raw value to the bounded one, and which limit decided it."""

    model_config = ConfigDict(frozen=True)

    param: Param
    current: int
    raw: int
    bounded: int
    # "none", "min", "max", "max_increase", "max_decrease", "min_delay", "min_change", "linked_rule", an
    # ``LtCutHold``'s label (the manipulation guard's "manipulation guard: move not yet confirmed over ...") or a
    # ``LooseningHold``'s (the stress hold's "stress_hold: ...")
    binding: str
    next_change_at: int  # earliest time this parameter may change again (0 = now)


class BoundedUpdate(BaseModel):
    """A raw recommendation after the governor's rules: what would be submitted, and why it differs."""

    model_config = ConfigDict(frozen=True)

    asset: str
    current: RiskParams
    raw: RiskParams
    bounded: RiskParams
    clamps: tuple[ParamClamp, ParamClamp, ParamClamp]

    @property
    def changes(self) -> bool:
        """Whether the bounded update moves any parameter (a no-op is never submitted)."""
        return self.bounded != self.current


def _clamp_param(p: Param, old: int, raw: int, b: ParamBounds, last: int, now: int) -> tuple[int, str]:
    """Closest value to ``raw`` the rules allow now, and the limit that bound it."""
    value, binding = raw, "none"
    if value < b.min:
        value, binding = b.min, "min"
    elif value > b.max:
        value, binding = b.max, "max"
    if value > old + b.max_increase_bps:
        value, binding = old + b.max_increase_bps, "max_increase"
    elif value < old - b.max_decrease_bps:
        value, binding = old - b.max_decrease_bps, "max_decrease"
    if value != old and last != 0 and now < last + b.min_delay_s:
        value, binding = old, "min_delay"
    return value, binding


class LtCutHold(BaseModel):
    """A floor under this update's liquidation-threshold cut, and the label it binds with.

    Why a clamp of its own: an LT cut liquidates at once, so the policy's manipulation guard lets it go no deeper
    than what the confirmed price history supports (``floor``: that view's LT); the report must say this, not a
    governor rule, is what held the cut. Raising LT, LTV and LB are never touched.
    """

    model_config = ConfigDict(frozen=True)

    floor: int
    binding: str


def _hold_cut(old: int, value: int, hold: LtCutHold, b: ParamBounds, min_change_bps: int) -> tuple[int, bool]:
    """The LT after ``hold``: a cut below ``min(old, floor)`` stops there (at ``old`` when what remains of it is
    below the hysteresis), and whether the hold decided it. The held value lies between the governor-clamped one
    and ``old`` (and not above the range), so it keeps the range, the step and the delay the clamp checked."""
    target = min(old, hold.floor, b.max)
    if value >= target:
        return value, False
    return (old if 0 < old - target < min_change_bps else target), True


class LooseningHold(BaseModel):
    """No loosening in this update: LTV and LT may not rise, LB may not fall; ``binding`` labels a held move.

    Why a clamp of its own: the policy's stress hold (``oracle.policy.stress``) keeps a stressed market's
    parameters from loosening, and the report must say this, not a governor rule, is what held the move. A held
    move stays at its current value, which keeps the range, the step and the delay the clamp checked. Cuts of LTV
    or LT and rises of LB are never touched: tightening stays fast.
    """

    model_config = ConfigDict(frozen=True)

    binding: str


def _loosens(p: Param, old: int, new: int) -> bool:
    """Whether moving ``p`` from ``old`` to ``new`` loosens the market (LTV up, LT up, LB down)."""
    return new < old if p == Param.LIQUIDATION_BONUS else new > old


def _next_change_at(moves: bool, last_changed: int, min_delay: int, timestamp: int) -> int:
    """When a parameter may change again after this update (0 = any time)."""
    if moves:
        return timestamp + min_delay
    return 0 if last_changed == 0 else last_changed + min_delay


def clamp_update(
    asset: str,
    current: RiskParams,
    raw: RiskParams,
    bounds: AssetBounds,
    last_changed_at: LastChanged,
    timestamp: int,
    min_change_bps: int = 0,
    lt_hold: LtCutHold | None = None,
    loosening_hold: LooseningHold | None = None,
) -> BoundedUpdate:
    """Clamp ``raw`` into what the governor accepts at ``timestamp``.

    Each parameter is clamped to its range, its direction's step and its min delay; a move smaller than
    ``min_change_bps`` (the policy's hysteresis, not a contract rule) is not made. If the result breaks a
    linked rule, the parameters that moved fall back to their current values until the rules hold: loosening
    moves first (LTV up, LT up, LB down), then LT, LB, LTV. The current parameters satisfy the rules (the
    contract guarantees it), so this ends in a valid update or a no-op. A fallback is recorded as binding
    ``"linked_rule"``. ``lt_hold`` (the manipulation guard) then stops an LT cut at its floor, binding with its
    label, before the linked rules are checked: a held cut is a smaller cut, which the fallback still checks.
    ``loosening_hold`` (the stress hold) likewise keeps every loosening move at its current value, binding with its
    label; without it (and without ``lt_hold``) the clamp is the governor's alone.
    """
    values: dict[Param, int] = {}
    binding: dict[Param, str] = {}
    for p in Param:
        values[p], binding[p] = _clamp_param(
            p, current.get(p), raw.get(p), bounds.get(p), last_changed_at[p], timestamp
        )
        if 0 < abs(values[p] - current.get(p)) < min_change_bps:
            values[p], binding[p] = current.get(p), "min_change"
    if lt_hold is not None:
        lt = Param.LIQUIDATION_THRESHOLD
        held, decided = _hold_cut(current.get(lt), values[lt], lt_hold, bounds.get(lt), min_change_bps)
        if decided:
            values[lt], binding[lt] = held, lt_hold.binding
    if loosening_hold is not None:
        for p in Param:
            if _loosens(p, current.get(p), values[p]):
                values[p], binding[p] = current.get(p), loosening_hold.binding

    def params() -> RiskParams:
        return RiskParams(
            ltv=values[Param.LTV],
            liquidation_threshold=values[Param.LIQUIDATION_THRESHOLD],
            liquidation_bonus=values[Param.LIQUIDATION_BONUS],
        )

    # loosening moves fall back first, then LT (its cuts liquidate at once), LB, LTV
    fallback_order = sorted(
        (p for p in Param if values[p] != current.get(p)),
        key=lambda p: (
            not _loosens(p, current.get(p), values[p]),
            (Param.LIQUIDATION_THRESHOLD, Param.LIQUIDATION_BONUS, Param.LTV).index(p),
        ),
    )
    for p in fallback_order:
        if linked_rules_hold(params()):
            break
        values[p], binding[p] = current.get(p), "linked_rule"

    clamps = tuple(
        ParamClamp(
            param=p,
            current=current.get(p),
            raw=raw.get(p),
            bounded=values[p],
            binding=binding[p],
            next_change_at=_next_change_at(
                values[p] != current.get(p), last_changed_at[p], bounds.get(p).min_delay_s, timestamp
            ),
        )
        for p in Param
    )
    return BoundedUpdate(asset=asset, current=current, raw=raw, bounded=params(), clamps=clamps)


def ltv_cut_only(
    update: BoundedUpdate,
    bounds: AssetBounds,
    last_changed_at: LastChanged,
    timestamp: int,
    min_change_bps: int,
    binding: str,
    *,
    keep_lt_binding: bool = False,
) -> BoundedUpdate | None:
    """``update``'s LTV cut alone, LT and LB kept at their current values and naming ``binding`` (LT keeps its own
    label with ``keep_lt_binding``, when a hold already limited it); ``None`` when ``update`` does not cut LTV.

    Why: an update can fail the risk gate as a whole (an LT cut that would liquidate too much at once, a higher LB
    without the LT cut the manipulation guard held back, an LT the stress hold kept), and its LTV cut would be lost
    with it. Cutting LTV only stops new borrowing and liquidates no one, so it must never wait for the rest."""
    if update.bounded.ltv >= update.current.ltv:
        return None
    raw = RiskParams(
        ltv=update.raw.ltv,
        liquidation_threshold=update.current.liquidation_threshold,
        liquidation_bonus=update.current.liquidation_bonus,
    )
    alone = clamp_update(update.asset, update.current, raw, bounds, last_changed_at, timestamp, min_change_bps)
    reasons = {
        Param.LIQUIDATION_THRESHOLD: update.clamps[Param.LIQUIDATION_THRESHOLD].binding if keep_lt_binding else binding,
        Param.LIQUIDATION_BONUS: binding,
    }
    clamps = tuple(
        c
        if c.param == Param.LTV
        else c.model_copy(update={"raw": update.raw.get(c.param), "binding": reasons[c.param]})
        for c in alone.clamps
    )
    return alone.model_copy(update={"raw": update.raw, "clamps": clamps})
