"""The Python mirror of the governor's rules agrees with the contract itself, case by case.

12,000 random (bounds, current, proposed, last change, time) cases are evaluated by the deployed governor's
``validateChange`` (the rule set ``submitUpdate`` and ``checkUpdate`` run) in Multicall3 batches on a real anvil,
and by ``oracle.policy.bounds.check_change``; the first rule broken must have the same name and arguments.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest
from eth_abi import decode as abi_decode
from web3 import Web3

from oracle.chain.artifacts import decode_revert
from oracle.chain.governor import read_governed_asset, submit_update
from oracle.chain.multicall import Call, aggregate3, encode_call
from oracle.chain.tx import TxSender
from oracle.devnet.deploy import Deployment
from oracle.domain.params import BPS, AssetBounds, ParamBounds, RiskParams
from oracle.policy.bounds import check_change, check_update

pytestmark = pytest.mark.anvil

CASES = 12_000
BATCH = 400
T0 = 1_750_000_000
VALIDATE_TYPES = [
    "address",
    "(uint16,uint16,uint16)",
    "(uint16,uint16,uint16)",
    "(uint16,uint16,uint16,uint16,uint32)[3]",
    "uint64[3]",
    "uint256",
]
VALIDATE_CHANGE = f"validateChange({','.join(VALIDATE_TYPES)})"


def _random_case(rng: random.Random) -> tuple[RiskParams, RiskParams, AssetBounds, tuple[int, int, int], int]:
    """A case built to land near every rule's edge: tight ranges, small steps, proposals close to current."""
    bounds, current, proposed, last = [], [], [], []
    for _ in range(3):
        lo = rng.randint(0, 9_000)
        hi = rng.randint(lo, min(BPS, lo + 3_000))
        b = ParamBounds(
            min=lo,
            max=hi,
            max_increase_bps=rng.choice([0, rng.randint(1, 600)]),
            max_decrease_bps=rng.choice([0, rng.randint(1, 600)]),
            min_delay_s=(rng.randint(0, 7 * 86_400)),
        )
        bounds.append(b)
        cur = rng.randint(lo, hi) if rng.random() < 0.95 else rng.randint(0, BPS)
        current.append(cur)
        r = rng.random()
        if r < 0.35:
            new = cur
        elif r < 0.6:
            new = cur + (rng.randint(-700, 700))
        elif r < 0.9:
            new = min(max(cur + (rng.randint(-700, 700)), lo), hi)
        else:
            new = rng.randint(0, BPS)
        proposed.append(min(max(new, 0), BPS))
        last.append(0 if rng.random() < 0.3 else T0 - (rng.randint(0, 8 * 86_400)))
    timestamp = T0 + (rng.randint(0, 86_400))
    return (
        RiskParams.from_tuple(current),
        RiskParams.from_tuple(proposed),
        AssetBounds(ltv=bounds[0], liquidation_threshold=bounds[1], liquidation_bonus=bounds[2]),
        (last[0], last[1], last[2]),
        timestamp,
    )


def test_mirror_agrees_with_contract(w3: Web3, deployment: Deployment) -> None:
    rng = random.Random(20261125)
    governor = deployment.governor_contract(w3)
    asset = deployment.asset("WETH").token
    cases = [_random_case(rng) for _ in range(CASES)]

    outcomes: Counter[str] = Counter()
    mismatches = []
    for start in range(0, CASES, BATCH):
        chunk = cases[start : start + BATCH]
        calls = [
            Call(
                governor.address,
                False,
                encode_call(
                    VALIDATE_CHANGE, VALIDATE_TYPES, [asset, cur.as_tuple(), new.as_tuple(), b.as_tuple(), last, t]
                ),
            )
            for cur, new, b, last, t in chunk
        ]
        results = aggregate3(w3, deployment.multicall, calls)
        for (cur, new, b, last, t), (ok, ret) in zip(chunk, results, strict=True):
            assert ok
            (err,) = abi_decode(["bytes"], ret)
            on_chain = None if len(err) == 0 else decode_revert(err)
            mirrored = check_change(asset, cur, new, b, last, t)
            chain_view = None if on_chain is None else (on_chain.name, on_chain.arguments)
            mirror_view = None if mirrored is None else (mirrored.name, mirrored.args)
            outcomes[mirror_view[0] if mirror_view else "accepted"] += 1
            if chain_view != mirror_view:
                mismatches.append((cur, new, b, last, t, chain_view, mirror_view))

    print(f"{CASES} cases, outcomes: {dict(outcomes)}")
    assert not mismatches, f"{len(mismatches)} disagreements, first: {mismatches[0]}"
    # the cases reach every rule, so agreement is not vacuous
    for outcome in (
        "accepted",
        "NoChange",
        "OutOfRange",
        "IncreaseTooLarge",
        "DecreaseTooLarge",
        "TooSoon",
        "LtvNotBelowThreshold",
        "BonusCreatesBadDebt",
    ):
        assert outcomes[outcome] >= 50, (outcome, outcomes)


@pytest.mark.usefixtures("clean_chain")
def test_check_update_matches_stateful_contract(w3: Web3, deployment: Deployment, keeper: TxSender) -> None:
    """``checkUpdate`` (paused, expiry, configuration, then the rules) against the mirror on live state that moves:
    every update the mirror accepts is sent and must land; time advances between cases."""
    governor, market = deployment.governor_contract(w3), deployment.market_contract(w3)
    rng = random.Random(7)
    checked: Counter[str] = Counter()
    for a in deployment.assets:
        state = read_governed_asset(governor, market, a.token)
        for i in range(50):
            # the stable asset has no bounds: AssetNotConfigured
            asset, bounds = (deployment.stable, None) if i % 10 == 9 else (a.token, state.bounds)
            proposal = RiskParams.from_tuple(
                [min(max(v + rng.randint(-150, 150), 0), BPS) for v in state.params.as_tuple()]
            )
            valid_until = state.timestamp + rng.randint(-20, 100)
            err = governor.functions.checkUpdate(asset, proposal.as_tuple(), valid_until).call(
                block_identifier=state.block
            )
            on_chain = None if len(err) == 0 else decode_revert(err)
            mirrored = check_update(
                asset,
                state.params,
                proposal,
                bounds,
                state.last_changed_at,
                state.timestamp,
                valid_until,
                state.paused,
            )
            assert (on_chain and (on_chain.name, on_chain.arguments)) == (mirrored and (mirrored.name, mirrored.args))
            checked[mirrored.name if mirrored else "accepted"] += 1
            if mirrored is None:  # accepted at this block: it must land in the next one
                w3.provider.make_request("evm_setNextBlockTimestamp", [state.timestamp])  # type: ignore[arg-type]
                submit_update(keeper, governor, asset, proposal, b"\x00" * 32, valid_until)
            w3.provider.make_request("evm_increaseTime", [rng.choice([0, 3_600, 86_400, 3 * 86_400])])  # type: ignore[arg-type]
            w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
            state = read_governed_asset(governor, market, a.token)
    print(f"stateful checkUpdate cases: {dict(checked)}")
    for outcome in ("accepted", "UpdateExpired", "AssetNotConfigured", "TooSoon"):
        assert checked[outcome] >= 3, (outcome, checked)
