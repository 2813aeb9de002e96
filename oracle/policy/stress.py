"""The stress hold: whether an asset's market is too stressed this cycle for its LTV or LT to rise (or its LB to
fall), from the snapshot's feed history and the cycle's forecast alone, so that ``verify`` re-runs it.

Why: in the demo's June 2022 (3AC / Celsius, σ 5-9 % a day) the recommendation, fitted to the recent market, still
asked for a higher LT on every asset, and the governor lets LT rise by its ``max_increase_bps`` each time. Cutting
stays fast; loosening is slow (the governor's steps) and happens only in calm (this module). Any one of three
conditions of the policy's ``StressHold`` holds loosening:

- **regime**: the forecast's regime label (0 calm, 0.5, 1 stressed) is at least ``regime_at_least``; the EWMA
  fallback has no label, which counts as stressed (as the features read it: ``UNKNOWN_REGIME``);
- **σ above its trailing median**: the cycle's forecast σ (the model's, or the fallback's) is above the median of
  the RiskMetrics EWMA σ (λ 0.94, started on the mean square of the first 30 returns, which are not counted) made at
  each of the last ``median_days`` daily closes, fewer when the candles hold fewer. The EWMA needs nothing but the
  candles, so every asset has the same yardstick whatever its forecast; without one EWMA σ (under 32 consecutive
  days) there is nothing to compare with, which holds too;
- **VaR99 breach**: a daily log return among the last ``breach_days`` candles (the latest included) fell below
  minus the normal 99 % quantile (2.326) times the EWMA σ known before that day: RiskMetrics' one-day VaR99. The
  normal tail flags more days than the model's Student-t would: the cautious reading, for a rule that only ever
  holds loosening back;
- **drawdown** (when the policy sets ``drawdown_max``): the latest close is more than ``drawdown_max`` below the
  highest close of the candles of the last ``drawdown_days`` days (fewer when the snapshot carries fewer). The σ
  rules see only volatility, and a quiet week inside a bear market passes them: in the daily replay of 2022
  (``benchmarks/replay_2022.py``) WBTC and AAVE rose on 7-12 June, between Terra and 3AC, on σ of 3 % and 6 %.

The candles are the latest run of consecutive daily windows (``contiguous_tail``): a return across a gap would span
two days and could pass for a breach. A day is named by the date (UTC) its 24-hour window ends on.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from oracle.data.candles import contiguous_tail
from oracle.domain.fields import unset
from oracle.domain.forecast import VolForecast
from oracle.domain.policy import StressHold
from oracle.models.base import EWMA_LAMBDA, EWMA_WARMUP, ewma_variances

LABEL = "stress_hold"  # every binding label of the hold starts with it
Z99 = float(-stats.norm.ppf(0.01))  # RiskMetrics' VaR99 in standard deviations
MIN_DAYS = EWMA_WARMUP + 2  # candles for one EWMA σ of the series (and one return it could breach)
REGIME_NAMES = {0.5: "mid", 1.0: "stressed"}


class StressState(BaseModel):
    """One asset's stress conditions this cycle, with their figures; ``reasons`` holds a label per condition that
    holds (each starting ``stress_hold:``), and the hold is on when there is one."""

    model_config = ConfigDict(frozen=True)

    regime: float | None = Field(description="the forecast's regime label; None (EWMA fallback) counts as stressed")
    regime_at_least: float = Field(description="the policy's: a label at least this holds")
    sigma_1d: float = Field(description="the cycle's forecast σ of the next day's log return")
    sigma_median: float | None = Field(description="median EWMA σ over the window; None without EWMA history")
    median_days: int = Field(description="days the median is over (the policy's, or fewer when history is short)")
    breach_days: int = Field(description="the policy's: candles, the latest included, a breach holds for")
    breach_day: str | None = Field(description="latest day (UTC date) of the window below its VaR99; None: none")
    breach_return: float | None = Field(description="that day's log return")
    breach_var99: float | None = Field(description="that day's VaR99 as a log return (negative)")
    # the drawdown rule's figures; None without one in the policy (left out of the JSON: earlier reports had none)
    drawdown: float | None = Field(
        default=None, exclude_if=unset, description="the latest close's fall from the window's highest close"
    )
    drawdown_max: float | None = Field(default=None, exclude_if=unset, description="the policy's: holds above this")
    drawdown_days: int | None = Field(
        default=None, exclude_if=unset, description="days the high is over (the policy's, or fewer)"
    )
    reasons: tuple[str, ...]

    @property
    def held(self) -> bool:
        """Whether LTV and LT may not rise (nor LB fall) this cycle."""
        return bool(self.reasons)

    @property
    def binding(self) -> str | None:
        """The label a held move names as its binding limit: the first condition that holds."""
        return self.reasons[0] if self.reasons else None

    @property
    def text(self) -> str:
        """Every condition with its figures, in words (the report's line)."""
        regime = (
            "regime unknown (EWMA fallback)"
            if self.regime is None
            else f"regime {self.regime:.1f} (holds from {self.regime_at_least:g})"
        )
        sigma = (
            "no EWMA σ history to compare σ with"
            if self.sigma_median is None
            else f"σ {self.sigma_1d:.1%} vs its {self.median_days}-day median {self.sigma_median:.1%}"
        )
        if self.breach_day is None or self.breach_return is None or self.breach_var99 is None:
            breach = f"no VaR99 breach in the last {self.breach_days} days"
        else:
            breach = (
                f"VaR99 breach on {self.breach_day} (log return {self.breach_return:.1%} below {self.breach_var99:.1%})"
            )
        state = "on" if self.held else "off"
        text = f"{state}: {regime}; {sigma}; {breach}"
        if self.drawdown is not None and self.drawdown_max is not None:
            text += (
                f"; close {self.drawdown:.1%} below its {self.drawdown_days}-day high (holds above "
                f"{self.drawdown_max:.0%})"
            )
        return text


def ewma_track(candles: pd.DataFrame) -> pd.DataFrame:
    """Per daily candle of the latest consecutive run with a clean EWMA (λ 0.94) behind it: the day's log return
    ``r``, the EWMA σ known before it (``sigma_before``, what its VaR99 reads) and the one made at its close
    (``sigma``, what the median reads), indexed by the candle's window end. Empty under ``MIN_DAYS`` candles."""
    run = contiguous_tail(candles)
    closes = run["close"].to_numpy(dtype=float) if not run.empty else np.empty(0)
    if closes.size < MIN_DAYS:
        return pd.DataFrame({"r": [], "sigma_before": [], "sigma": []}, dtype=float)
    r = np.diff(np.log(closes))
    sigma = np.sqrt(ewma_variances(r, EWMA_LAMBDA, EWMA_WARMUP))  # entry i: known before return i
    # candle j carries return j - 1; entries before EWMA_WARMUP returns lean on later returns: not counted
    days = slice(EWMA_WARMUP + 1, closes.size)
    return pd.DataFrame(
        {"r": r[EWMA_WARMUP:], "sigma_before": sigma[EWMA_WARMUP:-1], "sigma": sigma[EWMA_WARMUP + 1 :]},
        index=run.index[days],
    )


def drawdown_from_high(candles: pd.DataFrame, days: int) -> tuple[float, int]:
    """The latest close's fall from the highest close of the candles whose window ends within ``days`` days of
    the latest one's (all of them when they span less), and the days that covers. A gap does not matter here: the
    high of a window is its high whatever is missing inside it."""
    closes = candles["close"].astype(float)
    if closes.empty:
        return 0.0, 0
    window = closes[closes.index > closes.index[-1] - pd.Timedelta(days=days)]
    span = min(days, int((window.index[-1] - window.index[0]) / pd.Timedelta(days=1)) + 1)
    return float(1.0 - window.iloc[-1] / window.max()), span


def _regime_name(label: float) -> str:
    return REGIME_NAMES.get(label, f"{label:g}")


def stress_state(candles: pd.DataFrame, forecast: VolForecast, rule: StressHold) -> StressState:
    """``forecast``'s asset's stress conditions under ``rule``, from its daily ``candles``."""
    track = ewma_track(candles)
    reasons = []
    if forecast.regime is None:
        reasons.append(f"{LABEL}: regime unknown (EWMA fallback)")
    elif forecast.regime >= rule.regime_at_least:
        reasons.append(f"{LABEL}: regime {_regime_name(forecast.regime)} ({forecast.regime:.1f})")

    window = track["sigma"].iloc[-rule.median_days :]
    median = float(np.median(window.to_numpy())) if len(window) else None
    if median is None:
        reasons.append(f"{LABEL}: no EWMA σ history to compare σ with (needs {MIN_DAYS} days)")
    elif forecast.sigma > median:
        reasons.append(f"{LABEL}: σ {forecast.sigma:.1%} above its {len(window)}-day median {median:.1%}")

    recent = track.iloc[-rule.breach_days :] if rule.breach_days else track.iloc[:0]
    var99 = -Z99 * recent["sigma_before"]
    breached = recent[recent["r"] < var99]
    day = ret = limit = None
    if len(breached):
        when = breached.index[-1]
        day, ret, limit = when.strftime("%Y-%m-%d"), float(breached["r"].iloc[-1]), float(var99.loc[when])
        reasons.append(f"{LABEL}: VaR99 breach on {day} (within {rule.breach_days} days)")

    drawdown = days = None
    if rule.drawdown_max is not None and rule.drawdown_days is not None:
        drawdown, days = drawdown_from_high(candles, rule.drawdown_days)
        if drawdown > rule.drawdown_max:
            reasons.append(f"{LABEL}: close {drawdown:.1%} below its {days}-day high")

    return StressState(
        regime=forecast.regime,
        regime_at_least=rule.regime_at_least,
        sigma_1d=forecast.sigma,
        sigma_median=median,
        median_days=len(window),
        breach_days=rule.breach_days,
        breach_day=day,
        breach_return=ret,
        breach_var99=limit,
        drawdown=drawdown,
        drawdown_max=rule.drawdown_max,
        drawdown_days=days,
        reasons=tuple(reasons),
    )


def stress_states(
    candles: Mapping[str, pd.DataFrame], forecasts: tuple[VolForecast, ...], rule: StressHold | None
) -> dict[str, StressState]:
    """Every forecast asset's stress state by symbol (none without a ``[stress_hold]`` in the policy)."""
    if rule is None:
        return {}
    return {f.asset: stress_state(candles[f.asset], f, rule) for f in forecasts}
