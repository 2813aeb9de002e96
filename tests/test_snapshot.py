"""``read_snapshot`` against a real anvil: equal to individual calls, pinned to its block, every bad input
rejected with the asset and field named, RPC faults retried then reported, empty and single-position markets."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from web3 import Web3

from oracle.chain.adapters import NativeMarketAdapter, RawMarket
from oracle.chain.multicall import Multicall
from oracle.chain.reader import ChainSource, read_snapshot
from oracle.chain.rpc import make_web3
from oracle.chain.tx import TxSender, contract_at
from oracle.devnet.deploy import Deployment
from oracle.devnet.seed import seed_positions
from oracle.devnet.storage import hex_word, mapping_slot, variable_slot
from oracle.domain.params import RiskParams
from oracle.domain.policy import Policy
from oracle.domain.snapshot import MarketSnapshot
from oracle.errors import RpcError, SnapshotError
from tests.support.rpc_proxy import RpcProxy

pytestmark = [pytest.mark.anvil, pytest.mark.usefixtures("clean_chain")]


def source_for(
    w3: Web3,
    deployment: Deployment,
    policy: Policy,
    adapter: NativeMarketAdapter | None = None,
    **policy_changes: object,
) -> ChainSource:
    return ChainSource(
        w3,
        adapter or NativeMarketAdapter(deployment.market),
        deployment.governor,
        deployment.multicall,
        policy.snapshot.model_copy(update=policy_changes),
    )


@pytest.fixture
def seeded(clean_chain: None, w3: Web3, deployment: Deployment) -> Iterator[None]:
    seed_positions(w3, deployment, 60, seed=5, method="storage")
    yield


def _feed(w3: Web3, deployment: Deployment, symbol: str):
    return contract_at(w3, "PriceFeed", deployment.asset(symbol).feed)


@pytest.mark.usefixtures("seeded")
def test_snapshot_equals_individual_calls(w3: Web3, deployment: Deployment, policy: Policy) -> None:
    snap = read_snapshot(source_for(w3, deployment, policy))
    at = snap.block_number
    market, governor = deployment.market_contract(w3), deployment.governor_contract(w3)
    assert snap.block_timestamp == w3.eth.get_block(at)["timestamp"]
    assert snap.total_debt == market.functions.totalDebt().call(block_identifier=at)
    assert snap.total_supplied == market.functions.totalSupplied().call(block_identifier=at)
    assert len(snap.positions) == market.functions.borrowersCount().call(block_identifier=at) == 60
    for i, p in enumerate(snap.positions):
        assert p.account == market.functions.borrowerAt(i).call(block_identifier=at)
        collateral, debt = market.functions.positionOf(p.account).call(block_identifier=at)
        assert (list(p.collateral), p.debt) == (collateral, debt)
        assert p.health_factor_wad == market.functions.healthFactor(p.account).call(block_identifier=at)
    for a in snap.assets:
        assert a.params == RiskParams.from_tuple(market.functions.getRiskParams(a.address).call(block_identifier=at))
        assert a.bounds is not None
        assert a.bounds.as_tuple() == [
            tuple(b) for b in governor.functions.getBounds(a.address).call(block_identifier=at)
        ]
        feed = _feed(w3, deployment, a.symbol)
        latest = feed.functions.latestRoundData().call(block_identifier=at)
        assert (a.price, a.price_updated_at) == (latest[1], latest[3])
        assert len(a.history) == min(policy.snapshot.history_rounds, latest[0])
        oldest = feed.functions.getRoundData(a.history[0].round_id).call(block_identifier=at)
        assert a.history[0].answer == oldest[1]
        assert a.total_collateral == market.functions.totalCollateral(a.address).call(block_identifier=at)
        held = sum(p.collateral[snap.assets.index(a)] for p in snap.positions)
        assert held == a.total_collateral
        assert 0 < a.top10_share <= 1
        bands = list(a.liquidation_density_usd.values())
        assert bands == sorted(bands), "wider bands hold at least as much collateral"
    assert MarketSnapshot.model_validate_json(snap.model_dump_json()) == snap


@pytest.mark.usefixtures("seeded")
def test_snapshot_is_pinned_to_its_block(w3: Web3, deployment: Deployment, policy: Policy, owner: TxSender) -> None:
    source = source_for(w3, deployment, policy)
    before = read_snapshot(source)
    # the chain moves on: a price update, a new borrower, a parameter change
    owner.transact(_feed(w3, deployment, "WETH").functions.updateAnswer(before.asset("WETH").price * 97 // 100))
    seed_positions(w3, deployment, 5, seed=99, method="transactions")
    assert read_snapshot(source).block_number > before.block_number
    again = read_snapshot(source, before.block_number)
    assert again == before


@pytest.mark.parametrize("answer", [0, -1])
def test_non_positive_price_is_rejected(
    w3: Web3, deployment: Deployment, policy: Policy, owner: TxSender, answer: int
) -> None:
    owner.transact(_feed(w3, deployment, "LINK").functions.updateAnswer(answer))
    with pytest.raises(SnapshotError, match=rf"LINK: price {answer} is not positive"):
        read_snapshot(source_for(w3, deployment, policy))


def test_stale_feed_is_rejected(w3: Web3, deployment: Deployment, policy: Policy) -> None:
    w3.provider.make_request("evm_increaseTime", [policy.snapshot.max_feed_age_s + 60])
    w3.provider.make_request("evm_mine", [])
    with pytest.raises(SnapshotError, match=r"WETH: price is stale"):
        read_snapshot(source_for(w3, deployment, policy))


def test_price_jump_is_rejected(w3: Web3, deployment: Deployment, policy: Policy, owner: TxSender) -> None:
    feed = _feed(w3, deployment, "AAVE")
    price = feed.functions.latestRoundData().call()[1]
    owner.transact(feed.functions.updateAnswer(price * 3))
    with pytest.raises(SnapshotError, match=r"AAVE: price jumps x3\.000 between rounds"):
        read_snapshot(source_for(w3, deployment, policy))
    # the same history passes under a policy that tolerates x3.5
    read_snapshot(source_for(w3, deployment, policy, max_round_jump=3.5))


class _MisreportingAdapter(NativeMarketAdapter):
    """Reads the real market, then misreports one asset's recorded decimals (an adapter or market bug)."""

    def read_market(self, mc: Multicall, block: int) -> RawMarket:
        market = super().read_market(mc, block)
        broken = market.assets[1].model_copy(update={"recorded_feed_decimals": 18})
        return market.model_copy(update={"assets": (market.assets[0], broken, *market.assets[2:])})


def test_inconsistent_decimals_are_rejected(w3: Web3, deployment: Deployment, policy: Policy) -> None:
    with pytest.raises(SnapshotError, match=r"WBTC: feed 0x\w+ reports 8 decimals, the market prices it with 18"):
        read_snapshot(source_for(w3, deployment, policy, adapter=_MisreportingAdapter(deployment.market)))


@pytest.mark.usefixtures("seeded")
def test_books_that_do_not_add_up_are_rejected(w3: Web3, deployment: Deployment, policy: Policy) -> None:
    market = deployment.market_contract(w3)
    weth = deployment.asset("WETH").token
    slot = mapping_slot(variable_slot("LendingMarket", "totalCollateral"), weth)
    total = market.functions.totalCollateral(weth).call()
    w3.provider.make_request("anvil_setStorageAt", [deployment.market, hex(slot), hex_word(total + 1)])
    with pytest.raises(SnapshotError, match=rf"WETH: positions hold {total} but the market's totalCollateral is"):
        read_snapshot(source_for(w3, deployment, policy))
    w3.provider.make_request("anvil_setStorageAt", [deployment.market, hex(slot), hex_word(total)])
    debt_slot = variable_slot("LendingMarket", "totalDebt")
    w3.provider.make_request("anvil_setStorageAt", [deployment.market, hex(debt_slot), hex_word(1)])
    with pytest.raises(SnapshotError, match=r"market: positions owe \d+ but totalDebt is 1"):
        read_snapshot(source_for(w3, deployment, policy))


@pytest.mark.usefixtures("seeded")
def test_dropped_rpc_is_retried_then_reported(anvil, deployment: Deployment, policy: Policy) -> None:
    with RpcProxy(anvil.url) as proxy:
        w3 = make_web3(proxy.url, timeout_s=5)
        source = source_for(w3, deployment, policy)
        expected = read_snapshot(source)
        proxy.drop(2, after=3)  # two connections dropped in the middle of the read
        assert read_snapshot(source, expected.block_number) == expected
        assert proxy.dropped == 2
        proxy.drop(-1, after=3)  # the node goes away for good mid-read
        with pytest.raises(RpcError, match=r"multicall of \d+ calls at block \d+ .*RPC failed after 4 attempts"):
            read_snapshot(source, expected.block_number)


def test_empty_market(w3: Web3, deployment: Deployment, policy: Policy) -> None:
    snap = read_snapshot(source_for(w3, deployment, policy))
    assert snap.positions == () and snap.total_debt == 0 and snap.utilisation == 0
    assert all(a.collateral_value_usd == 0 and a.top10_share == 0 for a in snap.assets)


def test_single_position(w3: Web3, deployment: Deployment, policy: Policy) -> None:
    seed_positions(w3, deployment, 1, seed=1, method="transactions", no_debt_share=0.0)
    snap = read_snapshot(source_for(w3, deployment, policy))
    (p,) = snap.positions
    assert p.debt > 0 and p.health_factor >= 1.0
    held = [a for a, c in zip(snap.assets, p.collateral, strict=True) if c]
    assert all(a.top10_share == 1.0 for a in held)
    assert sum(a.debt_usd for a in snap.assets) == pytest.approx(p.debt / 10**snap.stable_decimals)
