"""Live forecasts from a real snapshot's feed rounds: the neural model when the history allows it, the EWMA
fallback with its reason otherwise."""

from __future__ import annotations

import pytest
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.data.candles import daily_candles
from oracle.devnet.deploy import Deployment
from oracle.domain.policy import Policy
from oracle.models.live import forecast, forecast_asset
from oracle.models.store import load_model

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def snapshot(w3: Web3, deployment: Deployment, policy: Policy):
    return read_snapshot(
        ChainSource(
            w3, NativeMarketAdapter(deployment.market), deployment.governor, deployment.multicall, policy.snapshot
        )
    )


def test_neural_forecast_from_feed_history(snapshot) -> None:
    model, _ = load_model()
    forecasts = forecast(snapshot, model)
    assert [f.asset for f in forecasts] == [a.symbol for a in snapshot.assets]
    for f in forecasts:
        assert f.source == "neural" and f.reason == ""
        assert 0.005 < f.sigma < 0.3, "a daily volatility, not a unit error"
        assert 0 < f.var99 < 1 and f.dof is not None and f.dof > 2.5
        assert f.history_days >= 150
    # the candles rebuilt from the rounds are the replayed real candles (24 h windows ending at the last round)
    candles = daily_candles(snapshot.asset("WETH"))
    assert (candles["rounds"] == 4).all() and (candles["high"] > candles["low"]).all() and len(candles) == 150


def test_fallbacks_say_why(snapshot) -> None:
    model, _ = load_model()
    weth = snapshot.asset("WETH")
    short = forecast_asset(weth.model_copy(update={"history": weth.history[-200:]}), model)
    assert short.source == "ewma-fallback" and "consecutive days of feed history" in short.reason
    closes_only = forecast_asset(weth.model_copy(update={"history": weth.history[3::4]}), model)
    assert closes_only.source == "ewma-fallback" and "fewer than 2 rounds" in closes_only.reason
    assert closes_only.dof is None and closes_only.sigma > 0
    no_model = forecast_asset(weth, None)
    assert no_model.reason == "no model loaded"
