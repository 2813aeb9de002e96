"""The governor as real Aave v3's risk admin, on a real anvil: Aave deployed from the npm artifacts, updates sent
through the governor and our ``AaveV3RiskTarget`` land in Aave's reserve bitmap; what Aave would refuse is refused
first with our own named errors; Aave's own numeric reverts are reported by name; real positions work.

One Aave deployment per module and xdist worker (4-8 s); each test reverts its changes (evm snapshot).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3
from web3.logs import DISCARD

from oracle.chain.aave_errors import AaveRevert, decode_aave_revert, simulate_named, transact_named
from oracle.chain.aave_reserve import ReserveConfiguration
from oracle.chain.governor import GovernedAsset, read_governed_asset, submit_update
from oracle.chain.tx import TxSender, contract_at
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.aave import AaveDeployment, deploy_aave_market, open_position
from oracle.domain.params import AssetBounds, ParamBounds, RiskParams
from oracle.domain.policy import Policy
from oracle.errors import ContractRevert
from oracle.policy.bounds import clamp_update

# xdist_group: one worker should run the module (one deployment). Note: with pytest 9.2 + pytest-xdist 3.8.0 the
# group is not applied (xdist rewrites `item._nodeid`, pytest 9 reads `item._id`), so each worker may deploy once.
pytestmark = [pytest.mark.anvil, pytest.mark.xdist_group("aave-v3")]

REPORT = b"\xaa" * 32
FAR = 2**40  # validUntil far in the future
WAD = 10**18
HISTORY_ROUNDS = 40


@pytest.fixture(scope="module")
def aave(w3: Web3, owner: TxSender, keeper: TxSender, guardian: TxSender, policy: Policy) -> AaveDeployment:
    """Aave v3 with the policy's four collateral assets and the governor as risk admin, once per module (the feeds
    get their last HISTORY_ROUNDS rounds: these tests read prices, not history)."""
    history = {asset: rounds[-HISTORY_ROUNDS:] for asset, rounds in load_demo_rounds().items()}
    return deploy_aave_market(
        w3, owner, policy.market, keeper=keeper.address, guardian=guardian.address, price_history=history
    )


@pytest.fixture(autouse=True)
def clean_aave(w3: Web3, aave: AaveDeployment, owner: TxSender, keeper: TxSender, guardian: TxSender) -> Iterator[None]:
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield
    w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    for sender in (owner, keeper, guardian):
        sender.resync_nonce()


def _bitmap(w3: Web3, aave: AaveDeployment, symbol: str) -> ReserveConfiguration:
    (data,) = aave.pool_contract(w3).functions.getConfiguration(aave.asset(symbol).token).call()
    return ReserveConfiguration.decode(data)


def _data_provider_params(w3: Web3, aave: AaveDeployment, symbol: str) -> tuple[RiskParams, tuple[bool, ...]]:
    """(params with LB = bonus - 10000, (usageAsCollateralEnabled, borrowingEnabled, isActive, isFrozen))."""
    out = aave.data_provider_contract(w3).functions.getReserveConfigurationData(aave.asset(symbol).token).call()
    _decimals, ltv, lt, bonus, _rf, collateral, borrowing, _stable, active, frozen = out
    return RiskParams(ltv=ltv, liquidation_threshold=lt, liquidation_bonus=bonus - 10_000), (
        collateral,
        borrowing,
        active,
        frozen,
    )


def _submit(w3: Web3, aave: AaveDeployment, keeper: TxSender, symbol: str, params: RiskParams):
    """Send through the governor with reverts named as on an Aave market."""
    governor = aave.governor_contract(w3)
    fn = governor.functions.submitUpdate(aave.asset(symbol).token, params.as_tuple(), REPORT, FAR)
    simulate_named(fn, keeper.address)
    return transact_named(keeper, fn)


def _expect(name: str, fn, sender: TxSender, **args: object) -> ContractRevert:
    """``fn`` reverts with ``name`` (and ``args``) both when simulated and when sent (nothing reaches the chain)."""
    with pytest.raises(ContractRevert) as simulated:
        simulate_named(fn, sender.address)
    assert simulated.value.name == name, simulated.value
    for key, value in args.items():
        assert simulated.value.arguments[key] == value, (key, simulated.value.arguments)
    with pytest.raises(ContractRevert) as sent:
        transact_named(sender, fn)
    assert sent.value.name == name, sent.value
    return simulated.value


def _state(w3: Web3, aave: AaveDeployment, symbol: str) -> GovernedAsset:
    """What the keeper reads: parameters from Aave (through the target), bounds and clocks from the governor."""
    state = read_governed_asset(aave.governor_contract(w3), aave.target_contract(w3), aave.asset(symbol).token)
    assert state.bounds is not None
    return state


def _ltv_step_down(w3: Web3, aave: AaveDeployment, symbol: str) -> RiskParams:
    """LTV 1 bps lower: inside any bounds the policy may set, so that what refuses it is the target, not them."""
    params = _state(w3, aave, symbol).params
    return params.model_copy(update={"ltv": params.ltv - 1})


def _lt_cut(w3: Web3, aave: AaveDeployment, symbol: str) -> RiskParams:
    """An LT cut of up to 100 bps within the governor's step (LTV lowered below it if needed)."""
    state = _state(w3, aave, symbol)
    assert state.bounds is not None
    lt = state.params.liquidation_threshold - min(100, state.bounds.liquidation_threshold.max_decrease_bps)
    ltv = min(state.params.ltv, lt - 1)
    assert state.params.ltv - ltv <= state.bounds.ltv.max_decrease_bps
    return state.params.model_copy(update={"ltv": ltv, "liquidation_threshold": lt})


def _governor_fn(w3: Web3, aave: AaveDeployment, symbol: str, params: RiskParams):
    return aave.governor_contract(w3).functions.submitUpdate(aave.asset(symbol).token, params.as_tuple(), REPORT, FAR)


# ---------------------------------------------------------------------------------------------------- deployment


def test_real_aave_deployed_with_policy_parameters(w3: Web3, aave: AaveDeployment, policy: Policy) -> None:
    target = aave.target_contract(w3)
    oracle = aave.oracle_contract(w3)
    acl = aave.acl_contract(w3)
    assert [a.symbol for a in aave.assets] == ["WETH", "WBTC", "LINK", "AAVE"]
    for spec, asset in zip(policy.market.assets, aave.assets, strict=True):
        bitmap = _bitmap(w3, aave, asset.symbol)
        assert bitmap.risk_params() == spec.params
        assert bitmap.liquidation_bonus == 10_000 + spec.params.liquidation_bonus  # Aave stores 10000 + LB
        assert (bitmap.active, bitmap.frozen, bitmap.paused, bitmap.decimals) == (True, False, False, spec.decimals)
        assert _data_provider_params(w3, aave, asset.symbol) == (spec.params, (True, False, True, False))
        assert RiskParams.from_tuple(target.functions.getRiskParams(asset.token).call()) == spec.params
        assert target.functions.isListedAsset(asset.token).call()
        # prices: the Aave oracle reads our round-keeping feed through its source
        assert oracle.functions.getSourceOfAsset(asset.token).call() == asset.source
        assert contract_at(w3, "PriceFeedSource", asset.source).functions.feed().call() == asset.feed
        (_, answer, _, _, _) = contract_at(w3, "PriceFeed", asset.feed).functions.latestRoundData().call()
        assert oracle.functions.getAssetPrice(asset.token).call() == answer > 0
    assert oracle.functions.getAssetPrice(aave.stable.token).call() == 10**8
    stable = _bitmap(w3, aave, aave.stable.symbol)
    assert (stable.is_collateral, stable.borrowing_enabled) == (False, True)
    assert not target.functions.isListedAsset(aave.stable.token).call()
    # roles: the target holds RISK_ADMIN, only the governor calls it, the governor governs it
    assert acl.functions.isRiskAdmin(aave.target).call()
    assert target.functions.hasRiskAdminRole().call()
    assert target.functions.governor().call() == aave.governor
    assert aave.governor_contract(w3).functions.target().call() == aave.target
    assert target.functions.reserveConfiguration(aave.assets[0].token).call() == _bitmap(w3, aave, "WETH").data
    assert AaveDeployment.model_validate_json(aave.model_dump_json()) == aave  # what `save` writes, `load` reads


# --------------------------------------------------------------------------------------------- updates land


def test_update_inside_bounds_lands_on_aave(w3: Web3, aave: AaveDeployment, keeper: TxSender, policy: Policy) -> None:
    governor = aave.governor_contract(w3)
    token = aave.asset("WETH").token
    state = _state(w3, aave, "WETH")  # read_governed_asset: the same reader as on the native market
    assert state.bounds is not None
    # the oracle asks for more than the bounds allow in every direction: LTV and LT clamp to one step each
    raw = RiskParams(
        ltv=state.params.ltv - 1000,
        liquidation_threshold=state.params.liquidation_threshold + 150,
        liquidation_bonus=state.params.liquidation_bonus + 60,
    )
    bounded = clamp_update(state.asset, state.params, raw, state.bounds, state.last_changed_at, state.timestamp)
    expected = bounded.bounded
    assert expected.ltv == state.params.ltv - state.bounds.ltv.max_decrease_bps
    assert expected.liquidation_threshold > state.params.liquidation_threshold
    applied = submit_update(keeper, governor, token, expected, REPORT, state.timestamp + 3600)
    assert (applied.update_id, applied.old, applied.new) == (1, state.params, expected)
    # on Aave: the bitmap and the data provider both show it, the bonus stored as 10000 + LB
    bitmap = _bitmap(w3, aave, "WETH")
    assert (bitmap.ltv, bitmap.liquidation_threshold, bitmap.liquidation_bonus) == (
        expected.ltv,
        expected.liquidation_threshold,
        10_000 + expected.liquidation_bonus,
    )
    assert _data_provider_params(w3, aave, "WETH")[0] == expected
    # Aave's own event, emitted by the configurator in the governor's transaction
    receipt = w3.eth.get_transaction_receipt(applied.tx_hash)
    (event,) = (
        aave.configurator_contract(w3).events.CollateralConfigurationChanged().process_receipt(receipt, errors=DISCARD)
    )
    args = event["args"]
    assert (args["asset"], args["ltv"], args["liquidationThreshold"], args["liquidationBonus"]) == (
        token,
        expected.ltv,
        expected.liquidation_threshold,
        10_000 + expected.liquidation_bonus,
    )
    # the other reserves are untouched
    assert _bitmap(w3, aave, "WBTC").risk_params() == policy.market.assets[1].params


def test_target_reads_aave_not_its_own_storage(w3: Web3, aave: AaveDeployment, owner: TxSender) -> None:
    """A change made on Aave by someone else (the DAO's pool admin) is what the target and governor see."""
    token = aave.asset("LINK").token
    transact_named(
        owner, aave.configurator_contract(w3).functions.configureReserveAsCollateral(token, 6500, 7000, 10_800)
    )
    assert RiskParams.from_tuple(aave.target_contract(w3).functions.getRiskParams(token).call()) == RiskParams(
        ltv=6500, liquidation_threshold=7000, liquidation_bonus=800
    )
    state = read_governed_asset(aave.governor_contract(w3), aave.target_contract(w3), token)
    assert state.params == RiskParams(ltv=6500, liquidation_threshold=7000, liquidation_bonus=800)


# ------------------------------------------------------------------- refused first, by the governor or the target


def test_governor_rules_apply_first(w3: Web3, aave: AaveDeployment, keeper: TxSender) -> None:
    """A step beyond the governor's bounds is refused by the governor: Aave is never called."""
    state = _state(w3, aave, "WETH")
    assert state.bounds is not None
    deep = state.params.ltv - state.bounds.ltv.max_decrease_bps - 1
    _expect(
        "DecreaseTooLarge",
        _governor_fn(w3, aave, "WETH", state.params.model_copy(update={"ltv": deep})),
        keeper,
        param=0,
    )
    assert _bitmap(w3, aave, "WETH").risk_params() == state.params


def test_aave_rule_the_governor_allows_is_refused_by_the_target(
    w3: Web3, aave: AaveDeployment, owner: TxSender, keeper: TxSender
) -> None:
    """LB = 0 passes the governor's linked rules (with bounds allowing it) but not Aave's (bonus must be > 100 %):
    the target refuses it by name before calling Aave, which would revert with '20'."""
    governor = aave.governor_contract(w3)
    token = aave.asset("WETH").token
    loose = ParamBounds(min=0, max=1500, max_increase_bps=150, max_decrease_bps=10_000, min_delay_s=0)
    bounds = AssetBounds.from_tuple(governor.functions.getBounds(token).call())
    owner.transact(
        governor.functions.setBounds(token, bounds.model_copy(update={"liquidation_bonus": loose}).as_tuple())
    )
    zero_lb = _state(w3, aave, "WETH").params.model_copy(update={"liquidation_bonus": 0})
    assert governor.functions.checkUpdate(token, zero_lb.as_tuple(), FAR).call() == b""  # the governor agrees
    err = _expect("AaveBonusNotAboveOne", _governor_fn(w3, aave, "WETH", zero_lb), keeper, liquidationBonus=10_000)
    assert str(err).endswith("AaveBonusNotAboveOne(liquidationBonus=10000)")
    # the keeper's pre-send check gives the same answer, without a transaction
    data = aave.target_contract(w3).functions.checkRiskParams(token, zero_lb.as_tuple()).call()
    assert decode_aave_revert(data).name == "AaveBonusNotAboveOne"
    # and Aave itself would have refused it, with its numeric reason
    with pytest.raises(AaveRevert) as aave_err:
        simulate_named(
            aave.configurator_contract(w3).functions.configureReserveAsCollateral(
                token, zero_lb.ltv, zero_lb.liquidation_threshold, 10_000
            ),
            owner.address,
        )
    assert (aave_err.value.code, aave_err.value.name) == ("20", "INVALID_RESERVE_PARAMS")
    assert _bitmap(w3, aave, "WETH").liquidation_bonus > 10_000


@pytest.mark.parametrize(
    ("action", "error"),
    [("setReserveFreeze", "ReserveFrozen"), ("setReservePause", "ReservePaused")],
)
def test_frozen_or_paused_reserve_is_refused_by_name(
    w3: Web3, aave: AaveDeployment, owner: TxSender, keeper: TxSender, action: str, error: str
) -> None:
    token = aave.asset("WBTC").token
    transact_named(owner, getattr(aave.configurator_contract(w3).functions, action)(token, True))
    assert getattr(_bitmap(w3, aave, "WBTC"), "frozen" if error == "ReserveFrozen" else "paused")
    before = _bitmap(w3, aave, "WBTC").risk_params()
    _expect(error, _governor_fn(w3, aave, "WBTC", _ltv_step_down(w3, aave, "WBTC")), keeper, asset=token)
    assert _bitmap(w3, aave, "WBTC").risk_params() == before


def test_target_without_risk_admin_is_refused_by_name(
    w3: Web3, aave: AaveDeployment, owner: TxSender, keeper: TxSender
) -> None:
    transact_named(owner, aave.acl_contract(w3).functions.removeRiskAdmin(aave.target))
    assert not aave.target_contract(w3).functions.hasRiskAdminRole().call()
    _expect(
        "TargetNotRiskAdmin",
        _governor_fn(w3, aave, "LINK", _ltv_step_down(w3, aave, "LINK")),
        keeper,
        target=aave.target,
    )


def test_reserve_that_is_not_collateral(w3: Web3, aave: AaveDeployment, owner: TxSender) -> None:
    stable = aave.stable.token
    _expect("ReserveNotCollateral", aave.target_contract(w3).functions.getRiskParams(stable), owner, asset=stable)
    params = RiskParams(ltv=5000, liquidation_threshold=6000, liquidation_bonus=500)
    data = aave.target_contract(w3).functions.checkRiskParams(stable, params.as_tuple()).call()
    assert decode_aave_revert(data).name == "ReserveNotCollateral"
    bounds = AssetBounds.from_tuple(aave.governor_contract(w3).functions.getBounds(aave.asset("WETH").token).call())
    _expect("AssetNotListed", aave.governor_contract(w3).functions.setBounds(stable, bounds.as_tuple()), owner)


def test_only_the_governor_calls_the_target(w3: Web3, aave: AaveDeployment, keeper: TxSender, owner: TxSender) -> None:
    target = aave.target_contract(w3)
    params = _ltv_step_down(w3, aave, "WETH")
    _expect(
        "NotGovernor",
        target.functions.setRiskParams(aave.asset("WETH").token, params.as_tuple()),
        keeper,
        caller=keeper.address,
        governor=aave.governor,
    )
    _expect("GovernorAlreadySet", target.functions.setGovernor(keeper.address), owner, governor=aave.governor)


# ------------------------------------------------------------------------------- Aave's own reverts, by name


def test_aave_reverts_are_decoded_by_name(w3: Web3, aave: AaveDeployment, owner: TxSender, keeper: TxSender) -> None:
    configurator = aave.configurator_contract(w3)
    weth = aave.asset("WETH").token
    # a stranger calling the configurator: Aave's '4'
    err = _expect(
        "CALLER_NOT_RISK_OR_POOL_ADMIN", configurator.functions.configureReserveAsCollateral(weth, 1, 2, 10_500), keeper
    )
    assert isinstance(err, AaveRevert) and err.code == "4"
    assert str(err) == (
        "reverted in configureReserveAsCollateral: CALLER_NOT_RISK_OR_POOL_ADMIN(code=4, "
        "message=The caller of the function is not a risk or pool admin)"
    )
    # the pool admin sending what Aave's rules refuse: '20'
    _expect(
        "INVALID_RESERVE_PARAMS", configurator.functions.configureReserveAsCollateral(weth, 8300, 8250, 10_500), owner
    )
    # a supply into a paused reserve: '29'
    transact_named(owner, configurator.functions.setReservePause(weth, True))
    _expect("RESERVE_PAUSED", aave.pool_contract(w3).functions.supply(weth, 1, owner.address, 0), owner)


# ------------------------------------------------------------------------------------------- positions


def _account(w3: Web3, aave: AaveDeployment, user: str) -> dict[str, int]:
    names = ("collateral", "debt", "available", "lt", "ltv", "hf")
    return dict(zip(names, aave.pool_contract(w3).functions.getUserAccountData(user).call(), strict=True))


def _aave_health_factor(collateral_base: int, lt_bps: int, debt_base: int) -> int:
    """Aave's ``(collateral.percentMul(lt)).wadDiv(debt)``, both rounding half up (one collateral asset)."""
    weighted = (collateral_base * lt_bps + 5_000) // 10_000
    return (weighted * WAD + debt_base // 2) // debt_base


def test_supply_borrow_and_account_data(
    w3: Web3, aave: AaveDeployment, owner: TxSender, guardian: TxSender, keeper: TxSender
) -> None:
    """A real position (guardian's account as the borrower): Aave's health factor is collateral x LT / debt, and
    an LT cut sent through the governor moves it exactly so."""
    borrower = guardian
    weth = aave.asset("WETH")
    price = aave.oracle_contract(w3).functions.getAssetPrice(weth.token).call()  # USD, 8 decimals
    collateral_base = 10 * price  # 10 WETH in base units
    debt_usd = collateral_base * 60 // 100 // 10**8  # 60 % of the collateral's value (below its LTV), whole USDS
    open_position(
        w3, aave, owner, borrower, collateral="WETH", collateral_amount=10 * WAD, debt_amount=debt_usd * 10**6
    )
    account = _account(w3, aave, borrower.address)
    assert account["collateral"] == collateral_base
    assert abs(account["debt"] - debt_usd * 10**8) <= 1  # variable debt is scaled by the borrow index
    params = _state(w3, aave, "WETH").params
    assert (account["ltv"], account["lt"]) == (params.ltv, params.liquidation_threshold)
    assert account["hf"] == _aave_health_factor(account["collateral"], params.liquidation_threshold, account["debt"])
    assert account["hf"] > WAD
    # borrowing past the LTV is Aave's '36', by name
    pool = aave.pool_contract(w3)
    too_much = (collateral_base * params.ltv // 10_000 - account["debt"]) // 100 + 10**6  # base -> USDS units, +1
    _expect(
        "COLLATERAL_CANNOT_COVER_NEW_BORROW",
        pool.functions.borrow(aave.stable.token, too_much, 2, 0, borrower.address),
        borrower,
    )
    # an LT cut through the governor (within its 100 bps step) is what Aave's health factor uses at once
    cut = _lt_cut(w3, aave, "WETH")
    _submit(w3, aave, keeper, "WETH", cut)
    after = _account(w3, aave, borrower.address)
    assert (after["ltv"], after["lt"]) == (cut.ltv, cut.liquidation_threshold)
    # interest accrues between blocks: recompute with Aave's debt now
    assert after["hf"] == _aave_health_factor(after["collateral"], cut.liquidation_threshold, after["debt"])
    assert after["hf"] < account["hf"]
