"""JSON-RPC access with timeouts and bounded retries.

Why: a keeper runs for months against nodes that drop connections, time out and rate-limit. Transient transport
errors are retried with exponential backoff; anything else (a revert, a malformed request) is not, because
retrying cannot fix it. After the last attempt the error names the call that failed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

import requests
from web3 import Web3
from web3.exceptions import ContractLogicError, ProviderConnectionError, TimeExhausted, Web3RPCError

from oracle.errors import OracleError

T = TypeVar("T")
log = logging.getLogger(__name__)

# transport failures worth another attempt
TRANSIENT = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ProviderConnectionError,
    TimeExhausted,
    ConnectionError,
    TimeoutError,
)


class RpcError(OracleError):
    """An RPC call kept failing after its retries, or failed in a way retrying cannot fix."""


def make_web3(url: str, timeout_s: float = 10.0) -> Web3:
    """A web3 instance over HTTP with a per-request timeout."""
    return Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": timeout_s}))


def with_retries(
    call: Callable[[], T],
    what: str,
    *,
    attempts: int = 4,
    backoff_s: float = 0.2,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run ``call``; retry transient transport errors ``attempts - 1`` times with backoff doubling from
    ``backoff_s``. Raises ``RpcError`` naming ``what`` when it still fails."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except ContractLogicError:
            raise  # a revert is an answer, not a transport failure
        except TRANSIENT as exc:
            if attempt == attempts:
                raise RpcError(f"{what}: RPC failed after {attempts} attempts: {type(exc).__name__}: {exc}") from exc
            delay = backoff_s * 2 ** (attempt - 1)
            log.warning("rpc retry", extra={"what": what, "attempt": attempt, "delay_s": delay, "error": str(exc)})
            sleep(delay)
        except Web3RPCError as exc:
            raise RpcError(f"{what}: node returned an error: {exc}") from exc
    raise AssertionError("unreachable")
