"""Trained model artifacts: ``<name>.pt`` (weights + hyper-parameters + feature names) and ``<name>.json``
(provenance: sha256 of every data file used, date range, hyper-parameters, metrics, library versions).

Why both: the ``.pt`` is what the keeper loads; the ``.json`` is what a reviewer reads to know what the model
was trained on and how good it was, and what ``load_model`` checks before trusting the weights.
"""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import asdict
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from oracle.errors import ModelError
from oracle.models.volatility import FEATURES, NeuralForecaster

ARTIFACT_DIR = Path(str(files("oracle.models").joinpath("artifacts")))  # package data
DEFAULT_NAME = "volatility"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def save_model(
    model: NeuralForecaster,
    name: str,
    data_files: list[Path],
    histories: dict[str, pd.DataFrame],
    metrics: dict[str, Any],
    directory: Path = ARTIFACT_DIR,
) -> tuple[Path, Path]:
    """Write ``<name>.pt`` and ``<name>.json``; returns both paths."""
    directory.mkdir(parents=True, exist_ok=True)
    weights, meta = directory / f"{name}.pt", directory / f"{name}.json"
    torch.save(model.state(), weights)
    metadata = {
        "name": name,
        "features": list(FEATURES),
        "hyper_parameters": asdict(model.hp),
        "data": {p.name: sha256_file(p) for p in sorted(data_files)},
        "date_range": {a: [str(h.index[0].date()), str(h.index[-1].date())] for a, h in sorted(histories.items())},
        "train_loss": [round(x, 6) for x in model.train_loss],
        "metrics": metrics,
        "weights_sha256": sha256_file(weights),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "arch": version("arch"),  # not imported: 1.3 s that loading a model does not need
        },
    }
    meta.write_text(json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return weights, meta


def load_model(path: Path = ARTIFACT_DIR / f"{DEFAULT_NAME}.pt") -> tuple[NeuralForecaster, dict[str, Any]]:
    """Load weights and metadata; refuses an artifact whose features differ from the code's or whose weights do
    not match the hash in its metadata."""
    meta_path = path.with_suffix(".json")
    if not path.is_file() or not meta_path.is_file():
        raise ModelError(f"model artifact not found: {path} (+ .json); run `risk-oracle train`")
    metadata = json.loads(meta_path.read_text())
    if metadata.get("features") != list(FEATURES):
        raise ModelError(f"{path}: trained on features {metadata.get('features')}, the code uses {list(FEATURES)}")
    if metadata.get("weights_sha256") != sha256_file(path):
        raise ModelError(f"{path}: weights do not match the sha256 in {meta_path.name}")
    try:
        model = NeuralForecaster.from_state(torch.load(path, weights_only=False))
    except (ModelError, ValueError, KeyError, RuntimeError) as exc:
        raise ModelError(f"{path}: {exc}") from exc
    return model, metadata
