"""The one way a ``Web3`` is built: HTTP with a per-request timeout and bounded retries configured on the provider.

Why on the provider: every request (snapshot reads, Multicall batches, and the submission path's nonce, block and
receipt reads) gets the same retries, with no call site that forgets them. Transient transport errors are retried
with exponential backoff; anything else (a revert, an error the node answered with) is not, because retrying
cannot fix it. ``rpc_call`` turns what still fails into an ``RpcError`` that names the call.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlparse

import requests
from web3 import Web3
from web3.exceptions import ContractLogicError, ProviderConnectionError, TimeExhausted, Web3RPCError
from web3.providers.rpc.utils import ExceptionRetryConfiguration

from oracle.errors import ConfigError, RpcError

T = TypeVar("T")
log = logging.getLogger(__name__)

RPC_ATTEMPTS = 4  # per request, the first included
DEFAULT_TIMEOUT_S = 30.0  # per request: web3's own default (settings pass rpc_timeout_s)
RPC_BACKOFF_S = 0.2  # before the second attempt; doubles after each failure

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


def make_web3(
    url: str, timeout_s: float = DEFAULT_TIMEOUT_S, *, attempts: int = RPC_ATTEMPTS, backoff_s: float = RPC_BACKOFF_S
) -> Web3:
    """A web3 instance over HTTP(S) with a per-request timeout and ``attempts`` tries per request; a URL that is
    not ``http(s)://host[:port]`` raises ``ConfigError``."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"RPC URL {url!r} is not an http(s):// URL")
    retry = ExceptionRetryConfiguration(errors=TRANSIENT, retries=attempts, backoff_factor=backoff_s)
    provider = Web3.HTTPProvider(url, request_kwargs={"timeout": timeout_s}, exception_retry_configuration=retry)
    return Web3(provider)


def _attempts(w3: Web3) -> int:
    retry = getattr(w3.provider, "exception_retry_configuration", None)
    return int(retry.retries) if isinstance(retry, ExceptionRetryConfiguration) else 1


def rpc_call(w3: Web3, call: Callable[[], T], what: str) -> T:
    """Run ``call`` (requests through ``w3``, retried by its provider); raise ``RpcError`` naming ``what`` when the
    node still cannot be reached or answers with an error. A revert is an answer and propagates as it is."""
    try:
        return call()
    except ContractLogicError:
        raise
    except TRANSIENT as exc:
        raise RpcError(f"{what}: RPC failed after {_attempts(w3)} attempts: {type(exc).__name__}: {exc}") from exc
    except Web3RPCError as exc:
        raise RpcError(f"{what}: node returned an error: {exc}") from exc
    except requests.exceptions.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "error"
        raise RpcError(f"{what}: {_endpoint(w3)} answered HTTP {status} (is it a JSON-RPC node?)") from exc
    except json.JSONDecodeError as exc:
        raise RpcError(f"{what}: {_endpoint(w3)} is not a JSON-RPC node (its answer is not JSON)") from exc


def _endpoint(w3: Web3) -> str:
    return str(getattr(w3.provider, "endpoint_uri", "the node"))
