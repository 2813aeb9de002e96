"""Who has a position on an Aave v3 pool: users found from the pool's events, indexed incrementally and cached.

Why: Aave's Pool has no list of its users (our reference market has ``borrowerAt``); the only complete record is its
event log. A user appears in one of four events before holding anything the health factor counts:

- ``Supply(reserve, user, onBehalfOf, ...)``: ``onBehalfOf`` receives the aTokens;
- ``Borrow(reserve, user, onBehalfOf, ...)``: ``onBehalfOf`` owes the debt (it may differ from the caller under
  credit delegation);
- ``ReserveUsedAsCollateralEnabled(reserve, user)``: also emitted when aTokens reach a new holder by transfer or as a
  liquidator's reward, so holders that never supplied are found too;
- ``LiquidationCall(collateral, debt, user, ...)``: the liquidated user (already found by the events above; kept so
  that an index started after the user's first supply still sees every liquidated account).

All four carry the user in an indexed topic, so no log data is decoded. Scanning the whole log every cycle would grow
without end; the index keeps the last block it read and the users found in a small JSON file, and a cycle asks the
node only for logs after that block, in ranges of at most ``max_block_range`` blocks (nodes cap ``eth_getLogs``).
The file names its chain id and pool: a cache for another chain or pool is refused, never merged. It also keeps the
hash of its last block, so a chain that was reorganised or reset under it (anvil's ``evm_revert``) is re-indexed
from the start block instead of being trusted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import partial
from pathlib import Path

from eth_utils import keccak
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator
from web3 import Web3
from web3.types import FilterParams, LogReceipt

from oracle.chain.abi_fast import checksum_address
from oracle.chain.rpc import rpc_call
from oracle.errors import ConfigError

CACHE_VERSION = 1
DEFAULT_MAX_BLOCK_RANGE = 10_000

# event signature -> index of the topic holding the position's owner (topic 0 is the signature)
USER_EVENTS: dict[str, int] = {
    "Supply(address,address,address,uint256,uint16)": 2,  # onBehalfOf
    "Borrow(address,address,address,uint256,uint8,uint256,uint16)": 2,  # onBehalfOf
    "ReserveUsedAsCollateralEnabled(address,address)": 2,  # user
    "LiquidationCall(address,address,address,uint256,uint256,address,bool)": 3,  # user
}
_TOPICS: dict[bytes, int] = {keccak(text=sig): at for sig, at in USER_EVENTS.items()}


class UserIndexError(ConfigError):
    """The user cache cannot be used for this chain and pool (or is not a cache at all)."""


class UserIndexCache(BaseModel):
    """What the JSON cache holds: where it applies, how far it has read, whom it found."""

    model_config = ConfigDict(frozen=True)

    version: int = CACHE_VERSION
    chain_id: int
    pool: str
    start_block: int
    last_block: int
    last_block_hash: str
    users: tuple[str, ...]

    @field_validator("users")
    @classmethod
    def _sorted_unique(cls, users: tuple[str, ...]) -> tuple[str, ...]:
        if list(users) != sorted(set(users)):
            raise ValueError("users must be sorted and unique")
        return users


class SyncStats(BaseModel):
    """What the last ``sync`` did (for logs, tests and the benchmark)."""

    from_block: int  # first block whose logs were requested (> to_block when nothing new was read)
    to_block: int
    requests: int  # eth_getLogs calls
    logs: int
    new_users: int
    cached: bool  # whether the result was written to (or could extend) the cache
    rebuilt: bool  # the cached last block is no longer on the chain: re-indexed from the start block


def users_from_logs(logs: Iterable[LogReceipt]) -> set[str]:
    """The position owners named by ``logs`` of the four user events (other logs are ignored)."""
    found = set()
    for log in logs:
        topics = log["topics"]
        at = _TOPICS.get(bytes(topics[0])) if topics else None
        if at is not None and len(topics) > at:
            found.add(checksum_address(bytes(topics[at])[12:]))
    return found


class AaveUserIndex:
    """Users of one pool from ``start_block`` on, kept in ``cache_path`` (no file: kept in memory only)."""

    def __init__(
        self,
        pool: str,
        start_block: int,
        cache_path: Path | None = None,
        *,
        max_block_range: int = DEFAULT_MAX_BLOCK_RANGE,
    ) -> None:
        if max_block_range < 1:
            raise ValueError(f"max_block_range must be at least 1, not {max_block_range}")
        self.pool = Web3.to_checksum_address(pool)
        self.start_block = start_block
        self.cache_path = cache_path
        self.max_block_range = max_block_range
        self._memory: UserIndexCache | None = None
        self.last_sync: SyncStats | None = None

    # ------------------------------------------------------------------------------------------------ the cache

    def load(self, chain_id: int) -> UserIndexCache | None:
        """The cache for this chain and pool, or ``None`` when there is none yet; any other cache is refused."""
        if self.cache_path is None:
            return self._memory
        if not self.cache_path.exists():
            return None
        try:
            cache = UserIndexCache.model_validate_json(self.cache_path.read_text())
        except ValidationError as exc:
            raise UserIndexError(f"{self.cache_path} is not an Aave user cache: {exc}") from exc
        if cache.version != CACHE_VERSION:
            raise UserIndexError(f"{self.cache_path}: cache version {cache.version}, this oracle reads {CACHE_VERSION}")
        if cache.chain_id != chain_id or Web3.to_checksum_address(cache.pool) != self.pool:
            raise UserIndexError(
                f"{self.cache_path} indexes pool {cache.pool} on chain {cache.chain_id}, not pool {self.pool} on "
                f"chain {chain_id}: use another cache file for this market (or delete it to re-index)"
            )
        if cache.start_block > self.start_block:
            raise UserIndexError(
                f"{self.cache_path} starts at block {cache.start_block}, after this index's start block "
                f"{self.start_block}: users of the blocks between would be missed; delete it to re-index"
            )
        return cache

    def _save(self, cache: UserIndexCache) -> None:
        self._memory = cache
        if self.cache_path is None:
            return
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(self.cache_path.name + ".tmp")
        tmp.write_text(cache.model_dump_json(indent=1) + "\n")
        os.replace(tmp, self.cache_path)  # a crash never leaves half a cache

    # ------------------------------------------------------------------------------------------------- reading

    def _logs(self, w3: Web3, first: int, last: int) -> tuple[set[str], int, int]:
        """Users in the pool's logs of blocks ``first..last``; (users, requests, logs)."""
        found: set[str] = set()
        requests = logs = 0
        topics = [["0x" + t.hex() for t in _TOPICS]]
        for lo in range(first, last + 1, self.max_block_range):
            hi = min(lo + self.max_block_range - 1, last)
            params: FilterParams = {"address": self.pool, "fromBlock": lo, "toBlock": hi, "topics": topics}
            batch = rpc_call(w3, partial(w3.eth.get_logs, params), f"eth_getLogs({self.pool}, {lo}..{hi})")
            requests += 1
            logs += len(batch)
            found |= users_from_logs(batch)
        return found, requests, logs

    def _block_hash(self, w3: Web3, block: int) -> str:
        header = rpc_call(w3, lambda: w3.eth.get_block(block), f"eth_getBlock({block})")
        return "0x" + bytes(header["hash"]).hex()

    def sync(self, w3: Web3, block: int) -> tuple[str, ...]:
        """Every user of the pool up to ``block`` (included), sorted; reads only logs the cache has not seen.

        ``block`` is the snapshot's pinned block. A block before the cache's last block (a snapshot of the past) is
        answered by a scan from the start block that leaves the cache alone.
        """
        chain_id = rpc_call(w3, lambda: w3.eth.chain_id, "eth_chainId")
        cache = self.load(chain_id)
        rebuilt = False
        if cache is not None and block < cache.last_block:
            past, requests, logs = self._logs(w3, self.start_block, block)
            self.last_sync = SyncStats(
                from_block=self.start_block,
                to_block=block,
                requests=requests,
                logs=logs,
                new_users=0,
                cached=False,
                rebuilt=False,
            )
            return tuple(sorted(past))
        if cache is not None and self._block_hash(w3, cache.last_block) != cache.last_block_hash:
            cache, rebuilt = None, True  # reorganised or reset under the cache: start again
        known = set(cache.users) if cache is not None else set()
        first = cache.last_block + 1 if cache is not None else self.start_block
        found, requests, logs = self._logs(w3, first, block) if first <= block else (set(), 0, 0)
        users = tuple(sorted(known | found))
        if cache is None or block > cache.last_block:
            self._save(
                UserIndexCache(
                    chain_id=chain_id,
                    pool=self.pool,
                    start_block=cache.start_block if cache is not None else self.start_block,
                    last_block=block,
                    last_block_hash=self._block_hash(w3, block),
                    users=users,
                )
            )
        self.last_sync = SyncStats(
            from_block=first,
            to_block=block,
            requests=requests,
            logs=logs,
            new_users=len(users) - len(known),
            cached=True,
            rebuilt=rebuilt,
        )
        return users
