"""Adapter for an Aave v3 ``Pool``: its reserves, prices and users in the protocol-neutral terms of ``base``.

How Aave's quantities map (``@aave/core-v3`` 1.19.3):

- The **debt asset** (``RawMarket.stable``) is the stablecoin the adapter is given; its reserve's aToken supply is
  ``total_supplied``, its variable plus stable debt-token supplies are ``total_debt``, the stablecoin the aToken
  holds is ``available_liquidity`` (all in the stablecoin's units). Aave has no bad-debt counter: ``bad_debt`` is 0.
  The close factor is Aave's default 50 % (``close_factor_bps``); Aave allows 100 % below HF 0.95, which is a rule of
  the liquidation logic, not a number the pool stores (``AAVE_CLOSE_FACTOR_FULL_HF_WAD``).
- The **collateral assets** (``RawMarket.assets``) are the reserves other than the debt asset whose liquidation
  threshold is not 0, in the pool's reserve order. LTV, LT and decimals come from the reserve configuration bitmap,
  LB is Aave's stored bonus minus 10000. ``total_collateral`` is the aToken's ``totalSupply`` (supplied plus accrued
  interest, in token units). The bitmap's decimals are ``recorded_token_decimals``; the token's own
  ``decimals()`` is ``token_decimals``.
- **Prices**: Aave values everything through its ``AaveOracle`` in the base currency (USD with 8 decimals on our
  markets: ``BASE_CURRENCY_UNIT``). ``recorded_feed_decimals`` is the base currency's decimals; ``feed`` is the
  Chainlink-style feed behind the oracle's source (our ``PriceFeedSource`` exposes it as ``feed()``; a source
  without ``feed()`` is taken as the feed itself, as a Chainlink aggregator is). The adapter checks that the feed's
  latest answer is the price the Aave oracle reports, so the snapshot's prices are the ones Aave computes with.
- **Reserves that are not collateral** (LT 0) are left out of ``assets`` and listed by symbol in
  ``AaveRawMarket.non_collateral``: they do not count in any health factor, so the oracle has nothing to set.
  **Frozen, paused or inactive** reserves stay in ``assets`` (their collateral still backs debt and can be
  liquidated) and carry flags on ``AaveRawAsset``; ``require_updatable`` turns a flag into a clear error before an
  update is sent.
- **Positions**: one per user found by the ``AaveUserIndex`` (events, cached), in sorted address order, users without
  a balance included (``borrowers`` counts them all). ``collateral`` is each asset's aToken ``balanceOf`` (scaled
  balance times the liquidity index, as Aave values it), ``debt`` the variable plus stable debt-token balance of the
  debt asset, in the stablecoin's units. Whether a user counts a reserve as collateral is a bit of the user's
  configuration (``getUserConfiguration``): it is kept per asset on ``AavePosition``.

Every call goes through Multicall3 at the pinned block. Not supported, with a clear error rather than a wrong health
factor: eMode categories (a reserve with an eMode category) and debt in a reserve other than the debt asset.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_abi import decode as abi_decode
from pydantic import BaseModel, ConfigDict
from web3 import Web3

from oracle.chain.aave_reserve import ReserveConfiguration
from oracle.chain.abi_fast import checksum_address, decode_words
from oracle.chain.adapters.aave_users import AaveUserIndex
from oracle.chain.adapters.base import RawAsset, RawMarket, RawPosition
from oracle.chain.multicall import Multicall, make_call
from oracle.errors import SnapshotError

WAD = 10**18
HALF_WAD = WAD // 2
PERCENTAGE_FACTOR = 10**4
HALF_PERCENTAGE = PERCENTAGE_FACTOR // 2
MAX_UINT = 2**256 - 1
AAVE_CLOSE_FACTOR_BPS = 5_000  # DEFAULT_LIQUIDATION_CLOSE_FACTOR
AAVE_CLOSE_FACTOR_FULL_HF_WAD = 95 * 10**16  # below HF 0.95 the whole debt may be repaid at once

# gas hints (upper bounds seen on anvil, cold storage): they size Multicall3 chunks, nothing is charged
_GAS_USER_CONFIG = 8_000
_GAS_BALANCE = 20_000  # token proxy -> implementation -> pool.getReserveNormalized*()
_GAS_ACCOUNT_DATA = 120_000


class AaveAdapterError(SnapshotError):
    """The pool is in a state this adapter cannot represent exactly (eMode, debt in another reserve, a price that is
    not its feed's)."""


class ReserveNotUpdatableError(AaveAdapterError):
    """An update was asked for a reserve Aave would not let the oracle act on (frozen, paused, inactive, absent)."""


class AaveRawAsset(RawAsset):
    """A collateral reserve, with what Aave records besides LTV/LT/LB."""

    reserve_id: int  # its index in the users' configuration bitmaps
    a_token: str
    oracle_price: int  # AaveOracle's price, base currency units
    active: bool
    frozen: bool
    paused: bool


class AaveRawMarket(RawMarket):
    """The pool at one block: the neutral totals and assets plus what reading positions and HFs needs."""

    assets: tuple[AaveRawAsset, ...]
    pool: str
    oracle: str
    base_currency_unit: int
    debt_reserve_id: int
    debt_price: int  # AaveOracle's price of the debt asset, base currency units
    debt_tokens: tuple[str, ...]  # the debt asset's variable (and, when any exists, stable) debt token
    non_collateral: tuple[str, ...]  # symbols of reserves with LT 0 besides the debt asset
    users: tuple[str, ...]


class AavePosition(RawPosition):
    """A user's position with the flags Aave's health factor depends on."""

    collateral_enabled: tuple[bool, ...]  # per asset: the user's "using as collateral" bit


class AccountData(BaseModel):
    """``Pool.getUserAccountData``: base currency units (8 decimals on our markets), HF in wad."""

    model_config = ConfigDict(frozen=True)

    total_collateral_base: int
    total_debt_base: int
    available_borrows_base: int
    current_liquidation_threshold: int
    ltv: int
    health_factor: int


# ---------------------------------------------------------------------------------------------- Aave's arithmetic


def percent_mul(value: int, percentage: int) -> int:
    """``PercentageMath.percentMul``: value × percentage / 10^4, rounded half up."""
    return (value * percentage + HALF_PERCENTAGE) // PERCENTAGE_FACTOR


def wad_div(a: int, b: int) -> int:
    """``WadRayMath.wadDiv``: a / b in wad, rounded half up (b > 0)."""
    return (a * WAD + b // 2) // b


def health_factor(collateral_base: Sequence[int], thresholds: Sequence[int], debt_base: int) -> int:
    """Aave's ``GenericLogic.calculateUserAccountData`` health factor from per-reserve collateral values (base
    currency, already floored as Aave floors them) and their LTs (bps).

    The LT applied is the collateral-weighted average LT, truncated to an integer bps before ``percentMul``: that
    truncation is part of Aave's result, so the sum of ``value × LT`` is never used directly.
    """
    if debt_base == 0:
        return MAX_UINT
    total = sum(collateral_base)
    weighted = sum(v * lt for v, lt in zip(collateral_base, thresholds, strict=True))
    average_lt = weighted // total if total else 0
    return wad_div(percent_mul(total, average_lt), debt_base)


# --------------------------------------------------------------------------------------------------- the adapter


def _uint(data: bytes) -> int:
    return int.from_bytes(data[:32], "big")


def _address(data: bytes) -> str:
    return checksum_address(data[12:32])


class AaveV3MarketAdapter:
    """Reads an Aave v3 pool lending ``debt_asset``, its users from ``users`` (an event index, cached)."""

    books_rounding_per_position = 1  # each balance is rayMul(scaled, index), rounded half up on its own

    def __init__(self, pool: str, debt_asset: str, users: AaveUserIndex) -> None:
        self.address: str = Web3.to_checksum_address(pool)
        self.debt_asset = Web3.to_checksum_address(debt_asset)
        self.users = users
        if users.pool != self.address:
            raise ValueError(f"the user index is for pool {users.pool}, the adapter reads {self.address}")

    def read_market(self, mc: Multicall, block: int) -> AaveRawMarket:
        pool = self.address
        head = mc.run(
            [make_call(pool, "getReservesList()"), make_call(pool, "ADDRESSES_PROVIDER()")],
            block,
        )
        reserves = [Web3.to_checksum_address(a) for a in abi_decode(["address[]"], head[0].data)[0]]
        provider = _address(head[1].data)
        if self.debt_asset not in reserves:
            raise AaveAdapterError(f"{self.debt_asset} is not a reserve of pool {pool} at block {block}")

        calls = [make_call(provider, "getPriceOracle()")]
        for r in reserves:
            calls += [
                make_call(
                    pool, "getReserveData(address)", ["address"], [r], label=f"pool.getReserveData({r})", gas=60_000
                ),
                make_call(r, "symbol()", label=f"{r}.symbol()"),
                make_call(r, "decimals()", label=f"{r}.decimals()"),
            ]
        res = mc.run(calls, block)
        oracle = _address(res[0].data)
        data = [decode_words(res[1 + 3 * i].data) for i in range(len(reserves))]
        symbols = [abi_decode(["string"], res[2 + 3 * i].data)[0] for i in range(len(reserves))]
        decimals = [_uint(res[3 + 3 * i].data) for i in range(len(reserves))]
        configs = [ReserveConfiguration.decode(d[0]) for d in data]
        ids = [d[7] for d in data]
        a_tokens = [Web3.to_checksum_address(f"0x{d[8]:040x}") for d in data]
        stable_debt = [Web3.to_checksum_address(f"0x{d[9]:040x}") for d in data]
        variable_debt = [Web3.to_checksum_address(f"0x{d[10]:040x}") for d in data]
        for sym, cfg in zip(symbols, configs, strict=True):
            if cfg.emode_category:
                raise AaveAdapterError(
                    f"{sym}: reserve is in eMode category {cfg.emode_category}; eMode health factors are not "
                    "supported by this adapter"
                )

        d = reserves.index(self.debt_asset)
        collateral = [i for i, cfg in enumerate(configs) if i != d and cfg.is_collateral]
        non_collateral = tuple(symbols[i] for i, cfg in enumerate(configs) if i != d and not cfg.is_collateral)

        priced = [reserves[i] for i in collateral] + [self.debt_asset]
        calls = [
            # only the reserves a health factor can use: a listed reserve without a price source breaks nothing
            make_call(oracle, "getAssetsPrices(address[])", ["address[]"], [priced], gas=40_000 * len(priced)),
            make_call(oracle, "BASE_CURRENCY_UNIT()"),
            make_call(a_tokens[d], "totalSupply()", label="debt asset aToken.totalSupply()", gas=40_000),
            make_call(variable_debt[d], "totalSupply()", label="debt asset variableDebt.totalSupply()", gas=40_000),
            make_call(stable_debt[d], "totalSupply()", label="debt asset stableDebt.totalSupply()", gas=60_000),
            make_call(self.debt_asset, "balanceOf(address)", ["address"], [a_tokens[d]], label="debt asset cash"),
        ]
        for i in collateral:
            calls += [
                make_call(
                    oracle, "getSourceOfAsset(address)", ["address"], [reserves[i]], label=f"{symbols[i]} source"
                ),
                make_call(a_tokens[i], "totalSupply()", label=f"{symbols[i]} aToken.totalSupply()", gas=40_000),
            ]
        res = mc.run(calls, block)
        *collateral_prices, debt_price = abi_decode(["uint256[]"], res[0].data)[0]
        base_unit = _uint(res[1].data)
        supplied, variable_total, stable_total, cash = (_uint(r.data) for r in res[2:6])
        sources = [_address(res[6 + 2 * k].data) for k in range(len(collateral))]
        totals = [_uint(res[7 + 2 * k].data) for k in range(len(collateral))]

        # the feed behind each source, then the feed's latest answer (it must be the oracle's price)
        feeds_res = mc.run([make_call(s, "feed()", allow_failure=True, label=f"{s}.feed()") for s in sources], block)
        feeds = [
            _address(r.data) if r.success and len(r.data) == 32 else s for r, s in zip(feeds_res, sources, strict=True)
        ]
        answers = mc.run(
            [
                make_call(f, "latestRoundData()", label=f"{symbols[i]} feed.latestRoundData()")
                for f, i in zip(feeds, collateral, strict=True)
            ],
            block,
        )
        assets = []
        for k, i in enumerate(collateral):
            answer = decode_words(answers[k].data)[1]
            price = collateral_prices[k]
            if answer != price:
                raise AaveAdapterError(
                    f"{symbols[i]}: the Aave oracle prices it at {price} but its source's feed {feeds[k]} answers "
                    f"{answer} at block {block}: the feed is not the Aave oracle's source"
                )
            cfg = configs[i]
            assets.append(
                AaveRawAsset(
                    address=reserves[i],
                    symbol=symbols[i],
                    token_decimals=decimals[i],
                    recorded_token_decimals=cfg.decimals,
                    feed=feeds[k],
                    recorded_feed_decimals=len(str(base_unit)) - 1,
                    params=cfg.risk_params(),
                    total_collateral=totals[k],
                    reserve_id=ids[i],
                    a_token=a_tokens[i],
                    oracle_price=price,
                    active=cfg.active,
                    frozen=cfg.frozen,
                    paused=cfg.paused,
                )
            )
        if base_unit != 10 ** (len(str(base_unit)) - 1):
            raise AaveAdapterError(f"the Aave oracle's base currency unit {base_unit} is not a power of ten")

        users = self.users.sync(mc.w3, block)
        return AaveRawMarket(
            stable=self.debt_asset,
            stable_decimals=configs[d].decimals,
            close_factor_bps=AAVE_CLOSE_FACTOR_BPS,
            total_supplied=supplied,
            total_debt=variable_total + stable_total,
            bad_debt=0,
            available_liquidity=cash,
            borrowers=len(users),
            assets=tuple(assets),
            pool=self.address,
            oracle=oracle,
            base_currency_unit=base_unit,
            debt_reserve_id=ids[d],
            debt_price=debt_price,
            debt_tokens=(variable_debt[d], stable_debt[d]) if stable_total else (variable_debt[d],),
            non_collateral=non_collateral,
            users=users,
        )

    def read_positions(self, mc: Multicall, block: int, market: RawMarket) -> tuple[AavePosition, ...]:
        """Per user: configuration bitmap, each asset's aToken balance, the debt asset's debt-token balances."""
        m = _aave(market)
        tokens = [a.a_token for a in m.assets] + list(m.debt_tokens)
        per_user = 1 + len(tokens)
        calls = []
        for u in m.users:
            calls.append(
                make_call(self.address, "getUserConfiguration(address)", ["address"], [u], gas=_GAS_USER_CONFIG)
            )
            calls += [make_call(t, "balanceOf(address)", ["address"], [u], gas=_GAS_BALANCE) for t in tokens]
        results = mc.run(calls, block)
        ids = [a.reserve_id for a in m.assets]
        n = len(m.assets)
        allowed_borrow = 1 << (2 * m.debt_reserve_id)
        borrow_bits = sum(1 << (2 * i) for i in range(128))
        positions = []
        for j, u in enumerate(m.users):
            r = results[j * per_user : (j + 1) * per_user]
            config = _uint(r[0].data)
            if config & borrow_bits & ~allowed_borrow:
                raise AaveAdapterError(
                    f"{u} borrows a reserve other than the debt asset {m.stable} at block {block}: the neutral "
                    "position has one debt asset"
                )
            balances = [_uint(x.data) for x in r[1:]]
            positions.append(
                AavePosition(
                    account=u,
                    collateral=tuple(balances[:n]),
                    debt=sum(balances[n:]),
                    collateral_enabled=tuple(bool(config >> (2 * i + 1) & 1) for i in ids),
                )
            )
        return tuple(positions)

    def health_factor_wad(self, market: RawMarket, prices: tuple[int, ...], position: RawPosition) -> int:
        """Aave's HF: collateral counted where the user enabled it and the reserve's LT is not 0, each reserve's
        value floored to base currency units (balance × price / 10^decimals), debt likewise at the oracle's price
        of the debt asset; then ``health_factor``'s weighted LT, ``percentMul`` and ``wadDiv``.

        ``prices`` are the snapshot's feed answers, which ``read_market`` checked equal the Aave oracle's."""
        m = _aave(market)
        if not isinstance(position, AavePosition):
            raise TypeError("an Aave health factor needs an AavePosition (its collateral flags)")
        values, thresholds = [], []
        for asset, price, amount, enabled in zip(
            m.assets, prices, position.collateral, position.collateral_enabled, strict=True
        ):
            lt = asset.params.liquidation_threshold
            if enabled and lt:
                values.append(amount * price // 10**asset.recorded_token_decimals)
                thresholds.append(lt)
        debt_base = position.debt * m.debt_price // 10**m.stable_decimals
        return health_factor(values, thresholds, debt_base)

    def read_account_data(self, mc: Multicall, block: int, users: Sequence[str]) -> tuple[AccountData, ...]:
        """``getUserAccountData`` of ``users`` in one batch (the cross-check of this adapter's arithmetic)."""
        results = mc.run(
            [
                make_call(self.address, "getUserAccountData(address)", ["address"], [u], gas=_GAS_ACCOUNT_DATA)
                for u in users
            ],
            block,
        )
        return tuple(
            AccountData(**dict(zip(AccountData.model_fields, decode_words(r.data), strict=True))) for r in results
        )


def _aave(market: RawMarket) -> AaveRawMarket:
    if not isinstance(market, AaveRawMarket):
        raise TypeError("the Aave adapter reads positions of the market its own read_market returned")
    return market


def require_updatable(market: AaveRawMarket, symbol: str) -> AaveRawAsset:
    """The collateral reserve ``symbol`` if the oracle may update it; a clear error naming why not otherwise."""
    if symbol in market.non_collateral:
        raise ReserveNotUpdatableError(f"{symbol}: reserve is not collateral on pool {market.pool} (LT 0)")
    asset = next((a for a in market.assets if a.symbol == symbol), None)
    if not isinstance(asset, AaveRawAsset):
        raise ReserveNotUpdatableError(f"{symbol}: no collateral reserve of that name on pool {market.pool}")
    for flag, bad in (("inactive", not asset.active), ("frozen", asset.frozen), ("paused", asset.paused)):
        if bad:
            raise ReserveNotUpdatableError(f"{symbol}: reserve is {flag} on pool {market.pool}; no update is sent")
    return asset
