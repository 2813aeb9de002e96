"""Field helpers shared by the pydantic models that reports embed."""

from __future__ import annotations


def unset(value: object) -> bool:
    """``exclude_if`` of an optional field added after version 1: left out of the JSON while unset, so that models
    written before it existed (reports, calibrations, policies embedded in them) serialise to the same bytes and
    keep their hashes."""
    return value is None
