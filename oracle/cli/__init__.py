"""``risk-oracle``: the command-line entry point (typer).

Commands: ``demo``, ``deploy``, ``snapshot``, ``train``, ``evaluate``, ``calibrate``, ``recommend``, ``version``;
``run``, ``cycle``, ``fork``, ``report``, ``verify`` and ``backtest``.
"""

from __future__ import annotations

import functools
import os
import signal
from collections.abc import Callable
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from oracle import __version__
from oracle.config import DEFAULT_POLICY, load_policy, load_settings
from oracle.errors import OracleError

if TYPE_CHECKING:  # heavy imports (torch, web3) stay out of `risk-oracle --help`
    from oracle.domain.snapshot import MarketSnapshot
    from oracle.keeper import Keeper

P = ParamSpec("P")
R = TypeVar("R")
TORCH_THREADS = 2

app = typer.Typer(help="Autonomous risk-parameter oracle for DeFi lending markets.", no_args_is_help=True)
PIPED_WIDTH = 200  # columns of tables and lines when the output is not a terminal


def _console() -> Console:
    """The CLI's console: on a terminal, its width; piped into a file, a pager or a CI log, ``PIPED_WIDTH`` columns
    and no hard wrapping, so lines, hashes and tables arrive whole instead of cut at 80 columns."""
    probe = Console(soft_wrap=True)  # long lines (paths, hashes) are never broken; a terminal folds them itself
    if probe.is_terminal or "COLUMNS" in os.environ:
        return probe
    return Console(width=PIPED_WIDTH, soft_wrap=True)


console = _console()

PolicyOption = Annotated[Path, typer.Option("--policy", help="policy TOML (bounds, update lifetime, market)")]
SettingsOption = Annotated[
    Path | None, typer.Option("--config", help="settings TOML; ORACLE_* environment variables override it")
]


def _exit_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so that context managers (the anvil node) clean up as on Ctrl-C."""

    def _handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _handler)


def command(*, torch: bool = False) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """What every command shares: SIGTERM exits cleanly, torch uses ``TORCH_THREADS`` threads (only commands that
    run a model import it), and an ``OracleError`` prints one clear line and exits with code 2."""

    def decorate(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            _exit_on_sigterm()
            if torch:
                import torch as _torch

                _torch.set_num_threads(TORCH_THREADS)
            try:
                return fn(*args, **kwargs)
            except OracleError as exc:
                console.print(f"[bold red]error:[/] {exc}", soft_wrap=True)
                raise typer.Exit(code=2) from exc

        return run

    return decorate


@app.command()
@command(torch=False)
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
@command(torch=True)
def demo(
    positions: Annotated[
        int,
        typer.Option(
            min=0,
            max=5_000,
            help="borrower positions to seed, at most 5,000 (seeded as transactions: about 1 min for 5,000; "
            "10,000 did not finish in 3 min); the default market lends enough for 1,032",
        ),
    ] = 300,
    policy: PolicyOption = DEFAULT_POLICY,
    reports_dir: Annotated[Path, typer.Option(help="where the cycle's record goes")] = Path("reports"),
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="leave the chain up afterwards (Ctrl-C stops it)")
    ] = False,
) -> None:
    """Local anvil chain, our contracts, a seeded market, one live keeper cycle through the governor."""
    import time

    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from oracle.cli.views import applied_table, forecast_table, print_recommendation
    from oracle.demo import demo_chain

    bar = Progress(
        TextColumn(f"seeding {positions:,} positions"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
    )
    seeding = bar.add_task("seeding", total=None, visible=False, start=False)  # its clock starts with the seeding

    def show_seeding(done: int, total: int) -> None:
        """The seeding's progress (the one step that takes minutes); the bar stops, and stays as a record of its
        time, when seeding is complete. Its display is entered with the chain below (``bar.live``: stopping it twice
        prints nothing more), so that an error or Ctrl-C during seeding stops it too and gives the cursor back."""
        bar.start_task(seeding)  # once: later calls keep the first start time
        bar.update(seeding, completed=done, total=total, visible=True)
        if done >= total:
            bar.stop()

    started = time.monotonic()
    with bar.live, demo_chain(load_policy(policy), positions, reports_dir, console.print, show_seeding) as run:
        result, cycle = run.result, run.result.cycle
        console.print(forecast_table(run.snapshot, run.forecasts))
        assert cycle.recommendation is not None
        print_recommendation(cycle.recommendation, run.snapshot.chain_id, console, run.snapshot.paused)
        symbols = {a.token.lower(): a.symbol for a in result.deployment.assets}
        if result.applied:
            console.print(applied_table(result.applied, symbols))
            console.print(
                f"reportHash {result.applied[0].report_hash[:18]}… = sha256 of {result.report_dir}/manifest.json"
            )
        else:
            console.print("no update sent this cycle")
        for symbol, why in cycle.not_sent.items():
            console.print(f"{symbol}: not sent ({why})")
        console.print(f"journal {run.journal}: cycle #{cycle.cycle_id} {cycle.status}")
        if keep_running:
            console.print(
                f"report {result.report_dir}/report.html; anvil keeps running at {run.url} (Ctrl-C stops "
                f"it); try\n  risk-oracle verify {result.report_dir} --rpc {run.url}\n  risk-oracle "
                f"recommend --rpc {run.url} --deployment {result.report_dir}/deployment.json"
            )
            while True:
                time.sleep(3600)
    console.print(
        f"report written to {result.report_dir}/report.html (+ report.md, report.json, charts/, "
        f"manifest.json); check it with: risk-oracle verify {result.report_dir}  "
        f"({time.monotonic() - started:.1f} s, anvil stopped)",
        soft_wrap=True,  # one line: the paths are copied from it, and a wrapped one cannot be
    )


@app.command()
@command(torch=False)
def deploy(
    rpc: Annotated[str | None, typer.Option(help="JSON-RPC URL (default: settings' rpc_url)")] = None,
    keeper: Annotated[str, typer.Option(help="keeper address")] = ...,  # type: ignore[assignment]  # typer: ... = required
    guardian: Annotated[str, typer.Option(help="guardian address")] = ...,  # type: ignore[assignment]  # typer: ... = required
    owner: Annotated[str | None, typer.Option(help="owner (DAO/timelock); default: the deployer")] = None,
    out: Annotated[Path, typer.Option(help="where to write the deployment record")] = Path("deployment.json"),
    data_dir: Annotated[
        Path | None, typer.Option(help="price history to replay into the feeds (default: the embedded extract)")
    ] = None,
    start: Annotated[str, typer.Option("--from", help="first day of history replayed")] = "2022-04-01",
    end: Annotated[str, typer.Option("--to", help="last day of history replayed")] = "2022-06-30",
    policy: PolicyOption = DEFAULT_POLICY,
    config: SettingsOption = None,
) -> None:
    """Deploy tokens, feeds (with the embedded price history), market, governor and Multicall3 to any RPC.

    The deployer key comes from ORACLE_DEPLOYER_KEY (or the settings file), never from the command line.
    """
    from oracle.chain.rpc import make_web3
    from oracle.chain.tx import TxSender
    from oracle.data.demo_prices import load_history
    from oracle.devnet.deploy import deploy_market

    settings = load_settings(config)
    if settings.deployer_key is None:
        raise OracleError("no deployer key: set ORACLE_DEPLOYER_KEY")
    spec = load_policy(policy).market
    history = load_history([a.price_source for a in spec.assets], data_dir or settings.data_dir, start, end)
    w3 = make_web3(rpc or settings.rpc_url, settings.rpc_timeout_s)
    sender = TxSender(w3, settings.deployer_key.get_secret_value())
    deployment = deploy_market(w3, sender, spec, keeper=keeper, guardian=guardian, owner=owner, price_history=history)
    deployment.save(out)
    console.print(f"governor {deployment.governor}\nmarket   {deployment.market}\nwritten to {out}")


RpcOption = Annotated[str | None, typer.Option(help="JSON-RPC URL (default: settings' rpc_url)")]
BlockOption = Annotated[int | None, typer.Option(min=0, help="block to read (default: the latest)")]
DeploymentOption = Annotated[
    Path | None, typer.Option(help="deployment.json from `deploy` (else ORACLE_MARKET/GOVERNOR/MULTICALL)")
]


def _read_snapshot(
    rpc: str | None, block: int | None, deployment: Path | None, policy: Path, config: Path | None
) -> MarketSnapshot:
    """The market at ``block``, addresses from ``deployment`` or the settings; raises ``OracleError``."""
    from oracle.app import MarketAddresses, chain_source
    from oracle.chain.reader import read_snapshot
    from oracle.chain.rpc import make_web3

    settings = load_settings(config)
    addresses = MarketAddresses.resolve(settings, deployment)
    w3 = make_web3(rpc or settings.rpc_url, settings.rpc_timeout_s)
    return read_snapshot(chain_source(w3, addresses, load_policy(policy)), block)


@app.command()
@command(torch=False)
def snapshot(
    rpc: RpcOption = None,
    block: BlockOption = None,
    deployment: DeploymentOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the snapshot as JSON")] = False,
    policy: PolicyOption = DEFAULT_POLICY,
    config: SettingsOption = None,
) -> None:
    """Read and validate the market at one block; print a summary (or the whole snapshot as JSON)."""
    from oracle.cli.views import print_snapshot

    with console.status("reading the market …"):
        snap = _read_snapshot(rpc, block, deployment, policy, config)
    if as_json:
        typer.echo(snap.model_dump_json(indent=1))
    else:
        print_snapshot(snap, console)


@app.command()
@command(torch=True)
def calibrate(
    policy: PolicyOption = DEFAULT_POLICY,
    paths: Annotated[int, typer.Option(min=100, help="Monte Carlo paths per scenario")] = 2000,
    positions: Annotated[int, typer.Option(min=10, help="positions of each synthetic market")] = 1000,
    seed: Annotated[int, typer.Option(help="seed of the scenarios (the result is a function of it)")] = 7,
) -> None:
    """Fit the recommendation's coefficients to the policy's risk appetite with the cascade simulator; write them,
    with a hash, to the file the policy's risk section names (default.calibration.json)."""
    from rich.table import Table

    from oracle.policy.calibrate import CONFIDENCE_Z, calibration_path, save_calibration
    from oracle.policy.calibrate import calibrate as fit

    loaded = load_policy(policy)
    console.print(
        f"calibrating {loaded.name}: bad-debt ES99 <= {loaded.risk.es99_max_share:.3%} of collateral, "
        f"{paths} paths x {positions} positions per scenario …"
    )
    result = fit(loaded, paths=paths, positions=positions, seed=seed)
    path = calibration_path(loaded)
    save_calibration(result, path)
    table = Table(
        title=f"form {result.form}: k_lt = {result.coefficients.k_lt:.4f}, k_ltv = {result.coefficients.k_ltv:.4f}"
    )
    if result.edge_scenarios is not None:
        cut = loaded.risk.edge_book.cut_horizon_h if loaded.risk.edge_book else 0
        table.caption = (
            f"edge ES99 ± its Monte Carlo standard error; k_lt keeps ES99 + {CONFIDENCE_Z} standard errors within "
            f"the appetite in every feasible scenario"
        )
        for col in (
            "σ 1d",
            "collateral/depth",
            "top holder",
            "LTV",
            "LT",
            "LB",
            "edge ES99 1 d",
            f"{cut} h",
            "at-LTV p99",
        ):
            table.add_column(col, justify="right")
        for e in result.edge_scenarios:
            table.add_row(
                f"{e.sigma_1d:.0%}",
                f"{e.depth_ratio:.2f}",
                f"{e.top_share:.0%}",
                f"{e.ltv_bps:.0f}",
                f"{e.lt_bps:.0f}",
                f"{e.lb_bps:.0f}",
                f"{e.edge_es99_1d_share:.4%} ±{e.edge_es99_1d_se_share:.4%}",
                f"{e.edge_es99_cut_share:.4%} ±{e.edge_es99_cut_se_share:.4%}"
                + ("" if e.feasible else " (infeasible)"),
                f"${e.opened_at_ltv_liquidated_p99_usd:,.0f}",
            )
    for col in (
        ()
        if result.edge_scenarios is not None
        else ("σ 1d", "collateral/depth", "LTV", "LT", "LB", "edge ES99", "at-LTV liq. p99")
    ):
        table.add_column(col, justify="right")
    for f in result.scenarios:
        table.add_row(
            f"{f.sigma_1d:.0%}",
            f"{f.depth_ratio:.2f}",
            f"{f.ltv_bps:.0f}",
            f"{f.lt_bps:.0f}",
            f"{f.lb_bps:.0f}",
            f"{f.edge_es99_share:.4%}",
            f"${f.opened_at_ltv_liquidated_p99_usd:,.0f}",
        )
    console.print(table)
    console.print(f"written to {path} (sha256 {result.sha256[:16]}…)")


@app.command()
@command(torch=True)
def recommend(
    rpc: RpcOption = None,
    block: BlockOption = None,
    deployment: DeploymentOption = None,
    model: Annotated[Path | None, typer.Option(help="volatility model artifact (default: the committed one)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the whole recommendation as JSON")] = False,
    policy: PolicyOption = DEFAULT_POLICY,
    config: SettingsOption = None,
) -> None:
    """Read the market, forecast, recommend, bound, gate and explain; print per asset current | raw | bounded |
    Δ bps | binding limit | top drivers. Sends nothing."""
    from oracle.cli.views import print_recommendation
    from oracle.keeper import load_forecaster
    from oracle.pipeline import analyse
    from oracle.policy.calibrate import load_calibration

    loaded = load_policy(policy)
    calibration = load_calibration(loaded)
    with console.status("reading the market …"):
        snap = _read_snapshot(rpc, block, deployment, policy, config)
    with console.status("forecasting, recommending, stress-testing, explaining …"):
        vol_model, _card = load_forecaster(model)
        result = analyse(snap, loaded, calibration, vol_model).recommendation
    if as_json:
        typer.echo(result.model_dump_json(indent=1))
    else:
        print_recommendation(result, snap.chain_id, console, snap.paused)


LiveOption = Annotated[bool, typer.Option("--live/--dry-run", help="send the updates (default: dry run)")]
JournalOption = Annotated[Path | None, typer.Option(help="the keeper's SQLite journal (default: ORACLE_JOURNAL)")]
ReportsDirOption = Annotated[
    Path | None, typer.Option(help="where cycle reports go (default: ORACLE_REPORTS_DIR, else reports/)")
]


def _keeper(
    rpc: str | None,
    deployment: Path | None,
    live: bool,
    model: Path | None,
    journal: Path | None,
    reports_dir: Path | None,
    policy: Path,
    config: Path | None,
) -> AbstractContextManager[Keeper]:
    """The keeper of ``cycle`` and ``run``: the settings, with ``--journal`` and ``--reports-dir`` over the file and
    the environment, wired by the composition root; its journal locked and its setup checked on entering."""
    from oracle.app import operated_keeper

    given = {"journal": journal, "reports_dir": reports_dir}
    settings = load_settings(config, **{k: v for k, v in given.items() if v is not None})
    return operated_keeper(settings, load_policy(policy), rpc=rpc, deployment=deployment, live=live, model=model)


ModelOption = Annotated[Path | None, typer.Option(help="volatility model artifact (default: the committed one)")]


@app.command()
@command(torch=True)
def cycle(
    rpc: RpcOption = None,
    deployment: DeploymentOption = None,
    live: LiveOption = False,
    model: ModelOption = None,
    journal: JournalOption = None,
    reports_dir: ReportsDirOption = None,
    policy: PolicyOption = DEFAULT_POLICY,
    config: SettingsOption = None,
) -> None:
    """One keeper cycle, then exit: snapshot, forecast, recommend, gate, explain, record, and (with --live) send
    through the governor. Journaled in the settings' journal; the record goes to reports/<chain>/<block>-<cycle>/.
    Refuses to start when another process holds the journal or the setup on chain is wrong."""
    from oracle.cli.views import print_recommendation

    with ExitStack() as stack:
        with console.status("locking the journal, checking the setup on chain, loading the model …"):
            keeper = stack.enter_context(_keeper(rpc, deployment, live, model, journal, reports_dir, policy, config))
        with console.status("reading the market, forecasting, recommending, stress-testing, explaining …"):
            result = keeper.run_cycle(dry_run=not live)
    if result.recommendation is not None:
        print_recommendation(result.recommendation, keeper.source.w3.eth.chain_id, console, result.status == "paused")
    mode = "LIVE" if live else "DRY RUN"
    console.print(
        f"cycle #{result.cycle_id} ({mode}) {result.status} at block {result.block}"
        + (f": {result.detail}" if result.detail else "")
    )
    for symbol, tx in result.sent.items():
        console.print(f"  {symbol}: sent {tx}")
    for symbol, why in result.not_sent.items():
        console.print(f"  {symbol}: not sent ({why})")
    if result.report_dir:
        console.print(
            f"report {result.report_dir}/report.html (reportHash {result.report_hash} = sha256 of "
            f"manifest.json); journal {keeper.journal.path}"
        )
    if result.status == "failed":
        raise typer.Exit(code=1)


@app.command()
@command(torch=False)
def report(
    cycle_id: Annotated[int, typer.Option("--cycle", help="journal id of the cycle")],
    journal: Annotated[Path | None, typer.Option(help="journal file (default: the settings' journal)")] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="directory (default: the cycle's own, as journaled); never one holding another report"),
    ] = None,
    config: SettingsOption = None,
) -> None:
    """Re-render a cycle's report directory from the journal, byte for byte, and check its hash."""
    from oracle.execution.journal import Journal
    from oracle.report.replay import rerender_cycle

    settings = load_settings(config)
    path = journal or settings.journal
    if not path.is_file():
        raise OracleError(f"journal not found: {path}")
    opened = Journal(path)
    try:
        directory, report_hash = rerender_cycle(opened, cycle_id, out, settings.reports_dir)
    finally:
        opened.close()
    console.print(f"cycle #{cycle_id}: {directory}/report.html, reportHash {report_hash}")


@app.command()
@command(torch=True)
def verify(
    directory: Annotated[Path, typer.Argument(help="a report directory (reports/<chain>/<block>-<cycle>)")],
    rpc: Annotated[str | None, typer.Option(help="node to check the ParametersUpdated events on")] = None,
    model: ModelOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the checks as JSON")] = False,
) -> None:
    """Re-hash every file, check the seal, re-render, re-run the pipeline from report.json's inputs and (with
    --rpc) find the report hash on chain. Exit 1 when any check fails."""
    from oracle.report.verify import verify_directory

    with console.status("re-hashing, re-rendering and re-running the pipeline …"):
        result = verify_directory(directory, rpc, model)
    if as_json:
        typer.echo(result.model_dump_json(indent=1))
    else:
        console.print(f"report {directory}  reportHash {result.report_hash}")
        for check in result.checks:
            mark = "[green]ok  [/]" if check.passed else "[bold red]FAIL[/]"
            console.print(f"  {mark} {check.name:<14} {check.detail}", soft_wrap=True)
        console.print("[green]verified[/]" if result.passed else "[bold red]verification failed[/]")
    if not result.passed:
        raise typer.Exit(code=1)


@app.command()
@command(torch=True)
def run(
    rpc: RpcOption = None,
    deployment: DeploymentOption = None,
    live: LiveOption = False,
    interval: Annotated[float, typer.Option(min=1, help="seconds between cycles")] = 3600.0,
    metrics_port: Annotated[int, typer.Option(help="127.0.0.1 port of /metrics and /healthz (0: any)")] = 9464,
    max_cycles: Annotated[int | None, typer.Option(help="stop after this many cycles (default: never)")] = None,
    model: ModelOption = None,
    journal: JournalOption = None,
    reports_dir: ReportsDirOption = None,
    policy: PolicyOption = DEFAULT_POLICY,
    config: SettingsOption = None,
) -> None:
    """The keeper daemon: a cycle every INTERVAL seconds (never two at once), Prometheus /metrics and /healthz,
    JSON logs on stderr; SIGTERM or Ctrl-C stops it after the cycle in flight."""
    from oracle.daemon import configure_json_logging, run_daemon

    configure_json_logging()
    with _keeper(rpc, deployment, live, model, journal, reports_dir, policy, config) as keeper:
        run_daemon(keeper, interval_s=interval, dry_run=not live, metrics_port=metrics_port, max_cycles=max_cycles)


@app.command()
@command(torch=True)
def fork(
    fork_url: Annotated[str, typer.Option("--fork-url", help="RPC of the chain to fork (any JSON-RPC URL)")],
    block: Annotated[int | None, typer.Option(help="fork at this block (default: the latest)")] = None,
    deployment: DeploymentOption = None,
    model: ModelOption = None,
    policy: PolicyOption = DEFAULT_POLICY,
    config: SettingsOption = None,
) -> None:
    """Rehearse one live cycle on an anvil fork of FORK_URL: the governor's keeper is impersonated (no key
    needed), updates are really sent on the fork, and the table shows what would change on the real chain."""
    from rich.table import Table

    from oracle.cli.views import print_recommendation
    from oracle.fork import rehearse_on_fork

    with console.status(f"forking {fork_url} and rehearsing one live cycle on the fork …"):
        rehearsal = rehearse_on_fork(
            load_settings(config), load_policy(policy), fork_url, block=block, deployment=deployment, model=model
        )
    result, chain_id, before, after = rehearsal.cycle, rehearsal.chain_id, rehearsal.before, rehearsal.after
    if result.recommendation is not None:
        print_recommendation(result.recommendation, chain_id, console, result.status == "paused")
    table = Table(title=f"on the real chain ({fork_url}), this cycle would change")
    for col in ("asset", "LTV/LT/LB now", "after", "fork tx / why not"):
        table.add_column(col, no_wrap=True)
    for symbol in before:
        fmt = "/".join
        table.add_row(
            symbol,
            fmt(str(v) for v in before[symbol].as_tuple()),
            fmt(str(v) for v in after[symbol].as_tuple()),
            result.sent.get(symbol, result.not_sent.get(symbol, "no change")),
        )
    console.print(table)
    console.print(
        f"fork cycle #{result.cycle_id} {result.status} at block {result.block}"
        + (f": {result.detail}" if result.detail else "")
        + "; the fork is gone, the real chain untouched"
    )
    if result.status == "failed":
        raise typer.Exit(code=1)


DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="directory of <asset>_usd_1d.csv (or _1h.csv) files (default: ORACLE_DATA_DIR)"),
]


def _data_dir(given: Path | None, config: Path | None) -> Path:
    """The price-history directory: ``--data-dir``, else the settings' ``data_dir``; raises ``ConfigError``."""
    from oracle.errors import ConfigError

    data_dir = given or load_settings(config).data_dir
    if data_dir is None:
        raise ConfigError("no price history: pass --data-dir DIR (e.g. ../shared/data) or set ORACLE_DATA_DIR")
    if not data_dir.is_dir():
        raise ConfigError(f"price history directory not found: {data_dir}")
    return data_dir


@app.command()
@command(torch=True)
def train(
    data_dir: DataDirOption = None,
    name: Annotated[str, typer.Option(help="file name: NAME.pt (weights) + NAME.json (provenance)")] = "volatility",
    out: Annotated[
        Path | None,
        typer.Option(help="directory to write into (default: a new models/NAME-<UTC time>/ in the working directory)"),
    ] = None,
    replace_committed: Annotated[
        bool,
        typer.Option(
            "--replace-committed",
            help="write over the committed artifact in oracle/models/artifacts/, which every command loads by default",
        ),
    ] = False,
    evaluate_from: Annotated[
        str | None, typer.Option("--evaluate-from", help="walk-forward start for the recorded metrics")
    ] = None,
    config: SettingsOption = None,
) -> None:
    """Train the volatility model on every daily file of DATA_DIR; record walk-forward metrics with it.

    Writes a new artifact directory (pass it to other commands with --model); only --replace-committed replaces
    the committed model that the keeper loads by default. Each file is written atomically."""
    from oracle.errors import ConfigError
    from oracle.models.evaluate import data_files, default_start, load_daily, score, walk_forward
    from oracle.models.store import ARTIFACT_DIR, artifact_paths, new_artifact_directory, save_model
    from oracle.models.volatility import NeuralForecaster

    if Path(name).name != name or name in ("", ".", ".."):
        raise ConfigError(f"--name {name!r} must be a plain file name (no directory)")
    if replace_committed and out is not None:
        raise ConfigError("--out and --replace-committed exclude each other: pick one destination")
    if out is not None and any(p.exists() for p in artifact_paths(out, name)):  # refused now, not after training
        raise ConfigError(f"{out} already holds a {name} artifact: choose another --out (nothing is overwritten)")
    data_dir = _data_dir(data_dir, config)
    histories = load_daily(data_dir)
    start = default_start(histories) if evaluate_from is None else _utc(evaluate_from)
    console.print(f"walk-forward from {start.date()} over {len(histories)} assets …")
    table = score(walk_forward(histories, start))
    neural = table[table["model"] == "neural"].set_index("asset")
    garch = table[table["model"] == "GARCH-t"].set_index("asset")
    metrics = {
        "walk_forward_from": str(start.date()),
        "qlike": neural["qlike"].round(5).to_dict(),
        "qlike_ratio_garch": (neural["qlike"] / garch["qlike"]).round(4).to_dict(),
        "kupiec_p99": neural["kupiec_p99"].round(4).to_dict(),
    }
    model = NeuralForecaster().fit_pooled(histories)
    files = list(data_files(data_dir).values())
    directory = ARTIFACT_DIR if replace_committed else out or new_artifact_directory(name)  # named once trained
    weights, meta = save_model(model, name, files, histories, metrics, directory=directory, replace=replace_committed)
    console.print(f"wrote {weights} ({weights.stat().st_size / 1024:.0f} KiB) and {meta}", soft_wrap=True)
    if replace_committed:
        console.print("replaced the committed model: every command now loads it by default", soft_wrap=True)
    else:
        console.print(
            f"use it with: --model {weights}  (e.g. risk-oracle recommend --model {weights}); the committed model "
            "is unchanged (train --replace-committed replaces it)",
            soft_wrap=True,
        )


@app.command()
@command(torch=True)
def evaluate(
    data_dir: DataDirOption = None,
    model: Annotated[Path | None, typer.Option(help="artifact whose hyper-parameters the walk-forward uses")] = None,
    start: Annotated[str | None, typer.Option("--from", help="first forecast day (default: last 20 %)")] = None,
    out: Annotated[Path, typer.Option(help="directory for the CSV and Markdown tables")] = Path("reports/evaluate"),
    config: SettingsOption = None,
) -> None:
    """Walk-forward comparison of the neural model with EWMA, GARCH-t and HAR; prints and writes the table."""
    from rich.table import Table

    from oracle.models.evaluate import default_start, load_daily, score, walk_forward
    from oracle.models.store import load_model

    hp = load_model(model)[0].hp if model else None
    data_dir = _data_dir(data_dir, config)
    histories = load_daily(data_dir)
    first = default_start(histories) if start is None else _utc(start)
    table = score(walk_forward(histories, first, hp=hp))
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "evaluation.csv", index=False)
    (out / "evaluation.md").write_text(table.round(4).to_markdown(index=False) + "\n")
    view = Table(title=f"walk-forward from {first.date()} (QLIKE vs Garman–Klass proxy; VaR99 backtests)")
    cols = [
        "asset",
        "model",
        "days",
        "qlike",
        "crisis_qlike",
        "mz_r2",
        "breach99",
        "kupiec_p99",
        "christoffersen_p99",
        "dm_p_garch",
    ]
    for c in cols:
        view.add_column(c, justify="left" if c in ("asset", "model") else "right")
    for _, row in table.iterrows():
        view.add_row(
            *(str(row[c]) if c in ("asset", "model", "days") else f"{row.get(c, float('nan')):.4f}" for c in cols)
        )
    console.print(view)
    console.print(f"written to {out}/evaluation.csv and evaluation.md")


def _utc(day: str) -> Any:  # a pandas Timestamp (pandas has no type stubs here)
    import pandas as pd

    return pd.Timestamp(day, tz="UTC")


if __name__ == "__main__":
    app()


@app.command()
@command(torch=True)
def backtest(
    policy: PolicyOption = DEFAULT_POLICY,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="price history in ../shared/data's format (default: the embedded June 2022)"),
    ] = None,
    window: Annotated[
        list[str],
        typer.Option(help="YYYY-MM-DD:YYYY-MM-DD, a crisis name (2022-06, ...), 'crises', 'calm' or 'all'; repeatable"),
    ] = ["2022-06"],  # noqa: B006  # typer reads list defaults; never mutated
    strategy: Annotated[
        str, typer.Option(help="comma-separated: static, static-aave, oracle, oracle-ewma")
    ] = "static,oracle",
    seeds: Annotated[int, typer.Option(min=1, help="seeds per window and strategy (the book's draws)")] = 1,
    positions: Annotated[int, typer.Option(min=10, help="positions seeded in each market")] = 300,
    cadence_h: Annotated[int, typer.Option(min=1, help="hours between keeper cycles")] = 24,
    active_borrowers: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="share of borrowers who return to their target leverage daily")
    ] = 0.6,
    ray_address: Annotated[
        str | None, typer.Option(help="join this Ray cluster (default: a local Ray on this machine's cores)")
    ] = None,
    serial: Annotated[bool, typer.Option(help="run the tasks one by one in this process (no Ray)")] = False,
    out: Annotated[Path, typer.Option(help="output directory (finished tasks in it are reused)")] = Path(
        "backtests/latest"
    ),
) -> None:
    """Replay real history hour by hour through the real contracts on anvil, for every strategy on the same paths
    and book; write backtest.json / .md / .html, charts and one result per task to --out."""
    import time

    from rich.progress import Progress
    from rich.table import Table

    from oracle.backtest.grid import GridSpec, run_grid
    from oracle.backtest.prices import full_window
    from oracle.backtest.report import write_backtest
    from oracle.backtest.windows import parse_window

    loaded = load_policy(policy)
    windows = []
    for w in window:
        if w.strip() == "all":
            windows.append(full_window(list(dict.fromkeys(a.price_source for a in loaded.market.assets)), data_dir))
        else:
            windows.extend(parse_window(w))
    spec = GridSpec(
        windows=tuple(dict.fromkeys(windows)),
        strategies=tuple(s.strip() for s in strategy.split(",") if s.strip()),
        seeds=tuple(range(1, seeds + 1)),
        positions=positions,
        cadence_h=cadence_h,
        active_borrowers=active_borrowers,
    )
    started = time.perf_counter()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("backtest tasks", total=len(spec.tasks()))
        results = run_grid(
            spec,
            loaded,
            out,
            data_dir=data_dir,
            ray_address=ray_address,
            serial=serial,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    data = "embedded extract (June 2022 hourly)" if data_dir is None else str(data_dir)
    report = write_backtest(out, spec, results, policy=loaded.name, data=data, runtime_s=time.perf_counter() - started)
    table = Table(title=f"backtest, {report.steps:,} steps, {report.evm_transactions:,} EVM transactions")
    for col in ("window", "strategy", "bad debt", "liquidated", "penalties", "made liq. by cuts", "avg LTV", "updates"):
        table.add_column(col, justify="right")
    for r in report.summary:
        table.add_row(
            r.window,
            r.strategy,
            f"${r.bad_debt_usd:,.0f}",
            f"${r.liquidated_collateral_usd:,.0f}",
            f"${r.penalties_usd:,.0f}",
            f"${r.made_liquidatable_by_cuts_usd:,.0f}",
            f"{r.avg_ltv_weighted_bps:,.0f}",
            f"{r.updates_sent:g}",
        )
    console.print(table)
    console.print(f"written to {out}/backtest.html (+ backtest.md, backtest.json, charts/, tasks/)")
