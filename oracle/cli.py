"""``risk-oracle``: the command-line entry point (typer).

Commands grow with the issues: ``demo`` and ``deploy`` now; ``snapshot``, ``recommend``, ``run``, ``cycle``,
``fork``, ``train``, ``evaluate``, ``report`` and ``verify`` as their issues land.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from web3 import Web3

from oracle import __version__
from oracle.config import DEFAULT_POLICY, load_policy, load_settings
from oracle.errors import OracleError

app = typer.Typer(help="Autonomous risk-parameter oracle for DeFi lending markets.", no_args_is_help=True)
console = Console()

PolicyOption = Annotated[Path, typer.Option("--policy", help="policy TOML (bounds, update lifetime, market)")]
SettingsOption = Annotated[
    Path | None, typer.Option("--config", help="settings TOML; ORACLE_* environment variables override it")
]


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that context managers (the anvil node) clean up as on Ctrl-C."""

    def _handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _handler)


def _fail(exc: OracleError) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2) from exc


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def demo(
    positions: Annotated[int, typer.Option(min=0, help="borrower positions to seed")] = 300,
    policy: PolicyOption = DEFAULT_POLICY,
    reports_dir: Annotated[Path, typer.Option(help="where the cycle's record goes")] = Path("reports"),
) -> None:
    """Local anvil chain, our contracts, a seeded market, one bounded update through the governor."""
    from oracle.demo import run_demo

    _exit_on_sigterm()
    try:
        run_demo(load_policy(policy), positions, reports_dir, console)
    except OracleError as exc:
        _fail(exc)


@app.command()
def deploy(
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL (default: settings' rpc_url)")] = None,
    keeper: Annotated[str, typer.Option(help="keeper address")] = ...,  # type: ignore[assignment]
    guardian: Annotated[str, typer.Option(help="guardian address")] = ...,  # type: ignore[assignment]
    owner: Annotated[str | None, typer.Option(help="owner (DAO/timelock); default: the deployer")] = None,
    out: Annotated[Path, typer.Option(help="where to write the deployment record")] = Path("deployment.json"),
    policy: PolicyOption = DEFAULT_POLICY,
    config: SettingsOption = None,
) -> None:
    """Deploy tokens, feeds (with the embedded price history), market, governor and Multicall3 to any RPC.

    The deployer key comes from ORACLE_DEPLOYER_KEY (or the settings file), never from the command line.
    """
    from oracle.chain.deploy import deploy_market
    from oracle.chain.tx import TxSender
    from oracle.data.demo_prices import load_demo_prices

    try:
        settings = load_settings(config)
        if settings.deployer_key is None:
            raise OracleError("no deployer key: set ORACLE_DEPLOYER_KEY")
        w3 = Web3(Web3.HTTPProvider(rpc or settings.rpc_url, request_kwargs={"timeout": settings.rpc_timeout_s}))
        sender = TxSender(w3, settings.deployer_key.get_secret_value())
        deployment = deploy_market(
            w3, sender, load_policy(policy).market, keeper=keeper, guardian=guardian, owner=owner,
            price_history=load_demo_prices(),
        )
    except OracleError as exc:
        _fail(exc)
    deployment.save(out)
    console.print(f"governor {deployment.governor}\nmarket   {deployment.market}\nwritten to {out}")


if __name__ == "__main__":
    app()
