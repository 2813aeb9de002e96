"""One adapter per protocol family: how to read a market's assets and positions in batched calls."""

from oracle.chain.adapters.aave_users import AaveUserIndex
from oracle.chain.adapters.aave_v3 import AaveV3MarketAdapter
from oracle.chain.adapters.base import MarketAdapter, RawAsset, RawMarket, RawPosition
from oracle.chain.adapters.native import NativeMarketAdapter

__all__ = [
    "AaveUserIndex",
    "AaveV3MarketAdapter",
    "MarketAdapter",
    "NativeMarketAdapter",
    "RawAsset",
    "RawMarket",
    "RawPosition",
]
