"""``read_snapshot``: the market, its feeds and the governor, read in Multicall3 batches pinned to one block,
validated, and turned into a ``MarketSnapshot``.

Why pinned: a cycle must act on one consistent state. Every call carries the same block number, so transactions
mined while the snapshot is read change nothing in it. Why validated here: nothing downstream may run on a bad
picture of the market (a broken feed, a stale price, books that do not add up); the error names the asset and
the field so that the keeper can report it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
from eth_abi import decode as abi_decode
from web3 import Web3

from oracle.chain.abi_fast import decode_words
from oracle.chain.adapters.base import MarketAdapter, RawMarket, RawPosition
from oracle.chain.multicall import Multicall, make_call
from oracle.chain.rpc import rpc_call
from oracle.domain.params import BPS, AssetBounds
from oracle.domain.policy import SnapshotPolicy
from oracle.domain.snapshot import DENSITY_BANDS, AssetState, FeedRound, MarketSnapshot, MarketTotals, Position
from oracle.errors import SnapshotError

_ROUND = ["uint80", "int256", "uint256", "uint256", "uint80"]
_BOUNDS = "(uint16,uint16,uint16,uint16,uint32)[3]"


@dataclass(frozen=True)
class ChainSource:
    """Where a snapshot is read from: the node, the market's adapter, the governor and Multicall3."""

    w3: Web3
    adapter: MarketAdapter
    governor: str
    multicall: str
    policy: SnapshotPolicy


def _read_feeds_and_governor(
    mc: Multicall, block: int, source: ChainSource, market: RawMarket
) -> tuple[bool, list[tuple], list[int], list[AssetBounds | None], list[tuple[int, int, int]]]:
    gov = source.governor
    calls = [make_call(gov, "paused()", label="governor.paused()")]
    for a in market.assets:
        calls += [
            make_call(a.feed, "latestRoundData()", label=f"{a.symbol} feed.latestRoundData()"),
            make_call(a.feed, "decimals()", label=f"{a.symbol} feed.decimals()"),
            make_call(gov, "isConfigured(address)", ["address"], [a.address], f"governor.isConfigured({a.symbol})"),
            make_call(gov, "getBounds(address)", ["address"], [a.address], f"governor.getBounds({a.symbol})"),
            make_call(
                gov, "getLastChangedAt(address)", ["address"], [a.address], f"governor.getLastChangedAt({a.symbol})"
            ),
        ]
    results = mc.run(calls, block)
    paused = abi_decode(["bool"], results[0].data)[0]
    latest, decimals, bounds, last_changed = [], [], [], []
    for i in range(len(market.assets)):
        r = results[1 + 5 * i : 6 + 5 * i]
        latest.append(abi_decode(_ROUND, r[0].data))
        decimals.append(abi_decode(["uint8"], r[1].data)[0])
        configured = abi_decode(["bool"], r[2].data)[0]
        bounds.append(AssetBounds.from_tuple(abi_decode([_BOUNDS], r[3].data)[0]) if configured else None)
        last_changed.append(tuple(abi_decode(["uint64[3]"], r[4].data)[0]))
    return paused, latest, decimals, bounds, last_changed


def _read_history(
    mc: Multicall, block: int, market: RawMarket, latest: list[tuple], rounds: int
) -> list[tuple[FeedRound, ...]]:
    calls, spans = [], []
    for a, (latest_id, *_rest) in zip(market.assets, latest, strict=True):
        first = max(1, latest_id - rounds + 1)
        spans.append(latest_id - first + 1)
        calls += [
            make_call(a.feed, "getRoundData(uint80)", ["uint80"], [rid], f"{a.symbol} feed.getRoundData({rid})")
            for rid in range(first, latest_id + 1)
        ]
    results = mc.run(calls, block)
    history, k = [], 0
    for span in spans:
        rounds_of_asset = []
        for r in results[k : k + span]:
            rid, answer, _started, updated, _answered = decode_words(r.data)  # five static words
            rounds_of_asset.append(FeedRound(round_id=rid, answer=_signed(answer), updated_at=updated))
        history.append(tuple(rounds_of_asset))
        k += span
    return history


def _signed(word: int) -> int:
    """An int256 from its two's-complement word (feeds answer int256: a negative price must stay negative)."""
    return word - (1 << 256) if word >> 255 else word


def _validate_feed(
    symbol: str, feed: str, history: tuple[FeedRound, ...], timestamp: int, policy: SnapshotPolicy
) -> None:
    if not history:
        raise SnapshotError(f"{symbol}: feed {feed} has no rounds")
    for r in history:
        if r.answer <= 0:
            raise SnapshotError(f"{symbol}: price {r.answer} is not positive (feed {feed}, round {r.round_id})")
    for prev, cur in pairwise(history):
        if cur.updated_at < prev.updated_at:
            raise SnapshotError(f"{symbol}: feed {feed} round {cur.round_id} updatedAt goes back in time")
        ratio = cur.answer / prev.answer
        if max(ratio, 1 / ratio) > policy.max_round_jump:
            raise SnapshotError(
                f"{symbol}: price jumps x{ratio:.3f} between rounds {prev.round_id} and {cur.round_id} "
                f"(feed {feed}; limit x{policy.max_round_jump}): manipulation or a broken feed"
            )
    age = timestamp - history[-1].updated_at
    if age > policy.max_feed_age_s:
        raise SnapshotError(
            f"{symbol}: price is stale: updatedAt {history[-1].updated_at} is {age} s old at the snapshot's block "
            f"(limit {policy.max_feed_age_s} s, feed {feed})"
        )


def _validate_books(market: RawMarket, positions: tuple[RawPosition, ...], rounding_per_position: int = 0) -> None:
    """Positions must add up to the market's totals, within ``rounding_per_position`` units per position (the
    adapter's ``books_rounding_per_position``: 0 on our market, 1 on Aave)."""
    if len(positions) != market.borrowers:
        raise SnapshotError(f"market: {len(positions)} positions read, borrowersCount is {market.borrowers}")
    n = len(market.assets)
    for p in positions:
        if len(p.collateral) != n:
            raise SnapshotError(f"position {p.account}: {len(p.collateral)} collateral entries for {n} assets")
    slack = rounding_per_position * len(positions)
    for i, a in enumerate(market.assets):
        held = sum(p.collateral[i] for p in positions)
        if abs(held - a.total_collateral) > slack:
            raise SnapshotError(
                f"{a.symbol}: positions hold {held} but the market's totalCollateral is {a.total_collateral}"
            )
    debt = sum(p.debt for p in positions)
    if abs(debt - market.total_debt) > slack:
        raise SnapshotError(f"market: positions owe {debt} but totalDebt is {market.total_debt}")


def _risk_figures(
    market: RawMarket, prices: list[int], positions: tuple[RawPosition, ...]
) -> tuple[np.ndarray, np.ndarray, dict[int, dict[str, float]], np.ndarray]:
    """Per asset: collateral value (USD), attributed debt (USD), liquidation density bands, top-10 share."""
    n_assets = len(market.assets)
    if not positions:
        zeros = np.zeros(n_assets)
        return zeros, zeros, {i: {f"{int(b * 100)}%": 0.0 for b in DENSITY_BANDS} for i in range(n_assets)}, zeros
    amounts = np.array([p.collateral for p in positions], dtype=float)  # positions x assets
    unit_price = np.array(
        [
            price / 10 ** (a.recorded_token_decimals + a.recorded_feed_decimals)
            for a, price in zip(market.assets, prices, strict=True)
        ]
    )
    value = amounts * unit_price
    lt = np.array([a.params.liquidation_threshold / BPS for a in market.assets])
    debt = np.array([p.debt for p in positions], dtype=float) / 10**market.stable_decimals
    liq_value = value * lt
    headroom = liq_value.sum(axis=1) - debt  # USD of liquidation value above the debt
    total_value = value.sum(axis=1)
    share = np.divide(value, total_value[:, None], out=np.zeros_like(value), where=total_value[:, None] > 0)
    debt_by_asset = (share * debt[:, None]).sum(axis=0)
    # the fall of one asset's price that brings the position to HF = 1
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(liq_value > 0, headroom[:, None] / liq_value, np.inf)
    borrowing = (debt > 0)[:, None]
    density = {
        i: {f"{int(b * 100)}%": float(value[:, i][(borrowing[:, 0]) & (drop[:, i] <= b)].sum()) for b in DENSITY_BANDS}
        for i in range(n_assets)
    }
    totals = amounts.sum(axis=0)
    top10 = np.sort(amounts, axis=0)[::-1][:10].sum(axis=0)
    top10_share = np.divide(top10, totals, out=np.zeros_like(totals), where=totals > 0)
    return value.sum(axis=0), debt_by_asset, density, top10_share


def resolve_block(w3: Web3, block: int | None) -> tuple[int, int, int]:
    """The number, timestamp and base fee (wei; 0 before EIP-1559) of ``block`` (the latest when ``None``)."""
    header = rpc_call(w3, lambda: w3.eth.get_block("latest" if block is None else block), f"eth_getBlock({block})")
    return header["number"], header["timestamp"], int(header.get("baseFeePerGas", 0) or 0)


def read_snapshot(source: ChainSource, block: int | None = None, mc: Multicall | None = None) -> MarketSnapshot:
    """Read and validate the whole market at ``block`` (default: the latest block when called).

    ``mc`` batches the calls (default: Multicall3 at ``source.multicall``). Raises ``SnapshotError`` for a bad
    picture of the market and ``RpcError`` / ``MulticallError`` when the node cannot answer; nothing partial is
    returned.
    """
    w3, policy = source.w3, source.policy
    number, timestamp, base_fee = resolve_block(w3, block)
    chain_id = rpc_call(w3, lambda: w3.eth.chain_id, "eth_chainId")
    mc = mc or Multicall(w3, source.multicall)
    market = source.adapter.read_market(mc, number)
    paused, latest, feed_decimals, bounds, last_changed = _read_feeds_and_governor(mc, number, source, market)
    history = _read_history(mc, number, market, latest, policy.history_rounds)

    for a, hist, decimals in zip(market.assets, history, feed_decimals, strict=True):
        if decimals != a.recorded_feed_decimals:
            raise SnapshotError(
                f"{a.symbol}: feed {a.feed} reports {decimals} decimals, the market prices it with "
                f"{a.recorded_feed_decimals}"
            )
        if a.token_decimals != a.recorded_token_decimals:
            raise SnapshotError(
                f"{a.symbol}: token reports {a.token_decimals} decimals, the market values it with "
                f"{a.recorded_token_decimals}"
            )
        _validate_feed(a.symbol, a.feed, hist, timestamp, policy)

    raw_positions = source.adapter.read_positions(mc, number, market)
    _validate_books(market, raw_positions, source.adapter.books_rounding_per_position)
    prices = [hist[-1].answer for hist in history]
    value, debt_usd, density, top10 = _risk_figures(market, prices, raw_positions)
    price_tuple = tuple(prices)
    positions = tuple(
        Position(
            account=p.account,
            collateral=p.collateral,
            debt=p.debt,
            health_factor_wad=source.adapter.health_factor_wad(market, price_tuple, p),
        )
        for p in raw_positions
    )
    assets = tuple(
        AssetState(
            address=a.address,
            symbol=a.symbol,
            token_decimals=a.token_decimals,
            feed=a.feed,
            feed_decimals=a.recorded_feed_decimals,
            price=hist[-1].answer,
            price_updated_at=hist[-1].updated_at,
            staleness_s=timestamp - hist[-1].updated_at,
            history=hist,
            params=a.params,
            bounds=bounds[i],
            last_changed_at=last_changed[i],
            total_collateral=a.total_collateral,
            collateral_value_usd=float(value[i]),
            debt_usd=float(debt_usd[i]),
            liquidation_density_usd=density[i],
            top10_share=float(top10[i]),
        )
        for i, (a, hist) in enumerate(zip(market.assets, history, strict=True))
    )
    for s in assets:
        if not all(math.isfinite(x) for x in (s.collateral_value_usd, s.debt_usd, s.top10_share)):
            raise SnapshotError(f"{s.symbol}: derived values are not finite")
    totals = {name: getattr(market, name) for name in MarketTotals.model_fields}
    return MarketSnapshot(
        **totals,
        chain_id=chain_id,
        block_number=number,
        block_timestamp=timestamp,
        base_fee_wei=base_fee,
        market=source.adapter.address,
        governor=Web3.to_checksum_address(source.governor),
        paused=paused,
        utilisation=market.total_debt / market.total_supplied if market.total_supplied else 0.0,
        assets=assets,
        positions=positions,
    )
