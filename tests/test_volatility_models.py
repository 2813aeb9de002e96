"""Volatility models on a small slice of real history (the embedded extract plus a synthetic-free fixture):
shapes, determinism, no look-ahead, baselines against independent computations, artifact round-trip."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from arch import arch_model

from oracle.data.demo_prices import load_demo_prices
from oracle.errors import ModelError
from oracle.models.base import daily_history
from oracle.models.baselines import EWMA, HAR, GarchT
from oracle.models.evaluate import score, walk_forward
from oracle.models.volatility import FEATURES, GARCH_ALPHA, GARCH_BETA, HyperParams, NeuralForecaster, targeted_garch

SMALL = HyperParams(epochs=2, hidden=8, seq_len=16)


def _history(asset: str) -> pd.DataFrame:
    """A daily OHLC history from the embedded real closes (January-June 2022): their 180 daily log returns,
    replayed three times in a row (~1.5 years of real day-to-day moves, no jumps between repeats); each candle's
    range spans its open and close by 1 %."""
    closes = np.array([p for _, p in load_demo_prices()[asset]])
    returns = np.tile(np.diff(np.log(closes)), 3)
    series = closes[0] * np.exp(np.concatenate([[0.0], np.cumsum(returns)]))
    days = pd.date_range("2021-01-01", periods=len(series), freq="D", tz="UTC")
    opens = np.concatenate([[series[0]], series[:-1]])
    ohlc = pd.DataFrame(
        {
            "open": opens,
            "close": series,
            "high": np.maximum(opens, series) * 1.01,
            "low": np.minimum(opens, series) * 0.99,
        },
        index=days,
    )
    return daily_history(ohlc)


@pytest.fixture(scope="module")
def histories() -> dict[str, pd.DataFrame]:
    return {a: _history(a) for a in ("eth", "btc", "link")}


def test_ewma_matches_the_recursion(histories) -> None:
    h = histories["eth"]
    f = EWMA().fit(h).forecast(h, h.index[0])
    var = np.mean(h["r"].to_numpy()[:30] ** 2)
    for i, r in enumerate(h["r"].to_numpy()[:100]):
        assert f["variance"].iloc[i] == pytest.approx(var)
        var = 0.94 * var + 0.06 * r * r


def test_garch_matches_arch_directly(histories) -> None:
    h = histories["btc"]
    model = GarchT().fit(h)
    res = arch_model(h["r"] * 100, mean="Constant", vol="GARCH", p=1, q=1, dist="t", rescale=False).fit(disp="off")
    assert np.allclose(model.params.to_numpy(), res.params.to_numpy(), rtol=1e-4)
    f = model.forecast(h, h.index[0])
    # arch's conditional variance of day t is the one-step forecast made at t - 1; the first weeks differ by the
    # start-up (backcast) of the two paths, which decays geometrically
    assert np.allclose(
        f["variance"].iloc[50:].to_numpy(), (res.conditional_volatility.iloc[50:] ** 2 / 1e4).to_numpy(), rtol=1e-4
    )


def test_har_is_ols_on_log_range_variance(histories) -> None:
    h = histories["link"]
    model = HAR().fit(h)
    lg = np.log(h["gk"])
    x = pd.DataFrame(
        {"c": 1.0, "d": lg, "w": np.log(h["gk"].rolling(5).mean()), "m": np.log(h["gk"].rolling(22).mean())}
    ).shift(1)
    data = x.join(lg.rename("y")).dropna()
    beta = np.linalg.solve(
        data[["c", "d", "w", "m"]].T @ data[["c", "d", "w", "m"]], data[["c", "d", "w", "m"]].T @ data["y"]
    )
    assert np.allclose(model.coef, beta)


@pytest.mark.parametrize("make", [EWMA, GarchT, HAR, lambda: NeuralForecaster(SMALL)])
def test_no_look_ahead(histories, make) -> None:
    """Changing the future leaves every earlier forecast unchanged."""
    h = histories["eth"]
    cut = h.index[400]
    model = make()
    if isinstance(model, NeuralForecaster):
        model.fit_pooled({"a": h.loc[:cut]})
    else:
        model.fit(h.loc[:cut])
    original = model.forecast(h, h.index[300])
    future = h.copy()
    future.loc[future.index > cut, ["r", "gk", "pk"]] *= 7.0
    changed = model.forecast(future, h.index[300])
    pd.testing.assert_frame_equal(original.loc[:cut], changed.loc[:cut])
    assert not np.allclose(
        original.loc[cut + pd.Timedelta(days=5) :, "variance"], changed.loc[cut + pd.Timedelta(days=5) :, "variance"]
    )


def test_neural_shapes_determinism_and_round_trip(histories, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    a = NeuralForecaster(SMALL).fit_pooled(histories)
    b = NeuralForecaster(SMALL).fit_pooled(histories)
    assert a.train_loss == b.train_loss, "same seed, same training"
    h = histories["btc"]
    fa = a.forecast(h, h.index[200])
    assert list(fa.columns) == ["variance", "dof", "q01", "q05"]
    assert (fa["variance"] > 0).all() and (fa["dof"] > 2.5).all() and (fa["q01"] < fa["q05"]).all()
    pd.testing.assert_frame_equal(fa, b.forecast(h, h.index[200]))
    path = tmp_path / "model.pt"
    torch.save(a.state(), path)
    loaded = NeuralForecaster.from_state(torch.load(path, weights_only=False))
    pd.testing.assert_frame_equal(fa, loaded.forecast(h, h.index[200]))
    state = a.state()
    state["features"] = [*FEATURES, "extra"]
    with pytest.raises(ModelError, match="features"):
        NeuralForecaster.from_state(state)


def test_walk_forward_scores_every_model(histories) -> None:
    start = histories["eth"].index[420]
    forecasts = walk_forward(histories, start, refit_days=60, hp=SMALL)
    assert set(forecasts["model"]) == {"EWMA", "GARCH-t", "HAR", "neural"}
    days = forecasts.groupby(["asset", "model"]).size()
    assert days.nunique() == 1 and days.iloc[0] == len(histories["eth"].loc[start:])
    table = score(forecasts)
    assert len(table) == 12
    assert table["qlike"].gt(0).all() and table.loc[table["model"] != "GARCH-t", "dm_p_garch"].between(0, 1).all()


def test_store_round_trip_and_refusals(histories, tmp_path: Path) -> None:
    import json

    from oracle.errors import ModelError
    from oracle.models.store import load_model, save_model

    model = NeuralForecaster(SMALL).fit_pooled(histories)
    data = tmp_path / "eth_usd_1d.csv"
    data.write_text("timestamp,open,high,low,close\n")
    weights, meta = save_model(model, "m", [data], histories, {"qlike": 0.5}, directory=tmp_path)
    loaded, metadata = load_model(weights)
    h = histories["eth"]
    pd.testing.assert_frame_equal(loaded.forecast(h, h.index[100]), model.forecast(h, h.index[100]))
    assert metadata["data"] == {"eth_usd_1d.csv": __import__("hashlib").sha256(data.read_bytes()).hexdigest()}
    assert metadata["versions"]["torch"] == torch.__version__
    changed = json.loads(meta.read_text()) | {"features": ["r"]}
    meta.write_text(json.dumps(changed))
    with pytest.raises(ModelError, match="trained on features"):
        load_model(weights)
    meta.write_text(json.dumps(changed | {"features": list(FEATURES), "weights_sha256": "0" * 64}))
    with pytest.raises(ModelError, match="do not match the sha256"):
        load_model(weights)
    with pytest.raises(ModelError, match="not found"):
        load_model(tmp_path / "nope.pt")


def test_regime_label_is_fitted_in_sample_and_ordered(histories) -> None:
    from oracle.models.volatility import RegimeModel, features

    train = [features(h.iloc[:300]) for h in histories.values()]
    regime = RegimeModel().fit(train, seed=7)
    again = RegimeModel().fit(train, seed=7)
    assert np.array_equal(regime.centroids, again.centroids), "deterministic"
    stress = regime.centroids[:, 0] - regime.centroids[:, 1] / 10
    assert list(stress) == sorted(stress), "calm first, stressed last"
    frame = features(histories["eth"], regime)
    assert set(frame["regime"].unique()) <= {0.0, 0.5, 1.0}
    # each day's label depends on that day's features only: later data changes no earlier label
    later = histories["eth"].copy()
    later.iloc[400:, :] *= 3.0
    cut = histories["eth"].index[399]
    pd.testing.assert_series_equal(features(later, regime)["regime"].loc[:cut], frame["regime"].loc[:cut])


def test_ensemble_averages_its_members_variances_and_round_trips(histories, tmp_path: Path) -> None:
    """An ensemble of k networks (seeds seed, seed + 1, ...) forecasts the mean of its members' variances and
    dofs; its first member is the one-network model of the same seed; its artifact holds k weight sets; a
    one-network artifact of the earlier format still loads."""
    torch.set_num_threads(1)
    h = histories["eth"]
    pair = NeuralForecaster(replace(SMALL, ensemble=2)).fit_pooled(histories)
    single = NeuralForecaster(replace(SMALL, ensemble=1)).fit_pooled(histories)
    members = []
    for net in pair.nets:
        member = NeuralForecaster(replace(SMALL, ensemble=1))
        member.nets, member.regime = [net], pair.regime
        members.append(member.forecast(h, h.index[200]))
    both = pair.forecast(h, h.index[200])
    pd.testing.assert_frame_equal(members[0], single.forecast(h, h.index[200]))
    assert not np.allclose(members[0]["variance"], members[1]["variance"])  # different seeds, different nets
    np.testing.assert_allclose(both["variance"], (members[0]["variance"] + members[1]["variance"]) / 2, rtol=1e-5)
    np.testing.assert_allclose(both["dof"], (members[0]["dof"] + members[1]["dof"]) / 2, rtol=1e-5)
    assert len(pair.state()["weights"]) == 2  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(NeuralForecaster.from_state(pair.state()).forecast(h, h.index[200]), both)
    old = single.state()
    old["weights"] = old["weights"][0]  # type: ignore[index]
    old["hp"] = {k: v for k, v in old["hp"].items() if k != "ensemble"}  # type: ignore[union-attr]
    pd.testing.assert_frame_equal(NeuralForecaster.from_state(old).forecast(h, h.index[200]), members[0])
    with pytest.raises(ModelError, match="2 networks"):
        NeuralForecaster.from_state({**pair.state(), "hp": {**pair.state()["hp"], "ensemble": 3}})  # type: ignore[dict-item]


def test_stress_weight_changes_training_only_when_set(histories) -> None:
    """``stress_weight`` reweights QLIKE by the regime label: 0 trains exactly as before, > 0 differently."""
    torch.set_num_threads(1)
    plain = NeuralForecaster(replace(SMALL, ensemble=1)).fit_pooled(histories)
    zero = NeuralForecaster(replace(SMALL, ensemble=1, stress_weight=0.0)).fit_pooled(histories)
    weighted = NeuralForecaster(replace(SMALL, ensemble=1, stress_weight=3.0)).fit_pooled(histories)
    assert zero.train_loss == plain.train_loss and weighted.train_loss != plain.train_loss


def test_targeted_garch_feature_follows_its_recursion_and_reverts_to_the_level() -> None:
    days = pd.date_range("2022-01-01", periods=6, freq="D", tz="UTC")
    r = pd.Series([0.5, 0.02, -0.03, 0.0, 0.05, 0.0], index=days)
    target = pd.Series([np.nan, 4e-4, 4e-4, 5e-4, 5e-4, 5e-4], index=days)
    s2 = targeted_garch(r, target)
    assert np.isnan(s2.iloc[0])  # no level yet: no value (day 0's huge return is never seen)
    expected, prev = [], 4e-4  # starts at the level
    for t in range(2, 6):
        prev = (1 - GARCH_ALPHA - GARCH_BETA) * target.iloc[t] + GARCH_ALPHA * r.iloc[t] ** 2 + GARCH_BETA * prev
        expected.append(prev)
    assert s2.iloc[1] == 4e-4 and np.allclose(s2.iloc[2:].to_numpy(), expected, rtol=1e-12)
    # with no returns it decays to the floor (1 - a - b) / (1 - b) x level, never to zero as the EWMA does
    calm = targeted_garch(pd.Series(np.zeros(400)), pd.Series(np.full(400, 1e-3)))
    assert calm.iloc[-1] == pytest.approx((1 - GARCH_ALPHA - GARCH_BETA) / (1 - GARCH_BETA) * 1e-3, rel=1e-9)
