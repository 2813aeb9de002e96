"""Calibration is reproducible, meets the appetite it was fitted to, and a stale or edited file is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from oracle.config import load_policy
from oracle.errors import ConfigError
from oracle.policy.calibrate import Calibration, calibrate, calibrate_edge, calibration_path, load_calibration

POLICY = load_policy()


def test_form_1_calibration_is_reproducible_and_meets_the_appetite() -> None:
    first_policy = POLICY.model_copy(update={"risk": POLICY.risk.model_copy(update={"liquidators": None})})
    first = calibrate(first_policy, paths=200, positions=120, seed=3)
    second = calibrate(first_policy, paths=200, positions=120, seed=3)
    assert first.form == 1
    assert first == second and first.sha256 == first.content_hash()
    assert first.coefficients.k_lt > 0 and first.coefficients.k_ltv > 0
    for fit in first.scenarios:
        assert fit.edge_es99_share <= POLICY.risk.es99_max_share
        assert fit.opened_at_ltv_liquidated_p99_usd == 0


def test_form_2_calibration_keeps_the_edge_book_within_the_appetite_and_is_reproducible() -> None:
    grid = {"sigmas": (0.04, 0.1), "depth_ratios": (0.05, 0.3), "tops": (0.25,)}
    first = calibrate_edge(POLICY, paths=150, seed=3, **grid)
    assert first == calibrate_edge(POLICY, paths=150, seed=3, **grid) and first.sha256 == first.content_hash()
    assert first.form == 2 and first.coefficients.k_lt > 0
    assert first.edge_scenarios is not None and len(first.edge_scenarios) == 4
    for fit in first.edge_scenarios:
        if fit.feasible:
            assert max(fit.edge_es99_1d_share, fit.edge_es99_cut_share) <= POLICY.risk.es99_max_share
        assert fit.opened_at_ltv_liquidated_p99_usd == 0
    lt = {(f.sigma_1d, f.depth_ratio): f.lt_bps for f in first.edge_scenarios}
    assert lt[(0.04, 0.05)] > lt[(0.1, 0.05)] and lt[(0.04, 0.05)] > lt[(0.04, 0.3)]


def test_committed_calibration_matches_the_policy() -> None:
    calibration = load_calibration(POLICY)
    assert calibration.policy == POLICY.name and calibration.form == 2
    assert calibration.edge_scenarios is not None
    # the calibrated function is not degenerate: calm deep markets get more room than crashes and thin pools
    lt = {(f.sigma_1d, f.depth_ratio, f.top_share): f.lt_bps for f in calibration.edge_scenarios}
    assert lt[(0.02, 0.01, 0.1)] > lt[(0.08, 0.01, 0.1)] + 1000
    assert lt[(0.04, 0.01, 0.1)] > lt[(0.04, 0.2, 0.1)] + 1000
    assert all(
        max(f.edge_es99_1d_share, f.edge_es99_cut_share) <= POLICY.risk.es99_max_share
        for f in calibration.edge_scenarios
        if f.feasible
    )


def _copy_policy(tmp_path: Path, edit: str = "") -> Path:
    src = POLICY.source
    assert src is not None
    text = src.read_text()
    if edit:
        text = text.replace("es99_max_share = 0.001", edit)
    (tmp_path / "p.toml").write_text(text)
    shutil.copy(calibration_path(POLICY), tmp_path / POLICY.risk.calibration)
    return tmp_path / "p.toml"


def test_a_changed_appetite_needs_a_new_calibration(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="another risk appetite"):
        load_calibration(load_policy(_copy_policy(tmp_path, "es99_max_share = 0.002")))


def test_an_edited_calibration_is_refused(tmp_path: Path) -> None:
    policy = load_policy(_copy_policy(tmp_path))
    path = calibration_path(policy)
    edited = Calibration.model_validate_json(path.read_text())
    tampered = edited.model_copy(update={"coefficients": edited.coefficients.model_copy(update={"k_lt": 0.01})})
    path.write_text(tampered.model_dump_json())
    with pytest.raises(ConfigError, match="sha256"):
        load_calibration(policy)
    path.unlink()
    with pytest.raises(ConfigError, match="not found"):
        load_calibration(policy)
