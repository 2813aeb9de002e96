"""The manipulation guard through the whole pipeline, on the demo market read from a real anvil chain: WETH's feed
posts one round 50 % above the last (accepted: the snapshot's limit is x2), then the same price again 6 h and
12 h later.

Without the guard the spike cuts WETH's LT at once; with it the LT cut is held at what the confirmed history
supports and the clamp names the guard as the binding limit, while the LTV cut goes out as before; once more
than half of the confirmation window shows the new price, the cut goes through. A calm market costs nothing: its
confirmed history is its history and the analysis is the same as without the guard.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.tx import TxSender, contract_at
from oracle.config import load_policy
from oracle.devnet.deploy import Deployment
from oracle.domain.params import Param, RiskParams
from oracle.domain.policy import ManipulationGuard, Policy
from oracle.domain.snapshot import MarketSnapshot
from oracle.models.store import load_model
from oracle.models.volatility import NeuralForecaster
from oracle.pipeline import HELD_WITH_LT, AssetRecommendation, CycleAnalysis, analyse
from oracle.policy.calibrate import Calibration, load_calibration

pytestmark = pytest.mark.anvil

SIX_H = 6 * 3600
LT = Param.LIQUIDATION_THRESHOLD
# WETH as if earlier cycles had raised its LT (the demo starts at 8250, below what the calm market supports, so
# that no spike would make the model cut it): now the calm market raises it and the spike would cut it
WETH_PARAMS = RiskParams(ltv=8000, liquidation_threshold=8500, liquidation_bonus=600)


@dataclass(frozen=True)
class Feeds:
    """The market read before the spike, with one spiked round, and with the spiked price posted twice more."""

    calm: MarketSnapshot
    spiked: tuple[MarketSnapshot, ...]  # after 1, 2, 3 rounds at the spiked price


def _with_weth_params(snapshot: MarketSnapshot) -> MarketSnapshot:
    return snapshot.model_copy(
        update={
            "assets": tuple(
                a.model_copy(update={"params": WETH_PARAMS}) if a.symbol == "WETH" else a for a in snapshot.assets
            )
        }
    )


@pytest.fixture(scope="module")
def feeds(w3: Web3, seeded: Deployment, policy: Policy, owner: TxSender) -> Iterator[Feeds]:
    source = ChainSource(w3, NativeMarketAdapter(seeded.market), seeded.governor, seeded.multicall, policy.snapshot)
    saved = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]  # anvil RPC
    calm = read_snapshot(source)
    feed = contract_at(w3, "PriceFeed", seeded.asset("WETH").feed)
    (_, answer, *_rest) = feed.functions.latestRoundData().call()
    spiked = []
    for _ in range(3):
        w3.provider.make_request("evm_increaseTime", [SIX_H])  # type: ignore[arg-type]  # anvil RPC: 6 h later
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        owner.transact(feed.functions.updateAnswer(answer * 3 // 2))
        spiked.append(_with_weth_params(read_snapshot(source)))
    yield Feeds(calm=_with_weth_params(calm), spiked=tuple(spiked))
    w3.provider.make_request("evm_revert", [saved])  # type: ignore[arg-type]
    owner.resync_nonce()


@pytest.fixture(scope="module")
def model() -> NeuralForecaster:
    return load_model()[0]


FORM_1 = Path(__file__).parent / "fixtures" / "calibration-form1.json"


@pytest.fixture(scope="module")
def policy() -> Policy:
    """The default policy in the first simulator's terms (no [risk.liquidators] / [risk.edge_book]), to go with the
    form 1 calibration below: the guard's scenarios were built there; the guard itself reads neither."""
    loaded = load_policy()
    return loaded.model_copy(update={"risk": loaded.risk.model_copy(update={"liquidators": None, "edge_book": None})})


@pytest.fixture(scope="module")
def calibration(policy: Policy) -> Calibration:
    """The guard does not depend on the recommendation's form; its scenarios (a calm market where WETH's raw LT
    rises above 8500, then a spike that cuts it) were built on form 1, whose calibration (the one committed before
    issue 15) is kept as a fixture. The committed (form 2) calibration must load too."""
    assert load_calibration(load_policy()).form == 2
    return Calibration.model_validate_json(FORM_1.read_text())


def _guarded(policy: Policy, **windows: int) -> Policy:
    assert policy.manipulation_guard is not None, "the default policy enables the guard"
    return policy.model_copy(update={"manipulation_guard": policy.manipulation_guard.model_copy(update=windows)})


def _weth(analysis: CycleAnalysis) -> AssetRecommendation:
    return analysis.recommendation.asset("WETH")


def test_the_spike_is_accepted_and_the_guard_is_on_by_default(feeds: Feeds, policy: Policy) -> None:
    weth = feeds.spiked[0].asset("WETH")
    assert weth.history[-1].answer / weth.history[-2].answer == pytest.approx(1.5, rel=1e-6)
    assert policy.snapshot.max_round_jump > 1.5 and policy.manipulation_guard == ManipulationGuard(
        confirm_rounds=3, confirm_s=3600, jump_ratio=1.35
    )


def test_a_calm_market_is_analysed_as_without_the_guard(
    feeds: Feeds, policy: Policy, calibration: Calibration, model: NeuralForecaster
) -> None:
    off = policy.model_copy(update={"manipulation_guard": None})
    guarded = analyse(feeds.calm, policy, calibration, model)
    assert guarded.confirmed is not None and guarded.confirmed.jumped == ()
    assert guarded.recommendation == analyse(feeds.calm, off, calibration, model).recommendation
    # the model asks to raise WETH's LT (so the spike below would cut it); in the replayed June 2022 the stress hold
    # keeps it where it is (no loosening in a crisis): the guard has nothing to do either way
    weth = _weth(guarded)
    assert weth.raw_bps[LT] > 8500 and weth.bounded is not None
    assert weth.bounded.clamps[LT].bounded == 8500 and weth.bounded.clamps[LT].binding.startswith("stress_hold")


def test_one_spiked_round_cuts_lt_without_the_guard_and_is_held_with_it(
    feeds: Feeds, policy: Policy, calibration: Calibration, model: NeuralForecaster
) -> None:
    snapshot = feeds.spiked[0]
    off = analyse(snapshot, policy.model_copy(update={"manipulation_guard": None}), calibration, model)
    on = analyse(snapshot, policy, calibration, model)
    free, held = _weth(off), _weth(on)
    assert free.bounded is not None and held.bounded is not None and on.confirmed is not None
    current_lt = WETH_PARAMS.liquidation_threshold

    # without the guard: the spike's forecast cuts LT at once, and the update would go out
    assert free.bounded.bounded.liquidation_threshold < current_lt and free.proposed

    # with it: the confirmed view (the spike held at the median of its window) supports no cut, and the clamp says so
    assert on.confirmed.jumped == ("WETH",)
    weth_row = [a.symbol for a in snapshot.assets].index("WETH")
    confirmed_lt = int(on.confirmed.raw[weth_row][LT])
    assert confirmed_lt > current_lt > free.raw_bps[LT]
    assert on.confirmed.forecasts[weth_row].sigma < off.forecasts[weth_row].sigma
    lt = held.bounded.clamps[LT]
    assert lt.bounded == min(current_lt, confirmed_lt) == current_lt
    assert lt.binding == "manipulation guard: move not yet confirmed over 3 rounds / 1 h"
    assert lt.raw == free.bounded.clamps[LT].raw  # the report still shows what the model asked for

    # the LTV cut (and LB) are not held back, the update still goes out, SHAP explains the same raw output
    assert held.bounded.clamps[Param.LTV] == free.bounded.clamps[Param.LTV]
    assert held.bounded.bounded.ltv < WETH_PARAMS.ltv
    assert held.bounded.clamps[Param.LIQUIDATION_BONUS] == free.bounded.clamps[Param.LIQUIDATION_BONUS]
    assert held.proposed and held.raw_bps == free.raw_bps and held.attribution == free.attribution
    # nothing else moves: the other assets' recommendations are the same with and without the guard
    assert [a for a in on.recommendation.assets if a.asset != "WETH"] == [
        a for a in off.recommendation.assets if a.asset != "WETH"
    ]


def test_the_cut_goes_through_once_the_move_persists(
    feeds: Feeds, policy: Policy, calibration: Calibration, model: NeuralForecaster
) -> None:
    """3 rounds / 1 h: the second round at the new price makes two of the three, and the cut goes through;
    3 rounds / 24 h (five 6-hourly rounds): the second is not enough, the third is (the model, calmer by then, no
    longer asks for a cut worth making: with or without the guard the update is the same)."""
    off = policy.model_copy(update={"manipulation_guard": None})
    day = _guarded(policy, confirm_s=86_400)
    second, third = feeds.spiked[1], feeds.spiked[2]
    free = _weth(analyse(second, off, calibration, model))
    assert free.bounded is not None and free.bounded.bounded.liquidation_threshold < WETH_PARAMS.liquidation_threshold
    assert _weth(analyse(second, policy, calibration, model)).bounded == free.bounded

    held = _weth(analyse(second, day, calibration, model)).bounded
    assert held is not None and held.clamps[LT].bounded > free.bounded.clamps[LT].bounded
    assert held.clamps[LT].binding == "manipulation guard: move not yet confirmed over 3 rounds / 24 h"
    assert held.clamps[Param.LTV] == free.bounded.clamps[Param.LTV]

    assert (
        _weth(analyse(third, day, calibration, model)).bounded == _weth(analyse(third, off, calibration, model)).bounded
    )


def test_when_the_held_update_fails_the_gate_the_ltv_cut_still_goes_out(
    feeds: Feeds, policy: Policy, calibration: Calibration, model: NeuralForecaster
) -> None:
    """With WETH at 8000/8550/500 the held update (LTV cut, LT held, LB up) fails the risk gate as a whole; the
    LTV cut must not be lost with it: it goes out alone, LT and LB stay."""
    state = RiskParams(ltv=8000, liquidation_threshold=8550, liquidation_bonus=500)
    snapshot = feeds.spiked[0].model_copy(
        update={
            "assets": tuple(
                a.model_copy(update={"params": state}) if a.symbol == "WETH" else a for a in feeds.spiked[0].assets
            )
        }
    )
    held = _weth(analyse(snapshot, policy, calibration, model))
    assert held.bounded is not None and held.gate is not None and held.gate.passed and held.proposed
    assert held.bounded.bounded == RiskParams(ltv=7700, liquidation_threshold=8550, liquidation_bonus=500)
    assert held.bounded.clamps[LT].binding.startswith("manipulation guard")
    assert held.bounded.clamps[Param.LIQUIDATION_BONUS].binding == HELD_WITH_LT
    assert held.bounded.clamps[Param.LIQUIDATION_BONUS].raw > 500  # the model's LB is still shown
