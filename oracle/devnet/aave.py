"""Deploy a real Aave v3 market on a local chain from the official compiled artifacts (npm ``@aave/core-v3``), with
our governor as its risk admin.

Why: the oracle's most likely users run Aave v3; the same governor and keeper must work on it, so the tests and the
demo need real Aave, not a copy. Nothing of Aave is rewritten here: each contract's creation bytecode is loaded from
the pinned package's Hardhat artifacts and its libraries are linked in Python (``linkReferences``). The order is the
one measured in ``../shared/TOOLCHAIN.md``: provider, ACL manager, pool and configurator (libraries linked), the
Aave oracle over our round-keeping ``PriceFeed``s, data provider, token implementations, rate strategy,
``initReserves``, ``configureReserveAsCollateral`` with the policy's initial parameters.
Then the governor: ``AaveV3RiskTarget`` (holding ``RISK_ADMIN``) behind a ``RiskParameterGovernor`` with the
policy's bounds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from web3 import Web3
from web3.contract import Contract

from oracle.chain.aave_errors import AAVE_CORE_VERSION, AAVE_FEED_SOURCE, AAVE_TARGET
from oracle.chain.tx import TxSender, contract_at
from oracle.devnet.anvil import node_modules
from oracle.devnet.deploy import FEED_DECIMALS, push_history, to_feed_answer
from oracle.domain.market import MarketSpec
from oracle.errors import ExecutionError, ToolMissingError

RAY = 10**27
BPS = 10_000
VARIABLE_RATE = 2  # Aave's interestRateMode for variable-rate debt
BASE_CURRENCY_UNIT = 10**FEED_DECIMALS  # USD with 8 decimals, as the feeds
MARKET_ID = "risk-oracle devnet"

# The pool's logic libraries (one may link another: FlashLoanLogic uses BorrowLogic; deploy_linked recurses).
POOL_LIBRARIES = (
    "BorrowLogic",
    "BridgeLogic",
    "EModeLogic",
    "FlashLoanLogic",
    "LiquidationLogic",
    "PoolLogic",
    "SupplyLogic",
)

# Interest rate model of every reserve (rays): Aave's volatile-asset curve; stable-rate borrowing stays disabled.
RATE_STRATEGY = {
    "optimalUsageRatio": 90 * RAY // 100,
    "baseVariableBorrowRate": 0,
    "variableRateSlope1": 4 * RAY // 100,
    "variableRateSlope2": 60 * RAY // 100,
    "stableRateSlope1": 5 * RAY // 1000,
    "stableRateSlope2": 60 * RAY // 100,
    "baseStableRateOffset": 1 * RAY // 100,
    "stableRateExcessOffset": 8 * RAY // 100,
    "optimalStableToTotalDebtRatio": 20 * RAY // 100,
}


# ---------------------------------------------------------------------------------------------------- artifacts


def aave_package_dir() -> Path:
    """The installed ``@aave/core-v3`` package (``npm ci``); a missing one is an error."""
    path = node_modules() / "@aave" / "core-v3"
    if not (path / "artifacts").is_dir():
        raise ToolMissingError(f"@aave/core-v3 not found at {path}; run `npm ci` (or `make setup`)")
    return path


@cache
def _artifact_index() -> dict[str, Path]:
    """contract name -> its Hardhat artifact (``artifacts/contracts/**/<Name>.sol/<Name>.json``)."""
    index: dict[str, Path] = {}
    for path in sorted((aave_package_dir() / "artifacts" / "contracts").rglob("*.json")):
        if not path.name.endswith(".dbg.json") and path.parent.name == f"{path.stem}.sol":
            index.setdefault(path.stem, path)
    return index


@cache
def aave_artifact(name: str) -> dict[str, Any]:
    """The Hardhat artifact (abi, bytecode, linkReferences) of Aave contract ``name``."""
    path = _artifact_index().get(name)
    if path is None:
        raise FileNotFoundError(f"no artifact {name} in @aave/core-v3 ({aave_package_dir()})")
    return json.loads(path.read_text())


def aave_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of Aave contract ``name``."""
    return list(aave_artifact(name)["abi"])


def aave_contract(w3: Web3, name: str, address: str) -> Contract:
    """Aave contract ``name`` (``Pool``, ``PoolConfigurator``, ``AaveProtocolDataProvider``, ...) at ``address``."""
    return w3.eth.contract(address=Web3.to_checksum_address(address), abi=aave_abi(name))


def link_bytecode(artifact: Mapping[str, Any], libraries: Mapping[str, str]) -> str:
    """The artifact's creation bytecode with every library placeholder replaced by its address.

    ``linkReferences`` gives, per library, the byte offsets of 20-byte placeholders in the bytecode.
    """
    code = list(artifact["bytecode"].removeprefix("0x"))  # hex digits; placeholders are `__$<hash>$__`
    for refs in artifact["linkReferences"].values():
        for lib, positions in refs.items():
            if lib not in libraries:
                raise KeyError(f"{artifact['contractName']} needs library {lib}, which is not deployed")
            address = Web3.to_checksum_address(libraries[lib])[2:].lower()
            for pos in positions:
                if pos["length"] != 20:
                    raise ValueError(f"unexpected link reference length {pos['length']} for {lib}")
                code[2 * pos["start"] : 2 * pos["start"] + 40] = address
    linked = "".join(code)
    bytes.fromhex(linked)  # every placeholder replaced
    return "0x" + linked


def deploy_raw(sender: TxSender, abi: list[dict[str, Any]], bytecode: str, *args: Any, label: str = "") -> Contract:
    """Deploy creation ``bytecode`` with constructor ``args`` from ``sender``; returns the contract at its address."""
    w3 = sender.w3
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    # TxSender tracks its own nonce and deploys only the project's artifacts: this transaction is built here, so the
    # nonce comes from the node, and the sender takes it up again afterwards
    me = sender.account.address
    nonce = w3.eth.get_transaction_count(me, "pending")
    tx = factory.constructor(*args).build_transaction({"from": me, "nonce": nonce, "chainId": sender.chain_id})
    signed = sender.account.sign_transaction(dict(tx))
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    sender.resync_nonce()
    receipt = sender.wait([tx_hash])[0]
    if receipt["contractAddress"] is None:
        raise ExecutionError(f"deploy {label}: the receipt names no contract address")
    return w3.eth.contract(address=receipt["contractAddress"], abi=abi)


@dataclass
class AaveDeployer:
    """Deploys Aave artifacts from one account, linking (and deploying once) the libraries each one needs."""

    sender: TxSender
    libraries: dict[str, str] = field(default_factory=dict)

    def deploy(self, name: str, *args: Any) -> Contract:
        artifact = aave_artifact(name)
        for refs in artifact["linkReferences"].values():
            for lib in refs:
                if lib not in self.libraries:
                    self.libraries[lib] = self.deploy(lib).address
        return deploy_raw(self.sender, artifact["abi"], link_bytecode(artifact, self.libraries), *args, label=name)


# --------------------------------------------------------------------------------------------------- deployment


class AaveAsset(BaseModel):
    """A reserve of the Aave market: its token, our round-keeping feed, and the Aave oracle's source over it."""

    model_config = ConfigDict(frozen=True)

    symbol: str
    token: str
    feed: str  # our PriceFeed (round history)
    source: str  # the PriceFeedSource the AaveOracle reads (latestAnswer of `feed`)
    decimals: int
    a_token: str
    variable_debt_token: str


class AaveDeployment(BaseModel):
    """Addresses and roles of a deployed Aave v3 market and its governor, as saved to JSON."""

    model_config = ConfigDict(frozen=True)

    aave_core_version: str
    chain_id: int
    block: int
    deployer: str
    owner: str
    keeper: str
    guardian: str
    treasury: str
    addresses_provider: str
    acl_manager: str
    pool: str
    pool_configurator: str
    aave_oracle: str
    data_provider: str
    target: str
    governor: str
    multicall: str
    stable: AaveAsset
    assets: tuple[AaveAsset, ...]

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.model_dump_json(indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> AaveDeployment:
        return cls.model_validate_json(path.read_text())

    def asset(self, symbol: str) -> AaveAsset:
        """The reserve called ``symbol`` (collateral or the stablecoin)."""
        if symbol == self.stable.symbol:
            return self.stable
        return next(a for a in self.assets if a.symbol == symbol)

    def pool_contract(self, w3: Web3) -> Contract:
        return aave_contract(w3, "Pool", self.pool)

    def configurator_contract(self, w3: Web3) -> Contract:
        return aave_contract(w3, "PoolConfigurator", self.pool_configurator)

    def acl_contract(self, w3: Web3) -> Contract:
        return aave_contract(w3, "ACLManager", self.acl_manager)

    def oracle_contract(self, w3: Web3) -> Contract:
        return aave_contract(w3, "AaveOracle", self.aave_oracle)

    def data_provider_contract(self, w3: Web3) -> Contract:
        return aave_contract(w3, "AaveProtocolDataProvider", self.data_provider)

    def target_contract(self, w3: Web3) -> Contract:
        return contract_at(w3, AAVE_TARGET, self.target)

    def governor_contract(self, w3: Web3) -> Contract:
        return contract_at(w3, "RiskParameterGovernor", self.governor)


def deploy_aave_market(
    w3: Web3,
    sender: TxSender,
    spec: MarketSpec,
    *,
    keeper: str,
    guardian: str,
    owner: str | None = None,
    treasury: str | None = None,
    price_history: Mapping[str, Sequence[tuple[datetime, float]]],
) -> AaveDeployment:
    """Deploy Aave v3 with ``spec``'s assets as collateral against its stablecoin, and the governor as risk admin.

    ``sender`` deploys, is the ACL admin and the pool admin (the DAO's role on a local chain), the feeds' updater and
    the lender of ``spec.liquidity``. The governor's ownership moves to ``owner`` (default: the sender) once its
    bounds are set. Collateral reserves get the policy's initial parameters (LB as Aave's 10000 + LB); only the
    stablecoin is borrowable (variable rate).
    """
    me = sender.address
    owner = owner or me
    treasury = treasury or me
    now = w3.eth.get_block("latest")["timestamp"]
    aave = AaveDeployer(sender)

    # provider, ACL manager (ACL admin must be set on the provider first), pool admin
    provider = aave.deploy("PoolAddressesProvider", MARKET_ID, me)
    sender.transact(provider.functions.setACLAdmin(me))
    acl = aave.deploy("ACLManager", provider.address)
    sender.transact(provider.functions.setACLManager(acl.address))
    sender.transact(acl.functions.addPoolAdmin(me))

    # pool and configurator: implementations with linked libraries; the provider creates and initialises proxies
    pool_impl = aave.deploy("Pool", provider.address)
    sender.transact(provider.functions.setPoolImpl(pool_impl.address))
    configurator_impl = aave.deploy("PoolConfigurator")
    sender.transact(provider.functions.setPoolConfiguratorImpl(configurator_impl.address))
    pool = aave_contract(w3, "Pool", provider.functions.getPool().call())
    configurator = aave_contract(w3, "PoolConfigurator", provider.functions.getPoolConfigurator().call())

    # tokens and feeds: ours (TestToken, PriceFeed with the asset's history), read by Aave through PriceFeedSource
    tokens: list[tuple[str, str, int, Contract, Contract, Contract]] = []  # symbol, name, decimals, token, feed, source
    stable_token = sender.deploy("TestToken", spec.stable.name, spec.stable.symbol, spec.stable.decimals, me)
    stable_feed = sender.deploy("PriceFeed", FEED_DECIMALS, f"{spec.stable.symbol} / USD", me)
    sender.transact(stable_feed.functions.pushRounds([to_feed_answer(1.0)], [now]))
    stable_source = sender.deploy(AAVE_FEED_SOURCE, stable_feed.address)
    tokens.append(
        (spec.stable.symbol, spec.stable.name, spec.stable.decimals, stable_token, stable_feed, stable_source)
    )
    for a in spec.assets:
        token = sender.deploy("TestToken", a.name, a.symbol, a.decimals, me)
        feed = sender.deploy("PriceFeed", FEED_DECIMALS, f"{a.symbol} / USD", me)
        push_history(sender, feed, price_history[a.price_source], now)
        source = sender.deploy(AAVE_FEED_SOURCE, feed.address)
        tokens.append((a.symbol, a.name, a.decimals, token, feed, source))

    oracle = aave.deploy(
        "AaveOracle",
        provider.address,
        [t[3].address for t in tokens],
        [t[5].address for t in tokens],
        "0x0000000000000000000000000000000000000000",  # no fallback oracle
        "0x0000000000000000000000000000000000000000",  # base currency USD
        BASE_CURRENCY_UNIT,
    )
    sender.transact(provider.functions.setPriceOracle(oracle.address))
    data_provider = aave.deploy("AaveProtocolDataProvider", provider.address)
    sender.transact(provider.functions.setPoolDataProvider(data_provider.address))

    # reserves: token implementations, one rate strategy, initReserves, then collateral parameters
    a_token_impl = aave.deploy("AToken", pool.address)
    variable_impl = aave.deploy("VariableDebtToken", pool.address)
    stable_debt_impl = aave.deploy("StableDebtToken", pool.address)
    strategy = aave.deploy("DefaultReserveInterestRateStrategy", provider.address, *RATE_STRATEGY.values())
    sender.transact(
        configurator.functions.initReserves(
            [
                (
                    a_token_impl.address,
                    stable_debt_impl.address,
                    variable_impl.address,
                    decimals,
                    strategy.address,
                    token.address,
                    treasury,
                    "0x0000000000000000000000000000000000000000",  # no incentives controller
                    f"Aave devnet {symbol}",
                    f"a{symbol}",
                    f"Aave devnet variable debt {symbol}",
                    f"variableDebt{symbol}",
                    f"Aave devnet stable debt {symbol}",
                    f"stableDebt{symbol}",
                    b"",
                )
                for symbol, _name, decimals, token, _feed, _source in tokens
            ]
        )
    )
    sender.transact_all(
        [
            *(
                configurator.functions.configureReserveAsCollateral(
                    token.address, a.params.ltv, a.params.liquidation_threshold, BPS + a.params.liquidation_bonus
                )
                for a, (_s, _n, _d, token, _f, _src) in zip(spec.assets, tokens[1:], strict=True)
            ),
            configurator.functions.setReserveBorrowing(stable_token.address, True),
        ]
    )

    # the governor: target (bound to it once, granted RISK_ADMIN), bounds from the policy
    target = sender.deploy(AAVE_TARGET, provider.address)
    governor = sender.deploy("RiskParameterGovernor", target.address, me, keeper, guardian)
    multicall = sender.deploy("Multicall3")
    sender.transact_all([target.functions.setGovernor(governor.address), acl.functions.addRiskAdmin(target.address)])
    sender.transact_all(
        governor.functions.setBounds(token.address, a.bounds.as_tuple())
        for a, (_s, _n, _d, token, _f, _src) in zip(spec.assets, tokens[1:], strict=True)
    )

    # lenders' liquidity
    liquidity = spec.liquidity * 10**spec.stable.decimals
    for fn in (
        stable_token.functions.mint(me, liquidity),
        stable_token.functions.approve(pool.address, liquidity),
        pool.functions.supply(stable_token.address, liquidity, me, 0),
    ):
        sender.transact(fn)
    if owner != me:
        sender.transact(governor.functions.transferOwnership(owner))

    records = []
    for symbol, _name, decimals, token, feed, source in tokens:
        a_token, _stable_debt, variable_debt = data_provider.functions.getReserveTokensAddresses(token.address).call()
        records.append(
            AaveAsset(
                symbol=symbol,
                token=token.address,
                feed=feed.address,
                source=source.address,
                decimals=decimals,
                a_token=a_token,
                variable_debt_token=variable_debt,
            )
        )
    return AaveDeployment(
        aave_core_version=AAVE_CORE_VERSION,
        chain_id=w3.eth.chain_id,
        block=w3.eth.block_number,
        deployer=me,
        owner=owner,
        keeper=keeper,
        guardian=guardian,
        treasury=treasury,
        addresses_provider=provider.address,
        acl_manager=acl.address,
        pool=pool.address,
        pool_configurator=configurator.address,
        aave_oracle=oracle.address,
        data_provider=data_provider.address,
        target=target.address,
        governor=governor.address,
        multicall=multicall.address,
        stable=records[0],
        assets=tuple(records[1:]),
    )


# ------------------------------------------------------------------------------------------------------ positions


def open_position(
    w3: Web3,
    deployment: AaveDeployment,
    funder: TxSender,
    borrower: TxSender,
    *,
    collateral: str,
    collateral_amount: int,
    debt_amount: int,
) -> None:
    """A real Aave position: ``funder`` (the tokens' minter) mints ``collateral_amount`` (smallest units) to
    ``borrower``, who supplies it and borrows ``debt_amount`` of the stablecoin at variable rate."""
    pool = deployment.pool_contract(w3)
    asset = deployment.asset(collateral)
    token = contract_at(w3, "TestToken", asset.token)
    funder.transact(token.functions.mint(borrower.address, collateral_amount))
    for fn in (
        token.functions.approve(pool.address, collateral_amount),
        pool.functions.supply(asset.token, collateral_amount, borrower.address, 0),
    ):
        borrower.transact(fn)
    if debt_amount:
        borrower.transact(
            pool.functions.borrow(deployment.stable.token, debt_amount, VARIABLE_RATE, 0, borrower.address)
        )
