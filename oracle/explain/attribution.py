"""SHAP attributions of the raw recommendation, in basis points, with additivity checked.

Two explanations per asset:

- **against recent conditions**: ``shap.Explainer`` with an Independent masker over a background of recent
  feature vectors; base value = the mean recommendation over that background, and each feature's share of the
  difference. Exact Shapley values (``algorithm="exact"``) when there are at most ``EXACT_MAX_FEATURES`` features,
  a seeded permutation explainer otherwise.
- **since the last cycle**: the same with the previous cycle's features as the only background row, so that
  base = last cycle's raw output and the attributions split the change between cycles.

The raw (float, unbounded) output is explained; rounding and the governor's bounds are shown separately by the
caller. Additivity ``base + sum(attributions) = output`` must hold within ``ADDITIVITY_TOL_BPS``, else
``AttributionError`` is raised and the cycle stops: an explanation that does not add up is not published.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import shap
from pydantic import BaseModel, ConfigDict

from oracle.errors import AttributionError
from oracle.explain.jit_cache import enable_numba_cache
from oracle.policy.features import FEATURE_NAMES, FEATURE_SHORT

enable_numba_cache()  # shap's kernels compile once per machine, not once per process

EXACT_MAX_FEATURES = 14
ADDITIVITY_TOL_BPS = 1e-6
OUTPUTS = ("LTV", "LT", "LB")
MAX_BACKGROUND = 100


class OutputAttribution(BaseModel):
    """One parameter's explanation: base value, output and each feature's contribution, all in bps."""

    model_config = ConfigDict(frozen=True)

    output: str
    base_bps: float
    value_bps: float
    contributions_bps: dict[str, float]
    additivity_error_bps: float

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` largest contributions by magnitude."""
        return sorted(self.contributions_bps.items(), key=lambda kv: -abs(kv[1]))[:n]

    def drivers(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` largest contributions by short feature name, then ``("others", the rest)``: the terms that
        add up, with the base, to the output (how tables, summaries and waterfalls read it)."""
        top = self.top(n)
        rest = sum(self.contributions_bps.values()) - sum(v for _, v in top)
        return [(FEATURE_SHORT[name], v) for name, v in top] + [("others", rest)]


class AssetAttribution(BaseModel):
    """The three parameters' explanations for one asset."""

    model_config = ConfigDict(frozen=True)

    asset: str
    method: str  # "exact" or "permutation(seed=…)"
    background_rows: int
    outputs: tuple[OutputAttribution, OutputAttribution, OutputAttribution]

    def output(self, name: str) -> OutputAttribution:
        return self.outputs[OUTPUTS.index(name)]


Model = Callable[[np.ndarray], np.ndarray]


def _explainer(model: Model, background: np.ndarray, seed: int, names: tuple[str, ...]) -> tuple[shap.Explainer, str]:
    masker = shap.maskers.Independent(background, max_samples=MAX_BACKGROUND)
    if background.shape[1] <= EXACT_MAX_FEATURES:
        return shap.Explainer(model, masker, algorithm="exact", feature_names=list(names)), "exact"
    explainer = shap.Explainer(model, masker, algorithm="permutation", seed=seed, feature_names=list(names))
    return explainer, f"permutation(seed={seed})"


def explain(
    model: Model,
    x: np.ndarray,
    background: np.ndarray,
    assets: list[str],
    *,
    seed: int = 0,
    names: tuple[str, ...] = FEATURE_NAMES,
) -> list[AssetAttribution]:
    """Attributions of ``model``'s outputs at each row of ``x`` (one per asset, columns ``names``: the
    recommendation form's features) against ``background``."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    background = np.atleast_2d(np.asarray(background, dtype=float))
    if x.shape[1] != len(names) or background.shape[1] != len(names):
        raise ValueError(f"expected {len(names)} features, got {x.shape[1]} and {background.shape[1]}")
    explainer, method = _explainer(model, background, seed, names)
    if method == "exact":
        explanation = explainer(x, silent=True)
    else:
        explanation = explainer(x, max_evals=2 * x.shape[1] * 50 + 1, silent=True)
    values = np.asarray(explanation.values).reshape(x.shape[0], x.shape[1], len(OUTPUTS))
    base = np.asarray(explanation.base_values).reshape(x.shape[0], len(OUTPUTS))
    outputs = model(x)
    result = []
    for i, asset in enumerate(assets):
        per_output = []
        for j, name in enumerate(OUTPUTS):
            error = float(abs(base[i, j] + values[i, :, j].sum() - outputs[i, j]))
            if not error <= ADDITIVITY_TOL_BPS:
                raise AttributionError(
                    f"{asset} {name}: base {base[i, j]:.6f} + attributions {values[i, :, j].sum():.6f} != output "
                    f"{outputs[i, j]:.6f} bps (error {error:.3g} > {ADDITIVITY_TOL_BPS})"
                )
            per_output.append(
                OutputAttribution(
                    output=name,
                    base_bps=float(base[i, j]),
                    value_bps=float(outputs[i, j]),
                    contributions_bps={f: float(values[i, k, j]) for k, f in enumerate(names)},
                    additivity_error_bps=error,
                )
            )
        result.append(
            AssetAttribution(asset=asset, method=method, background_rows=len(background), outputs=tuple(per_output))
        )
    return result


def explain_change(
    model: Model, previous: np.ndarray, current: np.ndarray, asset: str, names: tuple[str, ...] = FEATURE_NAMES
) -> AssetAttribution:
    """Attributions of the change of ``model``'s output from ``previous`` features to ``current`` ones."""
    return explain(model, current[None, :], previous[None, :], [asset], names=names)[0]


def published_values(attributions: list[AssetAttribution]) -> np.ndarray:
    """The attributions as an array (assets, features, outputs), in the order they were computed."""
    return np.array(
        [
            [[a.outputs[j].contributions_bps[f] for j in range(len(OUTPUTS))] for f in a.outputs[0].contributions_bps]
            for a in attributions
        ]
    )
