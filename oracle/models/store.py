"""Trained model artifacts: ``<name>.pt`` (weights + hyper-parameters + feature names) and ``<name>.json``
(provenance: sha256 of every data file used, date range, hyper-parameters, metrics, library versions).

Why both: the ``.pt`` is what the keeper loads; the ``.json`` is what a reviewer reads to know what the model
was trained on and how good it was, and what ``load_model`` checks before trusting the weights.

Where: the committed artifact (``ARTIFACT_DIR``, package data) is what every command loads by default, so a training
run writes a new directory (``new_artifact_directory``) unless told to replace it; ``save_model`` never overwrites
an artifact unless ``replace=True``, and writes each file atomically (see ``save_model`` for the order).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable
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
TRAINED_ROOT = Path("models")  # relative: new artifacts go under the working directory, never into the package


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def artifact_paths(directory: Path, name: str) -> tuple[Path, Path]:
    """``directory/<name>.pt`` and ``directory/<name>.json``: the weights ``--model`` names and their metadata."""
    return directory / f"{name}.pt", directory / f"{name}.json"


def new_artifact_directory(name: str, root: Path = TRAINED_ROOT, now: float | None = None) -> Path:
    """``root/<name>-<UTC time>/`` (``-1``, ``-2``… when taken), created empty for one training run.

    Why a new directory per run: the committed artifact is what the keeper loads by default, and a run that
    overwrote it (or an earlier run's output) would replace a reviewed model with an unreviewed one without a word;
    a dated directory keeps every run, and ``--model`` picks one explicitly. Created here (``mkdir`` without
    ``exist_ok``), so that two runs in the same second get two directories.
    """
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    for n in range(1000):
        directory = root / (f"{name}-{stamp}" if n == 0 else f"{name}-{stamp}-{n}")
        try:
            directory.mkdir(parents=True)
        except FileExistsError:
            continue
        return directory
    raise ModelError(f"no free artifact directory for {name}-{stamp} under {root}")


def _write_temp(path: Path, write: Callable[[Any], None]) -> Path:
    """``write(file)`` into a new temporary file beside ``path`` (same directory, hence same file system, so that
    ``os.replace`` is an atomic rename), flushed to disk; returns its path. Exclusive creation with the process id
    in the name: two writers never share a temporary file, and it gets the umask's usual permissions."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temp.open("xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def _fsync_directory(directory: Path) -> None:
    """Make the renames in ``directory`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_model(
    model: NeuralForecaster,
    name: str,
    data_files: list[Path],
    histories: dict[str, pd.DataFrame],
    metrics: dict[str, Any],
    *,
    directory: Path,
    replace: bool = False,
) -> tuple[Path, Path]:
    """Write ``<name>.pt`` and ``<name>.json`` into ``directory``; returns both paths. An existing artifact of that
    name is refused (``ModelError``) unless ``replace``.

    Atomic per file, and in this order: (1) the weights go to a temporary file and are hashed from it, (2) the
    metadata, with that hash, to a second temporary file, both flushed to disk; (3) the weights are renamed into
    place, (4) the metadata last. Nothing is renamed until both temporary files are complete, so a failure while
    writing (disk full, Ctrl-C, a torch error) leaves the previous artifact as it was. The metadata goes last because
    it is the record that vouches for the weights (their sha256): a crash between (3) and (4) leaves new weights
    beside the old metadata, whose hash no longer matches, and ``load_model`` refuses that pair by name instead of
    loading weights under another model's provenance; running ``train`` again repairs it. In a new directory a crash
    there leaves weights without metadata, which ``load_model`` reports as not found.
    """
    directory.mkdir(parents=True, exist_ok=True)
    weights, meta = artifact_paths(directory, name)
    if not replace and (weights.exists() or meta.exists()):
        raise ModelError(f"{weights} (or its .json) already exists: not replaced")
    temp_weights = _write_temp(weights, lambda f: torch.save(model.state(), f))
    temp_meta: Path | None = None
    try:
        metadata = {
            "name": name,
            "features": list(FEATURES),
            "hyper_parameters": asdict(model.hp),
            "data": {p.name: sha256_file(p) for p in sorted(data_files)},
            "date_range": {a: [str(h.index[0].date()), str(h.index[-1].date())] for a, h in sorted(histories.items())},
            "train_loss": [round(x, 6) for x in model.train_loss],
            "metrics": metrics,
            "weights_sha256": sha256_file(temp_weights),
            "versions": {
                "python": platform.python_version(),
                "torch": torch.__version__,
                "numpy": np.__version__,
                "pandas": pd.__version__,
                "arch": version("arch"),  # not imported: 1.3 s that loading a model does not need
            },
        }
        text = (json.dumps(metadata, indent=1, sort_keys=True) + "\n").encode()
        temp_meta = _write_temp(meta, lambda f: f.write(text))
        os.replace(temp_weights, weights)
        os.replace(temp_meta, meta)
    finally:  # after a failure: no temporary file is left behind (after success they are gone already)
        temp_weights.unlink(missing_ok=True)
        if temp_meta is not None:
            temp_meta.unlink(missing_ok=True)
    _fsync_directory(directory)
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
