"""Deploy the governed market to any RPC: tokens, price feeds with history, the market, the governor, Multicall3.

Why one function: the demo, the tests and the benchmarks all need the same market, built the same way from a
policy's ``MarketSpec``; the result is a ``Deployment`` record (saved as JSON) that every later command reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict
from web3 import Web3
from web3.contract import Contract

from oracle.chain.tx import TxSender, contract_at
from oracle.domain.market import MarketSpec

FEED_DECIMALS = 8
ROUND_BATCH = 200  # rounds per pushRounds transaction


class DeployedAsset(BaseModel):
    """A collateral asset on chain."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    token: str
    feed: str
    decimals: int


class Deployment(BaseModel):
    """Addresses and roles of a deployed market, as saved to ``deployment.json``."""

    model_config = ConfigDict(frozen=True)

    chain_id: int
    block: int
    deployer: str
    owner: str
    keeper: str
    guardian: str
    governor: str
    market: str
    multicall: str
    stable: str
    stable_decimals: int
    assets: tuple[DeployedAsset, ...]

    def save(self, path: Path) -> None:
        """Write as JSON."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Deployment:
        """Read from JSON."""
        return cls.model_validate_json(path.read_text())

    def asset(self, symbol: str) -> DeployedAsset:
        """The asset called ``symbol``."""
        return next(a for a in self.assets if a.symbol == symbol)

    def governor_contract(self, w3: Web3) -> Contract:
        return contract_at(w3, "RiskParameterGovernor", self.governor)

    def market_contract(self, w3: Web3) -> Contract:
        return contract_at(w3, "LendingMarket", self.market)


def to_feed_answer(price_usd: float) -> int:
    """A USD price as the feed's integer answer (8 decimals, rounded half-even)."""
    return round(price_usd * 10**FEED_DECIMALS)


def push_history(
    sender: TxSender, feed: Contract, history: Sequence[tuple[datetime, float]], end_timestamp: int
) -> None:
    """Replay ``history`` into ``feed`` as rounds keeping their spacing, the last one at ``end_timestamp``.

    Real history is shifted in time so that the latest round is fresh on the chain it lands on.
    """
    if not history:
        return
    shift = end_timestamp - int(history[-1][0].timestamp())
    answers = [to_feed_answer(p) for _, p in history]
    times = [int(t.timestamp()) + shift for t, _ in history]
    sender.transact_all(
        feed.functions.pushRounds(answers[i : i + ROUND_BATCH], times[i : i + ROUND_BATCH])
        for i in range(0, len(answers), ROUND_BATCH)
    )


def deploy_market(
    w3: Web3,
    sender: TxSender,
    spec: MarketSpec,
    *,
    keeper: str,
    guardian: str,
    owner: str | None = None,
    price_history: Mapping[str, Sequence[tuple[datetime, float]]],
) -> Deployment:
    """Deploy and wire the whole market from ``spec``; ``sender`` pays, mints and is the feeds' updater.

    The governor is the market's only risk admin; ownership of the governor moves to ``owner`` (default: the
    sender) once bounds are set. Lenders' liquidity (``spec.liquidity``) is supplied by the sender.
    """
    me = sender.address
    owner = owner or me
    now = w3.eth.get_block("latest")["timestamp"]

    stable = sender.deploy("TestToken", spec.stable.name, spec.stable.symbol, spec.stable.decimals, me)
    market = sender.deploy("LendingMarket", stable.address, me)
    multicall = sender.deploy("Multicall3")
    governor = sender.deploy("RiskParameterGovernor", market.address, me, keeper, guardian)

    assets = []
    for a in spec.assets:
        token = sender.deploy("TestToken", a.name, a.symbol, a.decimals, me)
        feed = sender.deploy("PriceFeed", FEED_DECIMALS, f"{a.symbol} / USD", me)
        push_history(sender, feed, price_history[a.price_source], now)
        sender.transact(market.functions.listAsset(token.address, feed.address, a.params.as_tuple()))
        assets.append(DeployedAsset(symbol=a.symbol, token=token.address, feed=feed.address, decimals=a.decimals))

    sender.transact_all(
        [
            market.functions.setCloseFactor(spec.close_factor_bps),
            market.functions.setRiskAdmin(governor.address),
            *(
                governor.functions.setBounds(d.token, a.bounds.as_tuple())
                for d, a in zip(assets, spec.assets, strict=True)
            ),
        ]
    )
    liquidity = spec.liquidity * 10**spec.stable.decimals
    for fn in (  # each step's simulation needs the previous one mined
        stable.functions.mint(me, liquidity),
        stable.functions.approve(market.address, liquidity),
        market.functions.supply(liquidity),
    ):
        sender.transact(fn)
    if owner != me:
        sender.transact(governor.functions.transferOwnership(owner))

    return Deployment(
        chain_id=w3.eth.chain_id,
        block=w3.eth.block_number,
        deployer=me,
        owner=owner,
        keeper=keeper,
        guardian=guardian,
        governor=governor.address,
        market=market.address,
        multicall=multicall.address,
        stable=stable.address,
        stable_decimals=spec.stable.decimals,
        assets=tuple(assets),
    )
