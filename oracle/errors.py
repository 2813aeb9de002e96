"""One exception hierarchy for the whole oracle: every message names what was wrong and where."""

from __future__ import annotations

from typing import Any


class OracleError(Exception):
    """Base of every error the oracle raises on purpose."""


class ConfigError(OracleError):
    """A configuration or policy file is missing, malformed or inconsistent."""


class SnapshotError(OracleError):
    """The chain state read for a cycle is inconsistent or untrustworthy (stale, NaN, jumps)."""


class ModelError(OracleError):
    """A model artifact is missing, incompatible or produced an invalid forecast."""


class PolicyError(OracleError):
    """A recommendation breaks the policy's rules or bounds."""


class AttributionError(PolicyError):
    """SHAP values that do not add up to the output they explain: the explanation is not published."""


class PriceDataError(OracleError):
    """A price file is missing, malformed, or its values cannot be trusted."""


class RpcError(OracleError):
    """An RPC call kept failing after its retries, or failed in a way retrying cannot fix."""


class MulticallError(OracleError):
    """An inner call of a Multicall3 batch that was not allowed to fail failed; the message names it and its
    decoded revert."""


class ExecutionError(OracleError):
    """Sending, simulating or confirming a transaction failed."""


class ReportExistsError(OracleError):
    """A report directory already holds a different report: it is never replaced (its hash may be on chain).

    Attributes:
        directory: the directory that is taken.
        report_hash: the hash of the report that was to be written there.
    """

    def __init__(self, message: str, directory: object, report_hash: str) -> None:
        super().__init__(message)
        self.directory = directory
        self.report_hash = report_hash


class JournalLockedError(OracleError):
    """Another live process holds the journal (or the keeper address): one keeper per journal."""


class SetupError(OracleError):
    """The keeper's setup does not match the chain (chain id, keeper address, risk admin): nothing is sent."""


class ToolMissingError(OracleError):
    """A required external tool (anvil, forge) is not installed where the project expects it."""


class ContractRevert(ExecutionError):
    """A contract call reverted with a known custom error, decoded by name.

    Attributes:
        name: the Solidity error name, e.g. ``"IncreaseTooLarge"``.
        arguments: the error's arguments by parameter name (``args`` is Exception's own tuple).
        data: the raw revert data, hex.
    """

    def __init__(self, name: str, args: dict[str, Any], data: str, context: str = "") -> None:
        self.name = name
        self.arguments = args
        self.data = data
        shown = ", ".join(f"{k}={v}" for k, v in args.items())
        where = f" in {context}" if context else ""
        super().__init__(f"reverted{where}: {name}({shown})")
