"""The windows a backtest replays: the named crises, a calm year, any ``start:end`` range, and ``all``.

Why named: a DAO asks "what would it have done in 2022-06?"; the names are the crises the issue and RESULTS.md
talk about, with their dates in one place. Days are UTC and inclusive: ``2022-06-01:2022-06-30`` replays every
hour from 2022-06-01T00 to 2022-06-30T23 (its last hour's close is known at 2022-07-01T00).
"""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import BaseModel, ConfigDict, model_validator

from oracle.errors import ConfigError


class Window(BaseModel):
    """A named run of whole UTC days, ``start`` to ``end`` inclusive."""

    model_config = ConfigDict(frozen=True)

    name: str
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end < self.start:
            raise ValueError(f"window {self.name}: end {self.end} is before start {self.start}")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def hours(self) -> int:
        return 24 * self.days

    def label(self) -> str:
        return f"{self.name} ({self.start}:{self.end})"


def _w(name: str, start: str, end: str) -> Window:
    return Window(name=name, start=date.fromisoformat(start), end=date.fromisoformat(end))


CRISES: tuple[Window, ...] = (
    _w("2020-03", "2020-03-05", "2020-03-25"),  # Black Thursday (2020-03-12)
    _w("2021-05", "2021-05-12", "2021-05-31"),  # 2021-05-19
    _w("2022-05", "2022-05-05", "2022-05-25"),  # Terra/LUNA
    _w("2022-06", "2022-06-01", "2022-06-30"),  # 3AC/Celsius
    _w("2022-11", "2022-11-04", "2022-11-20"),  # FTX
    _w("2023-03", "2023-03-08", "2023-03-20"),  # the USDC depeg weekend
    _w("2024-08", "2024-07-29", "2024-08-15"),  # 2024-08-05
)
CALM: tuple[Window, ...] = (_w("calm-2023", "2023-06-01", "2023-08-31"),)
NAMED: dict[str, Window] = {w.name: w for w in (*CRISES, *CALM)}
DEFAULT_WINDOW = "2022-06"  # the embedded extract covers it


def parse_window(spec: str) -> tuple[Window, ...]:
    """``crises``, ``calm``, a name of ``NAMED``, or ``YYYY-MM-DD:YYYY-MM-DD``; ``all`` is resolved against the
    data (``oracle.backtest.prices.full_window``), so it is refused here. Raises ``ConfigError`` naming the spec."""
    spec = spec.strip()
    if spec == "crises":
        return CRISES
    if spec == "calm":
        return CALM
    if spec in NAMED:
        return (NAMED[spec],)
    if ":" in spec:
        first, _, last = spec.partition(":")
        try:
            start, end = date.fromisoformat(first), date.fromisoformat(last)
        except ValueError as exc:
            raise ConfigError(f"window {spec!r}: dates must be YYYY-MM-DD:YYYY-MM-DD ({exc})") from exc
        if end < start:
            raise ConfigError(f"window {spec!r}: end is before start")
        return (Window(name=spec, start=start, end=end),)
    known = ", ".join(["crises", "calm", "all", *NAMED])
    raise ConfigError(f"unknown window {spec!r}: use YYYY-MM-DD:YYYY-MM-DD or one of {known}")
