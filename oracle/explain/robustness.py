"""How much a published explanation depends on the explainer: the report's robustness section.

Two checks against the published (exact, when there are few features) Shapley values, both on the same model,
rows and background:

- the seeded permutation explainer, once per seed: the gap says how far a sampling explainer wanders;
- ``shap.KernelExplainer``, an independent implementation of the same quantity: a large gap would point at a bug
  in one of them, not at the model.
"""

from __future__ import annotations

import numpy as np
import shap

from oracle.explain.attribution import MAX_BACKGROUND, OUTPUTS, AssetAttribution, Model, published_values
from oracle.policy.features import FEATURE_NAMES

SEEDS = (1, 2)
KERNEL_SAMPLES = 2 * len(FEATURE_NAMES) + 2048  # every coalition of 9 features fits: the kernel estimate is exact


def _permutation(model: Model, x: np.ndarray, background: np.ndarray, seed: int) -> np.ndarray:
    masker = shap.maskers.Independent(background, max_samples=MAX_BACKGROUND)
    explainer = shap.Explainer(model, masker, algorithm="permutation", seed=seed)
    values = explainer(x, max_evals=2 * x.shape[1] * 10 + 1, silent=True).values
    return np.asarray(values).reshape(x.shape[0], x.shape[1], len(OUTPUTS))


def _kernel(model: Model, x: np.ndarray, background: np.ndarray) -> np.ndarray:
    data = shap.sample(background, MAX_BACKGROUND, random_state=0) if len(background) > MAX_BACKGROUND else background
    explainer = shap.KernelExplainer(model, data, silent=True)
    values = np.asarray(explainer.shap_values(x, nsamples=KERNEL_SAMPLES, silent=True))
    return values.reshape(x.shape[0], x.shape[1], len(OUTPUTS))


def explainer_gaps(
    model: Model,
    x: np.ndarray,
    background: np.ndarray,
    published: list[AssetAttribution],
    seeds: tuple[int, ...] = SEEDS,
) -> tuple[float, float]:
    """Largest absolute gap (bps) of the permutation explainer over ``seeds``, and of the kernel explainer, to the
    ``published`` attributions of the rows of ``x``."""
    reference = published_values(published)
    seed_gap = max(float(np.abs(_permutation(model, x, background, s) - reference).max()) for s in seeds)
    kernel_gap = float(np.abs(_kernel(model, x, background) - reference).max())
    return seed_gap, kernel_gap
