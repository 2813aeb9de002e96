"""The *confirmed* price history of a feed: its rounds with every jump held back until its window confirms it.

Why: the manipulation guard (``Policy.manipulation_guard``) lets a liquidation-threshold cut go only as deep as
the market's confirmed history supports, so that one manipulated round cannot liquidate borrowers through the
volatility forecast. A round's *window* is the shortest run of rounds ending at it that holds at least
``confirm_rounds`` rounds and spans at least ``confirm_s`` seconds (the whole prefix while the history is
shorter). A round farther than ``jump_ratio`` from its window's median is a *jump* and is replaced by that median;
so a jump enters the confirmed series only once more than half of its window shows it, and a one-round spike that
reverted never does.

Why only jumps and not every round: a plain running median would erase every day's range (the demo replays each
day as open, low, high, close: the high and the low are single rounds), and the forecast from it would be far
calmer than the market (on the demo snapshot WETH's one-day σ 0.072 -> 0.057, LINK's 0.071 -> 0.021), so the
guard would hold back every LT cut, legitimate ones included. With the jump threshold a history without jumps
is its own confirmed history, exactly, and the guard costs nothing.

Each round is judged by its own trailing window only (causal): the confirmed series at a round never depends on
later rounds, so a cycle's confirmed view is the same whenever it is recomputed from the same snapshot.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

from oracle.domain.policy import ManipulationGuard
from oracle.domain.snapshot import AssetState, FeedRound


def _window_start(times: Sequence[int], i: int, rounds: int, seconds: int) -> int:
    """First index of round ``i``'s window: at least ``rounds`` rounds and ``seconds`` seconds, or the prefix."""
    spanned = bisect_right(times, times[i] - seconds) - 1  # the last round at least ``seconds`` before round i
    return max(0, min(i - rounds + 1, spanned))


def _median(answers: Sequence[int], previous: int) -> int:
    """The window's median as one of its answers: of an even window's two middle answers, the one closer to the
    previous confirmed answer (an evenly split window confirms neither side: the series stays where it was)."""
    ordered = sorted(answers)
    n = len(ordered)
    if n % 2:
        return ordered[n // 2]
    low, high = ordered[n // 2 - 1], ordered[n // 2]
    return low if abs(previous - low) <= abs(high - previous) else high


def confirmed_history(history: Sequence[FeedRound], guard: ManipulationGuard) -> tuple[FeedRound, ...]:
    """``history`` (oldest first) with each jump replaced by its window's median; round ids and times unchanged,
    and a round that is no jump unchanged (the very same object)."""
    times = [r.updated_at for r in history]
    answers = [r.answer for r in history]
    limit = math.log(guard.jump_ratio)
    out: list[FeedRound] = []
    for i, r in enumerate(history):
        start = _window_start(times, i, guard.confirm_rounds, guard.confirm_s)
        median = _median(answers[start : i + 1], out[-1].answer if out else r.answer)
        if r.answer > 0 and median > 0 and abs(math.log(r.answer / median)) <= limit:
            out.append(r)
        else:
            out.append(r.model_copy(update={"answer": median}))
    return tuple(out)


def confirmed_asset(asset: AssetState, guard: ManipulationGuard) -> AssetState:
    """``asset`` with its confirmed history (``asset`` itself when no round of it is a jump). Only the history
    changes: the latest price, the positions and their values stay what the chain shows."""
    history = confirmed_history(asset.history, guard)
    if all(c is r for c, r in zip(history, asset.history, strict=True)):
        return asset
    return asset.model_copy(update={"history": history})
