"""`risk-oracle train` never replaces the committed model unless asked, and writes every artifact file atomically
(no chain needed). The training itself is shrunk (two epochs, one refit) so that the command runs in seconds; the
full-size run is measured by hand (see the brief's report)."""

from __future__ import annotations

import functools
import hashlib
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import oracle.models.evaluate as evaluate
import oracle.models.store as store
import oracle.models.volatility as volatility
from oracle.cli import app
from oracle.data.demo_prices import load_demo_prices
from oracle.errors import ModelError
from oracle.models.store import artifact_paths, load_model, new_artifact_directory, save_model
from oracle.models.volatility import HyperParams, NeuralForecaster

SMALL = HyperParams(epochs=2, hidden=8, seq_len=16, ensemble=1)
Trained = tuple[NeuralForecaster, dict[str, pd.DataFrame]]  # a model and the histories it was fitted on
ENV = {"COLUMNS": "250", "ORACLE_DATA_DIR": None}


def _write_daily(directory: Path, asset: str) -> None:
    """``<asset>_usd_1d.csv``: the embedded real closes (January-June 2022) replayed three times, ~1.5 years of
    daily candles whose range spans open and close by 1 % (enough history for the features' one-year levels)."""
    closes = np.array([p for _, p in load_demo_prices()[asset]])
    returns = np.tile(np.diff(np.log(closes)), 3)
    close = closes[0] * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    opens = np.concatenate([[close[0]], close[:-1]])
    days = pd.date_range("2021-01-01", periods=len(close), freq="D", tz="UTC")
    pd.DataFrame(
        {
            "timestamp": days.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "open": opens,
            "high": np.maximum(opens, close) * 1.01,
            "low": np.minimum(opens, close) * 0.99,
            "close": close,
            "volume": 1.0,
        }
    ).to_csv(directory / f"{asset}_usd_1d.csv", index=False)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("data")
    for asset in ("eth", "btc"):
        _write_daily(directory, asset)
    return directory


@pytest.fixture(scope="module")
def small_model(data_dir: Path) -> Trained:
    histories = evaluate.load_daily(data_dir)
    return NeuralForecaster(SMALL).fit_pooled(histories), histories


@pytest.fixture(scope="module")
def forecasts(small_model: Trained) -> pd.DataFrame:
    histories = small_model[1]
    return evaluate.walk_forward(histories, evaluate.default_start(histories), hp=SMALL, refit_days=10_000)


@pytest.fixture
def small_training(monkeypatch: pytest.MonkeyPatch, forecasts: pd.DataFrame) -> None:
    """`train` with a two-epoch, one-network model; its walk-forward (the recorded metrics) computed once."""
    monkeypatch.setattr(evaluate, "walk_forward", lambda *args, **kwargs: forecasts)
    monkeypatch.setattr(volatility, "NeuralForecaster", functools.partial(NeuralForecaster, SMALL))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(model: Trained, directory: Path, **kw: Any) -> tuple[Path, Path]:
    forecaster, histories = model
    return save_model(forecaster, "m", [], histories, {"qlike": 0.5}, directory=directory, **kw)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# ------------------------------------------------------------------------------------------ save_model


def test_an_existing_artifact_is_replaced_only_when_asked(small_model: Trained, tmp_path: Path) -> None:
    weights, meta = _save(small_model, tmp_path)
    before = _sha(weights), _sha(meta)
    with pytest.raises(ModelError, match="already exists"):
        _save(small_model, tmp_path)
    assert (_sha(weights), _sha(meta)) == before
    meta.write_text(meta.read_text().replace('"qlike": 0.5', '"qlike": 0.25'))  # so that a rewrite shows
    _save(small_model, tmp_path, replace=True)
    assert load_model(weights)[1]["metrics"] == {"qlike": 0.5}
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("failing", ["torch.save", "metadata"])
def test_a_failure_while_writing_leaves_the_previous_artifact(
    small_model: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    weights, meta = _save(small_model, tmp_path)
    before = _sha(weights), _sha(meta)

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    if failing == "torch.save":
        monkeypatch.setattr(store.torch, "save", boom)
    else:
        monkeypatch.setattr(store.json, "dumps", boom)
    with pytest.raises(OSError, match="disk full"):
        _save(small_model, tmp_path, replace=True)
    assert (_sha(weights), _sha(meta)) == before  # nothing renamed before both files were complete
    load_model(weights)
    assert _leftovers(tmp_path) == []


def test_a_crash_between_the_renames_is_refused_at_load(
    small_model: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Weights are renamed first, metadata last: a crash in between leaves new weights beside metadata that vouches
    for the old ones, which load_model refuses by name (the documented worst case), never a silent mismatch."""
    weights, _meta = _save(small_model, tmp_path)
    histories = small_model[1]
    other = NeuralForecaster(HyperParams(epochs=1, hidden=8, seq_len=16, ensemble=1, seed=99)).fit_pooled(histories)
    renames: list[tuple[str, str]] = []
    real_replace: Callable[..., None] = os.replace

    def crash_on_second(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        renames.append((Path(src).name, Path(dst).name))
        if len(renames) == 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(store.os, "replace", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        save_model(other, "m", [], histories, {}, directory=tmp_path, replace=True)
    assert [dst for _src, dst in renames] == ["m.pt", "m.json"]
    assert all(src.startswith(f".{dst}.") and src.endswith(".tmp") for src, dst in renames)
    with pytest.raises(ModelError, match="do not match the sha256"):
        load_model(weights)
    assert _leftovers(tmp_path) == []


def test_new_artifact_directories_are_fresh_and_dated(tmp_path: Path) -> None:
    now = time.mktime((2025, 3, 4, 5, 6, 7, 0, 0, 0)) - time.timezone  # 2025-03-04 05:06:07 UTC
    first = new_artifact_directory("volatility", tmp_path / "models", now)
    again = new_artifact_directory("volatility", tmp_path / "models", now)
    assert first == tmp_path / "models" / "volatility-20250304T050607Z" and first.is_dir()
    assert again == tmp_path / "models" / "volatility-20250304T050607Z-1" and again.is_dir()
    assert store.TRAINED_ROOT == Path("models") and not store.TRAINED_ROOT.is_absolute()  # the working directory


# ------------------------------------------------------------------------------------------ the command


@pytest.mark.usefixtures("small_training")
def test_train_writes_a_new_directory_and_names_the_model_argument(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    committed = store.ARTIFACT_DIR / "volatility.pt"
    before = _sha(committed), _sha(committed.with_suffix(".json"))
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["train", "--data-dir", str(data_dir)], env=ENV)
    assert result.exit_code == 0, result.output
    (model_arg,) = re.findall(r"use it with: --model (\S+)", result.output)
    assert re.fullmatch(r"models/volatility-\d{8}T\d{6}Z/volatility\.pt", model_arg), model_arg
    _model, metadata = load_model(Path(model_arg))  # what other commands' --model loads
    assert metadata["hyper_parameters"]["epochs"] == SMALL.epochs and set(metadata["metrics"]["qlike"]) == {
        "btc",
        "eth",
    }
    assert (_sha(committed), _sha(committed.with_suffix(".json"))) == before, "the committed model is untouched"
    assert _leftovers(Path(model_arg).parent) == []


@pytest.mark.usefixtures("small_training")
def test_train_out_and_replace_committed(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "mine"
    result = CliRunner().invoke(app, ["train", "--data-dir", str(data_dir), "--out", str(out)], env=ENV)
    assert result.exit_code == 0, result.output
    assert f"--model {out}/volatility.pt" in result.output
    written = _sha(out / "volatility.pt")
    again = CliRunner().invoke(app, ["train", "--data-dir", str(data_dir), "--out", str(out)], env=ENV)
    assert again.exit_code == 2 and "already holds a volatility artifact" in again.output  # before any training
    assert "walk-forward" not in again.output and _sha(out / "volatility.pt") == written
    both = CliRunner().invoke(app, ["train", "--out", str(out), "--replace-committed"], env=ENV)
    assert both.exit_code == 2 and "exclude each other" in both.output

    committed = tmp_path / "artifacts"  # stands for oracle/models/artifacts/
    committed.mkdir()
    for path in artifact_paths(committed, "volatility"):
        path.write_text("the previous committed artifact")
    monkeypatch.setattr(store, "ARTIFACT_DIR", committed)
    replaced = CliRunner().invoke(app, ["train", "--data-dir", str(data_dir), "--replace-committed"], env=ENV)
    assert replaced.exit_code == 0, replaced.output
    assert "replaced the committed model" in replaced.output
    load_model(committed / "volatility.pt")
    assert _leftovers(committed) == []


def test_train_refuses_a_name_with_a_directory() -> None:
    result = CliRunner().invoke(app, ["train", "--name", "../escape"], env=ENV)
    assert result.exit_code == 2 and "plain file name" in result.output
