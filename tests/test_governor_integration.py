"""The governor on a real anvil through web3.py: a bounded update lands and its event decodes; every kind of
rejection reverts with its custom error, decoded by name."""

from __future__ import annotations

import pytest
from web3 import Web3

from oracle.chain.governor import read_governed_asset, submit_update
from oracle.chain.tx import TxSender, simulate
from oracle.devnet.deploy import Deployment
from oracle.domain.params import Param, RiskParams
from oracle.errors import ContractRevert
from oracle.policy.bounds import check_update, clamp_update

pytestmark = [pytest.mark.anvil, pytest.mark.usefixtures("clean_chain")]

REPORT = b"\x11" * 32


def _state(w3: Web3, deployment: Deployment, symbol: str = "WETH"):
    return read_governed_asset(
        deployment.governor_contract(w3), deployment.market_contract(w3), deployment.asset(symbol).token
    )


def _expect(name: str, fn, sender: TxSender, **args: object) -> ContractRevert:
    """``fn`` must revert with custom error ``name`` (and ``args``), both in simulation and when sent."""
    with pytest.raises(ContractRevert) as simulated:
        simulate(fn, sender.address)
    assert simulated.value.name == name, simulated.value
    for key, value in args.items():
        assert simulated.value.arguments[key] == value, (key, simulated.value.arguments)
    with pytest.raises(ContractRevert) as sent:
        sender.send(fn)  # estimation refuses to build it: nothing reaches the chain
    assert sent.value.name == name
    return simulated.value


def test_bounded_update_lands_and_event_decodes(w3: Web3, deployment: Deployment, keeper: TxSender) -> None:
    state = _state(w3, deployment)
    assert state.bounds is not None
    raw = RiskParams(ltv=7000, liquidation_threshold=8400, liquidation_bonus=560)
    bounded = clamp_update(state.asset, state.params, raw, state.bounds, state.last_changed_at, state.timestamp)
    assert [c.binding for c in bounded.clamps] == ["max_decrease", "max_increase", "none"]
    applied = submit_update(
        keeper, deployment.governor_contract(w3), state.asset, bounded.bounded, REPORT, state.timestamp + 3600
    )
    assert applied.update_id == 1
    assert applied.old == state.params
    assert applied.new == bounded.bounded == RiskParams(ltv=7700, liquidation_threshold=8300, liquidation_bonus=560)
    assert applied.report_hash == "0x" + REPORT.hex()
    after = _state(w3, deployment)
    assert after.params == bounded.bounded
    assert after.last_update_id == 1
    assert after.last_changed_at[Param.LTV] > 0


def test_update_ids_strictly_increase(w3: Web3, deployment: Deployment, keeper: TxSender) -> None:
    governor = deployment.governor_contract(w3)
    asset = deployment.asset("WBTC").token
    ids = []
    for lb in (700, 750, 800):
        state = _state(w3, deployment, "WBTC")
        _warp(w3, 86_400)  # LB may change once a day
        params = state.params.model_copy(update={"liquidation_bonus": lb})
        ids.append(submit_update(keeper, governor, asset, params, REPORT, 2**40).update_id)
    assert ids == [1, 2, 3]


def _warp(w3: Web3, seconds: int) -> None:
    w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _walk(w3: Web3, deployment: Deployment, keeper: TxSender, steps: list[tuple[int, int, int]], wait: int) -> None:
    """Apply ``steps`` one by one, ``wait`` seconds apart (to get near a linked rule within the step limits)."""
    governor = deployment.governor_contract(w3)
    for step in steps:
        _warp(w3, wait)
        submit_update(keeper, governor, deployment.asset("WETH").token, RiskParams.from_tuple(step), REPORT, 2**40)
    _warp(w3, wait)


@pytest.mark.parametrize(
    ("name", "walk", "proposal", "args"),
    [
        ("NoChange", [], (8000, 8250, 500), {}),
        ("OutOfRange", [], (8000, 8250, 1600), {"param": 2, "value": 1600, "min": 300, "max": 1500}),
        (
            "IncreaseTooLarge",
            [],
            (8100, 8250, 500),
            {"param": 0, "fromValue": 8000, "toValue": 8100, "maxIncrease": 50},
        ),
        (
            "DecreaseTooLarge",
            [],
            (8000, 8100, 500),
            {"param": 1, "fromValue": 8250, "toValue": 8100, "maxDecrease": 100},
        ),
        # LT down twice (100 bps each), then LTV up to meet it
        (
            "LtvNotBelowThreshold",
            [(8000, 8150, 500), (8000, 8050, 500)],
            (8050, 8050, 500),
            {"ltv": 8050, "liquidationThreshold": 8050},
        ),
        # LT up to its max (50 bps a step) and LB up (150 a step) until LT x (1 + LB) would reach 100 %
        (
            "BonusCreatesBadDebt",
            [(8000, 8250 + 50 * k, min(500 + 150 * k, 1250)) for k in range(1, 12)],
            (8000, 8800, 1400),
            {"liquidationThreshold": 8800, "liquidationBonus": 1400},
        ),
    ],
)
def test_rule_rejections_decode_by_name(
    w3: Web3,
    deployment: Deployment,
    keeper: TxSender,
    name: str,
    walk: list[tuple[int, int, int]],
    proposal: tuple[int, int, int],
    args: dict,
) -> None:
    asset = deployment.asset("WETH").token
    _walk(w3, deployment, keeper, walk, wait=3 * 86_400)
    fn = deployment.governor_contract(w3).functions.submitUpdate(asset, proposal, REPORT, 2**40)
    _expect(name, fn, keeper, **(args or {"asset": asset}))
    # the Python mirror names the same error with the same arguments
    state = _state(w3, deployment)
    mirrored = check_update(
        asset,
        state.params,
        RiskParams.from_tuple(proposal),
        state.bounds,
        state.last_changed_at,
        state.timestamp + 1,
        2**40,
        state.paused,
    )
    assert mirrored is not None and mirrored.name == name
    assert mirrored.args == (args or {"asset": asset})


def test_too_soon(w3: Web3, deployment: Deployment, keeper: TxSender) -> None:
    governor = deployment.governor_contract(w3)
    state = _state(w3, deployment)
    submit_update(keeper, governor, state.asset, state.params.model_copy(update={"ltv": 7900}), REPORT, 2**40)
    changed_at = _state(w3, deployment).last_changed_at[Param.LTV]
    fn = governor.functions.submitUpdate(state.asset, (7850, 8250, 500), REPORT, 2**40)
    _expect("TooSoon", fn, keeper, param=0, nextAllowedAt=changed_at + 86_400)


def test_expired(w3: Web3, deployment: Deployment, keeper: TxSender) -> None:
    state = _state(w3, deployment)
    fn = deployment.governor_contract(w3).functions.submitUpdate(state.asset, (7900, 8250, 500), REPORT, 1)
    err = _expect("UpdateExpired", fn, keeper, validUntil=1)
    assert err.arguments["timestamp"] >= state.timestamp


def test_not_keeper(w3: Web3, deployment: Deployment, owner: TxSender) -> None:
    state = _state(w3, deployment)
    fn = deployment.governor_contract(w3).functions.submitUpdate(state.asset, (7900, 8250, 500), REPORT, 2**40)
    _expect("NotKeeper", fn, owner, caller=owner.address)


def test_not_configured(w3: Web3, deployment: Deployment, keeper: TxSender) -> None:
    fn = deployment.governor_contract(w3).functions.submitUpdate(deployment.stable, (7900, 8250, 500), REPORT, 2**40)
    _expect("AssetNotConfigured", fn, keeper, asset=deployment.stable)


def test_paused_blocks_and_guardian_only_tightens(
    w3: Web3, deployment: Deployment, keeper: TxSender, guardian: TxSender, owner: TxSender
) -> None:
    governor = deployment.governor_contract(w3)
    asset = deployment.asset("WETH").token
    tighten_lt = governor.functions.guardianTighten(asset, (8000, 8200, 500), REPORT)
    _expect("GuardianMayOnlyTighten", tighten_lt, guardian, param=1, fromValue=8250, toValue=8200)
    guardian.transact(governor.functions.guardianTighten(asset, (7800, 8250, 600), REPORT))
    assert _state(w3, deployment).params == RiskParams(ltv=7800, liquidation_threshold=8250, liquidation_bonus=600)

    guardian.transact(governor.functions.pause())
    _expect("GovernorPaused", governor.functions.submitUpdate(asset, (7750, 8250, 600), REPORT, 2**40), keeper)
    _expect("NotOwner", governor.functions.unpause(), guardian, caller=guardian.address)
    owner.transact(governor.functions.unpause())
    assert not _state(w3, deployment).paused


def test_owner_rejections(w3: Web3, deployment: Deployment, keeper: TxSender, owner: TxSender) -> None:
    governor = deployment.governor_contract(w3)
    asset = deployment.asset("WETH").token
    bounds = _state(w3, deployment).bounds
    assert bounds is not None
    tight = bounds.as_tuple()
    tight[0] = (5000, 7900, 50, 300, 86_400)  # current LTV 8000 would sit outside
    _expect("CurrentOutsideBounds", governor.functions.setBounds(asset, tight), owner, param=0, current=8000)
    inverted = bounds.as_tuple()
    inverted[2] = (900, 800, 1, 1, 1)
    _expect("InvalidBounds", governor.functions.setBounds(asset, inverted), owner, param=2)
    _expect("NotOwner", governor.functions.setBounds(asset, bounds.as_tuple()), keeper, caller=keeper.address)
    _expect("AssetNotListed", governor.functions.setBounds(deployment.stable, bounds.as_tuple()), owner)
