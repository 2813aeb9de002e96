"""The Aave v3 market adapter against real Aave v3 on anvil: reserves, prices and totals as Aave's own contracts
report them, positions of every seeded user, health factors equal to ``getUserAccountData`` to the wei, users found
from the pool's events (incrementally, cached, refused for another pool), non-collateral and frozen reserves.

One deployment and one seeding per module: healthy positions on each collateral, a tail pushed near (and past)
liquidation by a price drop, a whale on two collaterals, a user who disabled a reserve as collateral, a supplier
without debt; a month of interest accrues so that Aave's indexes are not 1 and its rounding matters.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils import keccak
from web3 import Web3
from web3.contract.contract import ContractFunction

from oracle.chain.aave_errors import transact_named
from oracle.chain.adapters.aave_users import USER_EVENTS, AaveUserIndex, UserIndexCache, UserIndexError
from oracle.chain.adapters.aave_v3 import (
    AAVE_CLOSE_FACTOR_BPS,
    MAX_UINT,
    AaveRawMarket,
    AaveV3MarketAdapter,
    ReserveNotUpdatableError,
    require_updatable,
)
from oracle.chain.multicall import Multicall
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.tx import TxSender, contract_at
from oracle.data.demo_prices import load_demo_rounds
from oracle.devnet.aave import AaveDeployer, AaveDeployment, aave_abi, deploy_aave_market
from oracle.devnet.aave_seed import plan_aave_positions, seed_aave_positions
from oracle.devnet.deploy import FEED_DECIMALS
from oracle.domain.policy import Policy

pytestmark = [pytest.mark.anvil, pytest.mark.xdist_group("aave-adapter")]

WAD = 10**18
HISTORY_ROUNDS = 40
TAIL_SYMBOL = "LINK"

# (symbol, USD of collateral, fraction of the LTV borrowed); the tail borrows near its LTV on LINK
HEALTHY = [
    ("WETH", 20_000, 0.50),
    ("WETH", 5_000, 0.80),
    ("WBTC", 40_000, 0.30),
    ("WBTC", 12_000, 0.90),
    ("LINK", 8_000, 0.40),
    ("AAVE", 15_000, 0.60),
    ("AAVE", 6_000, 0.95),
]
TAIL = [0.999, 0.995, 0.99, 0.98]


def _sender(w3: Web3, name: str) -> TxSender:
    account = Account.from_key(keccak(text=f"aave-adapter-test/{name}"))
    w3.provider.make_request("anvil_setBalance", [account.address, hex(10**20)])  # type: ignore[arg-type]
    return TxSender(w3, account)


def _price(w3: Web3, aave: AaveDeployment, symbol: str) -> int:
    return int(aave.oracle_contract(w3).functions.getAssetPrice(aave.asset(symbol).token).call())


def _amounts(w3: Web3, aave: AaveDeployment, policy: Policy, symbol: str, usd: int, fraction: float) -> tuple[int, int]:
    """Collateral worth ``usd`` and a debt of ``fraction`` of its LTV, in the tokens' smallest units."""
    decimals = aave.asset(symbol).decimals
    amount = usd * 10**FEED_DECIMALS * 10**decimals // _price(w3, aave, symbol)
    ltv = next(a.params.ltv for a in policy.market.assets if a.symbol == symbol)
    debt = int(usd * ltv / 10_000 * fraction * 10**aave.stable.decimals)
    return amount, debt


def _send(sender: TxSender, fn: ContractFunction, gas: int = 1_500_000) -> None:
    """Send at a fixed gas limit and wait. Aave's gas estimates are tight (a binary search to the last unit), and a
    transaction mined in a later second than it was estimated in does more work (interest accrues): sent at its
    estimate, a borrow ran out of gas on chain in an inner library call."""
    nonce = sender.w3.eth.get_transaction_count(sender.address, "pending")
    tx = fn.build_transaction({"from": sender.address, "nonce": nonce, "chainId": sender.chain_id, "gas": gas})
    sender.wait([sender.w3.eth.send_raw_transaction(sender.account.sign_transaction(dict(tx)).raw_transaction)])
    sender.resync_nonce()


def _open(
    w3: Web3, aave: AaveDeployment, funder: TxSender, user: TxSender, symbol: str, amount: int, debt: int
) -> None:
    """A real position as ``open_position`` opens it (mint, approve, supply, borrow), every call sent by ``_send``."""
    pool = aave.pool_contract(w3)
    token = contract_at(w3, "TestToken", aave.asset(symbol).token)
    if amount:
        _send(funder, token.functions.mint(user.address, amount))
        _send(user, token.functions.approve(pool.address, amount))
        _send(user, pool.functions.supply(token.address, amount, user.address, 0))
    if debt:
        _send(user, pool.functions.borrow(aave.stable.token, debt, 2, 0, user.address))


def _push_prices(w3: Web3, aave: AaveDeployment, owner: TxSender, overrides: dict[str, int]) -> None:
    """A fresh round on every collateral feed at the current time (its latest price unless overridden)."""
    now = w3.eth.get_block("latest")["timestamp"]
    for a in aave.assets:
        feed = contract_at(w3, "PriceFeed", a.feed)
        answer = overrides.get(a.symbol, feed.functions.latestRoundData().call()[1])
        _send(owner, feed.functions.pushRounds([answer], [now]))


class Seeded:
    """What the module seeded: borrowers by role, and the block after seeding."""

    def __init__(self) -> None:
        self.users: dict[str, str] = {}  # role -> address
        self.block = 0


@pytest.fixture(scope="module")
def aave(w3: Web3, owner: TxSender, keeper: TxSender, guardian: TxSender, policy: Policy) -> AaveDeployment:
    history = {asset: rounds[-HISTORY_ROUNDS:] for asset, rounds in load_demo_rounds().items()}
    return deploy_aave_market(
        w3, owner, policy.market, keeper=keeper.address, guardian=guardian.address, price_history=history
    )


@pytest.fixture(scope="module")
def seeded(w3: Web3, aave: AaveDeployment, owner: TxSender, policy: Policy) -> Seeded:
    out = Seeded()

    def position(role: str, symbol: str, usd: int, fraction: float) -> TxSender:
        user = _sender(w3, role)
        amount, debt = _amounts(w3, aave, policy, symbol, usd, fraction)
        _open(w3, aave, owner, user, symbol, amount, debt)
        out.users[role] = user.address
        return user

    for i, (symbol, usd, fraction) in enumerate(HEALTHY):
        position(f"healthy-{i}", symbol, usd, fraction)
    for i, fraction in enumerate(TAIL):
        position(f"tail-{i}", TAIL_SYMBOL, 10_000 + 1_000 * i, fraction)
    # a whale on two collaterals: WBTC first without debt, then WETH with the debt against both
    whale = _sender(w3, "whale")
    amount, _ = _amounts(w3, aave, policy, "WBTC", 1_500_000, 0.0)
    _open(w3, aave, owner, whale, "WBTC", amount, 0)
    amount, debt = _amounts(w3, aave, policy, "WETH", 2_500_000, 0.7)
    _open(w3, aave, owner, whale, "WETH", amount, debt)
    out.users["whale"] = whale.address
    # WETH and LINK supplied, LINK then disabled as collateral: it is held but does not count
    mixed = position("mixed", "WETH", 30_000, 0.3)
    amount, _ = _amounts(w3, aave, policy, "LINK", 10_000, 0.0)
    _open(w3, aave, owner, mixed, "LINK", amount, 0)
    pool = aave.pool_contract(w3)
    _send(mixed, pool.functions.setUserUseReserveAsCollateral(aave.asset("LINK").token, False))
    position("supplier", "AAVE", 9_000, 0.0)

    # a month of interest, then fresh rounds; LINK falls to where a position at its full LTV has HF 0.995
    w3.provider.make_request("evm_increaseTime", [30 * 86_400])  # type: ignore[arg-type]
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    link = next(a for a in policy.market.assets if a.symbol == TAIL_SYMBOL).params
    dropped = _price(w3, aave, TAIL_SYMBOL) * link.ltv * 995 // (link.liquidation_threshold * 1000)
    _push_prices(w3, aave, owner, {TAIL_SYMBOL: dropped})
    out.block = w3.eth.block_number
    return out


@pytest.fixture(autouse=True)
def clean(w3: Web3, seeded: Seeded, owner: TxSender) -> Iterator[None]:
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    yield
    w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    owner.resync_nonce()


def _adapter(aave: AaveDeployment, cache: Path | None = None, max_block_range: int = 1_000) -> AaveV3MarketAdapter:
    index = AaveUserIndex(aave.pool, start_block=0, cache_path=cache, max_block_range=max_block_range)
    return AaveV3MarketAdapter(aave.pool, aave.stable.token, index)


def _read(w3: Web3, aave: AaveDeployment, adapter: AaveV3MarketAdapter, block: int) -> AaveRawMarket:
    return adapter.read_market(Multicall(w3, aave.multicall), block)


def _seeded_users(aave: AaveDeployment, seeded: Seeded) -> set[str]:
    """The seeded users and the deployer, who supplied the lenders' liquidity."""
    return {*seeded.users.values(), aave.deployer}


# ------------------------------------------------------------------------------------------------- market


def test_market_is_what_aave_reports(w3: Web3, aave: AaveDeployment, seeded: Seeded) -> None:
    block = w3.eth.block_number
    market = _read(w3, aave, _adapter(aave), block)
    provider = aave.data_provider_contract(w3).functions
    oracle = aave.oracle_contract(w3).functions
    assert [a.symbol for a in market.assets] == [a.symbol for a in aave.assets]
    assert market.non_collateral == ()
    assert market.stable == aave.stable.token
    assert market.stable_decimals == aave.stable.decimals
    assert market.close_factor_bps == AAVE_CLOSE_FACTOR_BPS
    assert market.oracle == aave.aave_oracle
    assert market.base_currency_unit == 10**FEED_DECIMALS
    assert market.debt_price == oracle.getAssetPrice(aave.stable.token).call(block_identifier=block)
    reserve = provider.getReserveData(aave.stable.token).call(block_identifier=block)
    # (unbacked, accruedToTreasuryScaled, totalAToken, totalStableDebt, totalVariableDebt, ...)
    assert market.total_supplied == reserve[2]
    assert market.total_debt == reserve[3] + reserve[4] > 0
    stable = contract_at(w3, "TestToken", aave.stable.token)
    assert market.available_liquidity == stable.functions.balanceOf(aave.stable.a_token).call(block_identifier=block)
    for raw, deployed in zip(market.assets, aave.assets, strict=True):
        cfg = provider.getReserveConfigurationData(deployed.token).call(block_identifier=block)
        decimals, ltv, lt, bonus, _rf, collateral, _borrowing, _stable, active, frozen = cfg
        assert (raw.params.ltv, raw.params.liquidation_threshold, raw.params.liquidation_bonus) == (
            ltv,
            lt,
            bonus - 10_000,
        )
        assert collateral and raw.recorded_token_decimals == raw.token_decimals == decimals
        assert (raw.active, raw.frozen, raw.paused) == (active, frozen, False)
        assert raw.feed == deployed.feed  # behind the oracle's source
        assert raw.a_token == deployed.a_token
        assert raw.oracle_price == oracle.getAssetPrice(deployed.token).call(block_identifier=block)
        assert raw.recorded_feed_decimals == FEED_DECIMALS
        a_token = contract_at(w3, "TestToken", deployed.a_token)
        assert raw.total_collateral == a_token.functions.totalSupply().call(block_identifier=block) > 0
    assert market.borrowers == len(market.users) == len(_seeded_users(aave, seeded))


def test_reads_are_pinned_to_the_block(w3: Web3, aave: AaveDeployment, owner: TxSender, policy: Policy) -> None:
    adapter = _adapter(aave)
    block = w3.eth.block_number
    before = _read(w3, aave, adapter, block)
    user = _sender(w3, "late")
    amount, debt = _amounts(w3, aave, policy, "WETH", 10_000, 0.5)
    _open(w3, aave, owner, user, "WETH", amount, debt)
    again = _read(w3, aave, adapter, block)
    assert again == before
    after = _read(w3, aave, adapter, w3.eth.block_number)
    assert user.address in after.users and after.total_debt > before.total_debt


# -------------------------------------------------------------------------------------- positions and HF


def test_positions_and_health_factors_equal_aave(w3: Web3, aave: AaveDeployment, seeded: Seeded) -> None:
    """Every position's balances are Aave's, and its HF is ``getUserAccountData().healthFactor`` exactly."""
    adapter = _adapter(aave)
    mc = Multicall(w3, aave.multicall)
    block = w3.eth.block_number
    market = adapter.read_market(mc, block)
    positions = adapter.read_positions(mc, block, market)
    assert [p.account for p in positions] == sorted(_seeded_users(aave, seeded))
    accounts = adapter.read_account_data(mc, block, [p.account for p in positions])
    pool = aave.pool_contract(w3).functions
    prices = tuple(a.oracle_price for a in market.assets)
    by_role = {address: role for role, address in seeded.users.items()}
    hfs: dict[str, int] = {}
    for p, acct in zip(positions, accounts, strict=True):
        assert acct.health_factor == pool.getUserAccountData(p.account).call(block_identifier=block)[5]
        hf = adapter.health_factor_wad(market, prices, p)
        assert hf == acct.health_factor, by_role.get(p.account, p.account)
        hfs[by_role.get(p.account, "deployer")] = hf
        for asset, amount in zip(market.assets, p.collateral, strict=True):
            token = contract_at(w3, "TestToken", asset.a_token)
            assert amount == token.functions.balanceOf(p.account).call(block_identifier=block)
        debt_token = contract_at(w3, "TestToken", aave.stable.variable_debt_token)
        assert p.debt == debt_token.functions.balanceOf(p.account).call(block_identifier=block)
    # the books add up: positions hold every aToken of the collateral reserves and owe the whole debt
    for i, asset in enumerate(market.assets):
        assert sum(p.collateral[i] for p in positions) == asset.total_collateral
    assert abs(sum(p.debt for p in positions) - market.total_debt) <= len(positions)  # one rayMul rounding each
    # the seeding did what it says: a tail around HF 1 (one below), a disabled collateral, holders without debt
    tail = sorted(hfs[f"tail-{i}"] for i in range(len(TAIL)))
    assert tail[0] < WAD < tail[-1] < 105 * WAD // 100
    assert hfs["supplier"] == hfs["deployer"] == MAX_UINT
    mixed = next(p for p in positions if p.account == seeded.users["mixed"])
    link = [a.symbol for a in market.assets].index("LINK")
    assert mixed.collateral[link] > 0 and not mixed.collateral_enabled[link]


def test_snapshot_through_the_reader(w3: Web3, aave: AaveDeployment, seeded: Seeded, policy: Policy) -> None:
    """The unchanged reader builds a validated snapshot of the Aave market through this adapter."""
    source = ChainSource(w3, _adapter(aave), aave.governor, aave.multicall, policy.snapshot)
    snapshot = read_snapshot(source)
    assert snapshot.market == aave.pool
    assert len(snapshot.positions) == len(_seeded_users(aave, seeded))
    pool = aave.pool_contract(w3).functions
    block = snapshot.block_number
    accounts = {
        p.account: pool.getUserAccountData(p.account).call(block_identifier=block)[5] for p in snapshot.positions
    }
    assert all(p.health_factor_wad == accounts[p.account] for p in snapshot.positions)
    assert all(a.bounds is not None for a in snapshot.assets)


# --------------------------------------------------------------------------------------------- user index


def test_event_signatures_are_the_pools() -> None:
    events = {
        f"{e['name']}({','.join(i['type'] for i in e['inputs'])})" for e in aave_abi("Pool") if e["type"] == "event"
    }
    assert set(USER_EVENTS) <= events


def test_user_index_finds_the_seeded_users_incrementally(
    w3: Web3, aave: AaveDeployment, seeded: Seeded, owner: TxSender, policy: Policy, tmp_path: Path
) -> None:
    cache = tmp_path / "aave-users.json"
    index = AaveUserIndex(aave.pool, start_block=0, cache_path=cache, max_block_range=50)
    first = w3.eth.block_number
    assert set(index.sync(w3, first)) == _seeded_users(aave, seeded)
    stats = index.last_sync
    assert stats is not None and (stats.from_block, stats.to_block) == (0, first)
    assert stats.requests == first // 50 + 1
    saved = UserIndexCache.model_validate_json(cache.read_text())
    assert saved.last_block == first and set(saved.users) == _seeded_users(aave, seeded)

    # new borrowers, and an old one borrowing more
    late = [_sender(w3, f"late-{i}") for i in range(3)]
    for user in late:
        amount, debt = _amounts(w3, aave, policy, "WBTC", 20_000, 0.5)
        _open(w3, aave, owner, user, "WBTC", amount, debt)
    healthy = _sender(w3, "healthy-0")
    _open(w3, aave, owner, healthy, "WETH", 0, 10**6)
    second = w3.eth.block_number
    fresh = AaveUserIndex(aave.pool, start_block=0, cache_path=cache, max_block_range=50)  # a new process
    users = fresh.sync(w3, second)
    assert set(users) == _seeded_users(aave, seeded) | {u.address for u in late}
    stats = fresh.last_sync
    assert stats is not None and (stats.from_block, stats.to_block) == (first + 1, second)
    assert stats.new_users == len(late) and not stats.rebuilt
    assert stats.logs == 3 * 3 + 1  # per late user: Supply, ReserveUsedAsCollateralEnabled, Borrow; one Borrow
    assert UserIndexCache.model_validate_json(cache.read_text()).last_block == second
    # nothing new: no request at all
    fresh.sync(w3, second)
    assert fresh.last_sync is not None and fresh.last_sync.requests == 0
    # a snapshot of the past leaves the cache alone and finds only the users of then
    assert set(fresh.sync(w3, first)) == _seeded_users(aave, seeded)
    assert UserIndexCache.model_validate_json(cache.read_text()).last_block == second


def test_cache_for_another_pool_or_chain_is_refused(w3: Web3, aave: AaveDeployment, tmp_path: Path) -> None:
    cache = tmp_path / "aave-users.json"
    AaveUserIndex(aave.pool, start_block=0, cache_path=cache).sync(w3, w3.eth.block_number)
    with pytest.raises(UserIndexError, match=f"indexes pool {aave.pool} on chain {w3.eth.chain_id}, not pool"):
        AaveUserIndex(aave.pool_configurator, start_block=0, cache_path=cache).sync(w3, w3.eth.block_number)
    other_chain = json.loads(cache.read_text()) | {"chain_id": 1}
    cache.write_text(json.dumps(other_chain))
    with pytest.raises(UserIndexError, match="on chain 1, not pool"):
        AaveUserIndex(aave.pool, start_block=0, cache_path=cache).sync(w3, w3.eth.block_number)
    cache.write_text("{}")
    with pytest.raises(UserIndexError, match="is not an Aave user cache"):
        AaveUserIndex(aave.pool, start_block=0, cache_path=cache).sync(w3, w3.eth.block_number)


def test_cache_of_a_reverted_chain_is_rebuilt(
    w3: Web3, aave: AaveDeployment, seeded: Seeded, owner: TxSender, policy: Policy, tmp_path: Path
) -> None:
    cache = tmp_path / "aave-users.json"
    index = AaveUserIndex(aave.pool, start_block=0, cache_path=cache)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    user = _sender(w3, "reverted")
    amount, debt = _amounts(w3, aave, policy, "WETH", 10_000, 0.5)
    _open(w3, aave, owner, user, "WETH", amount, debt)
    assert user.address in index.sync(w3, w3.eth.block_number)
    w3.provider.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    owner.resync_nonce()
    for _ in range(10):  # the same block numbers again, other blocks
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    users = index.sync(w3, w3.eth.block_number)
    assert user.address not in users and set(users) == _seeded_users(aave, seeded)
    assert index.last_sync is not None and index.last_sync.rebuilt


# ------------------------------------------------------------------------------- reserves the oracle cannot set


@pytest.mark.parametrize(("action", "flag"), [("setReserveFreeze", "frozen"), ("setReservePause", "paused")])
def test_frozen_or_paused_reserve_is_flagged(
    w3: Web3, aave: AaveDeployment, owner: TxSender, action: str, flag: str
) -> None:
    transact_named(owner, getattr(aave.configurator_contract(w3).functions, action)(aave.asset("WBTC").token, True))
    market = _read(w3, aave, _adapter(aave), w3.eth.block_number)
    wbtc = next(a for a in market.assets if a.symbol == "WBTC")
    assert getattr(wbtc, flag) and not getattr(wbtc, {"frozen": "paused", "paused": "frozen"}[flag])
    with pytest.raises(ReserveNotUpdatableError, match=f"WBTC: reserve is {flag} on pool"):
        require_updatable(market, "WBTC")
    assert require_updatable(market, "WETH").symbol == "WETH"


def test_reserve_that_is_not_collateral_is_listed_apart(w3: Web3, aave: AaveDeployment, owner: TxSender) -> None:
    """A reserve listed on the pool without collateral parameters (LT 0) is not an asset of the snapshot."""
    pool = aave.pool_contract(w3)
    stable_reserve = pool.functions.getReserveData(aave.stable.token).call()
    token = owner.deploy("TestToken", "Other Stable", "OUSD", 18, owner.address)
    deployer = AaveDeployer(owner)
    a_token, stable_debt, variable_debt = (
        deployer.deploy(name, aave.pool) for name in ("AToken", "StableDebtToken", "VariableDebtToken")
    )
    transact_named(
        owner,
        aave.configurator_contract(w3).functions.initReserves(
            [
                (
                    a_token.address,
                    stable_debt.address,
                    variable_debt.address,
                    18,
                    stable_reserve[11],  # the stablecoin's rate strategy
                    token.address,
                    aave.treasury,
                    "0x0000000000000000000000000000000000000000",
                    "Aave devnet OUSD",
                    "aOUSD",
                    "Aave devnet variable debt OUSD",
                    "variableDebtOUSD",
                    "Aave devnet stable debt OUSD",
                    "stableDebtOUSD",
                    b"",
                )
            ]
        ),
    )
    market = _read(w3, aave, _adapter(aave), w3.eth.block_number)  # no price source either: not needed
    assert market.non_collateral == ("OUSD",)
    assert [a.symbol for a in market.assets] == [a.symbol for a in aave.assets]
    with pytest.raises(ReserveNotUpdatableError, match="OUSD: reserve is not collateral on pool"):
        require_updatable(market, "OUSD")
    with pytest.raises(ReserveNotUpdatableError, match="no collateral reserve of that name"):
        require_updatable(market, "DOGE")


def test_bulk_seeded_positions_read_exactly(w3: Web3, aave: AaveDeployment, seeded: Seeded) -> None:
    """The benchmark's seeder (batched transactions through the pool) and the adapter agree with Aave too."""
    plan = plan_aave_positions(w3, aave, 40, seed=7)
    assert seed_aave_positions(w3, aave, plan) == 4 * len(plan)
    adapter = _adapter(aave)
    mc = Multicall(w3, aave.multicall)
    block = w3.eth.block_number
    market = adapter.read_market(mc, block)
    assert {p.account for p in plan} <= set(market.users)
    positions = adapter.read_positions(mc, block, market)
    prices = tuple(a.oracle_price for a in market.assets)
    accounts = adapter.read_account_data(mc, block, [p.account for p in positions])
    assert [adapter.health_factor_wad(market, prices, p) for p in positions] == [a.health_factor for a in accounts]
    by_account = {p.account: p for p in positions}
    symbols = [a.symbol for a in market.assets]
    for planned in plan:
        assert by_account[planned.account].collateral[symbols.index(planned.symbol)] == planned.amount
