"""Forecast metrics against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from oracle.models.metrics import christoffersen, diebold_mariano, kupiec, mincer_zarnowitz_r2, qlike, squared_error


def test_qlike_and_mse_by_hand() -> None:
    # proxy 2, forecast 1: 2 - ln 2 - 1; perfect forecast: 0
    assert qlike(np.array([2.0, 3.0]), np.array([1.0, 3.0])) == pytest.approx([1 - math.log(2), 0.0])
    assert squared_error(np.array([2.0, 3.0]), np.array([1.0, 5.0])) == pytest.approx([1.0, 4.0])


def test_mincer_zarnowitz_r2() -> None:
    f = np.array([1.0, 2.0, 3.0, 4.0])
    assert mincer_zarnowitz_r2(2 * f + 1, f) == pytest.approx(1.0)
    # y = (1, 3, 2, 4) on x = (1, 2, 3, 4): r = 0.8, R² = 0.64
    assert mincer_zarnowitz_r2(np.array([1.0, 3.0, 2.0, 4.0]), f) == pytest.approx(0.64)


def test_kupiec_by_hand() -> None:
    # 250 days, 5 breaches, p = 1 %: LR = -2 ln(0.99^245 0.01^5) + 2 ln(0.98^245 0.02^5)
    breaches = np.zeros(250, dtype=bool)
    breaches[[10, 50, 90, 130, 170]] = True
    lr, p = kupiec(breaches, 0.01)
    expected = -2 * (245 * math.log(0.99) + 5 * math.log(0.01)) + 2 * (245 * math.log(0.98) + 5 * math.log(0.02))
    assert lr == pytest.approx(expected)
    assert p == pytest.approx(stats.chi2.sf(expected, 1))
    assert kupiec(np.zeros(100, dtype=bool), 0.01)[0] == pytest.approx(-2 * 100 * math.log(0.99))


def test_christoffersen_by_hand() -> None:
    # sequence 0 0 1 1 0 0 0 1: transitions n00=3, n01=2, n10=1, n11=1
    b = np.array([0, 0, 1, 1, 0, 0, 0, 1])
    lr, p = christoffersen(b)
    pi01, pi11, pi = 2 / 5, 1 / 2, 3 / 7
    restricted = 4 * math.log(1 - pi) + 3 * math.log(pi)
    unrestricted = 3 * math.log(1 - pi01) + 2 * math.log(pi01) + 1 * math.log(1 - pi11) + 1 * math.log(pi11)
    assert lr == pytest.approx(-2 * (restricted - unrestricted))
    assert p == pytest.approx(stats.chi2.sf(lr, 1))
    assert christoffersen(np.zeros(50, dtype=int)) == (0.0, 1.0)


def test_diebold_mariano_by_hand() -> None:
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 4.0, 6.0])
    d = a - b  # -1, 0, -1, -2: mean -1, variance 0.5
    stat, p = diebold_mariano(a, b)
    assert stat == pytest.approx(-1 / math.sqrt(0.5 / 4))
    assert p == pytest.approx(2 * stats.norm.sf(abs(stat)))
    assert d.mean() == -1
