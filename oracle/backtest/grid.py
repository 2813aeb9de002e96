"""A backtest grid: windows × strategies × seeds, checked before anything runs, run serially or as Ray tasks, each
task's result written as it finishes (an interrupted grid resumes from them), summarised side by side.

Why Ray: one task is one anvil and one keeper, single-threaded; a crisis grid is dozens of them. Ray runs them on
this machine's cores by default (``ray.init()``) and the same code joins a cluster with ``--ray-address``. Each
task is deterministic from its spec (its chain's clock advances by block, not by wall time), so the grid's result
does not depend on how many workers ran it, or in what order; a test checks a Ray grid against the serial run.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from oracle.backtest.prices import gas_gwei, load_paths
from oracle.backtest.run import AAVE_V3_PARAMS, STRATEGIES, StrategyName, TaskResult, TaskSpec, run_task
from oracle.backtest.windows import Window
from oracle.domain.policy import Policy
from oracle.errors import ConfigError

Progress = Callable[[int, int], None]  # (tasks done, tasks in all)


class GridSpec(BaseModel):
    """What a ``risk-oracle backtest`` run covers."""

    model_config = ConfigDict(frozen=True)

    windows: tuple[Window, ...] = Field(min_length=1)
    strategies: tuple[str, ...] = Field(min_length=1)
    seeds: tuple[int, ...] = Field(min_length=1)
    positions: int = Field(default=300, gt=0)
    cadence_h: int = Field(default=24, gt=0)
    active_borrowers: float = Field(default=0.6, ge=0, le=1)

    def tasks(self) -> list[TaskSpec]:
        return [
            TaskSpec(
                window=w,
                strategy=_strategy(s),
                seed=seed,
                positions=self.positions,
                cadence_h=self.cadence_h,
                active_borrowers=self.active_borrowers,
            )
            for w in self.windows
            for s in self.strategies
            for seed in self.seeds
        ]


def _strategy(name: str) -> StrategyName:
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}: one of {', '.join(STRATEGIES)}")
    return name  # type: ignore[return-value]  # checked against STRATEGIES, the Literal's values


def check_grid(spec: GridSpec, policy: Policy, data_dir: Path | None) -> None:
    """Every reason the grid cannot run, before anything runs: an unknown strategy, an asset without bounds or
    liquidator settings, a window (or the history before it) outside the data, an asset without a price or gas
    file. Raises ``ConfigError`` naming the first one."""
    for s in spec.strategies:
        _strategy(s)
    if policy.risk.liquidators is None:
        raise ConfigError(f"policy {policy.name} has no [risk.liquidators]: the backtest's liquidators need it")
    symbols = [a.symbol for a in policy.market.assets]
    behaviour = policy.risk.liquidators
    for a in policy.market.assets:  # bounds: the policy file refuses an asset without them when it loads
        for field, table in (
            ("feed_deviation", behaviour.feed_deviation),
            ("feed_heartbeat_s", behaviour.feed_heartbeat_s),
        ):
            if a.symbol not in table:
                raise ConfigError(f"policy {policy.name}: [risk.liquidators] {field} has no entry for {a.symbol}")
        if policy.risk.depth_of("", a.symbol) is None:
            raise ConfigError(f"policy {policy.name}: [risk] depth_usd has no entry for {a.symbol}")
    if "eth" not in {a.price_source for a in policy.market.assets}:
        raise ConfigError("the backtest prices liquidators' gas in ETH: the policy needs an asset priced from 'eth'")
    if "static-aave" in spec.strategies and (missing := [s for s in symbols if s not in AAVE_V3_PARAMS]):
        raise ConfigError(f"static-aave: no Aave v3 parameters for {missing}")
    keys = list(dict.fromkeys(a.price_source for a in policy.market.assets))
    for w in spec.windows:
        load_paths(keys, w, data_dir)
        gas_gwei(w, data_dir)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _finished(path: Path, task: TaskSpec) -> TaskResult | None:
    """The result an earlier run wrote for ``task``, when it is complete and for the same spec."""
    if not path.is_file():
        return None
    try:
        result = TaskResult.model_validate_json(path.read_text())
    except (ValidationError, ValueError):
        return None
    return result if result.spec == task else None


def _run_one(task: TaskSpec, policy: Policy, data_dir: Path | None, work: Path) -> TaskResult:
    return run_task(task, policy, data_dir=data_dir, work_dir=work / task.name)


def run_grid(
    spec: GridSpec,
    policy: Policy,
    out_dir: Path,
    *,
    data_dir: Path | None = None,
    ray_address: str | None = None,
    serial: bool = False,
    progress: Progress | None = None,
) -> list[TaskResult]:
    """Run every task of ``spec`` not already finished in ``out_dir/tasks/`` and return all results in the grid's
    order. ``serial`` runs them in this process; otherwise as Ray tasks on ``ray_address`` (``None``: a local Ray
    with this machine's cores)."""
    check_grid(spec, policy, data_dir)
    tasks = spec.tasks()
    task_dir, work = out_dir / "tasks", out_dir / "work"
    results: dict[str, TaskResult] = {}
    for t in tasks:
        done = _finished(task_dir / f"{t.name}.json", t)
        if done is not None:
            results[t.name] = done
    todo = [t for t in tasks if t.name not in results]

    def finish(result: TaskResult) -> None:
        _write_atomic(task_dir / f"{result.spec.name}.json", result.model_dump_json() + "\n")
        results[result.spec.name] = result
        if progress is not None:
            progress(len(results), len(tasks))

    if progress is not None:
        progress(len(results), len(tasks))
    if serial or not todo:
        for t in todo:
            finish(_run_one(t, policy, data_dir, work))
    else:
        _run_on_ray(todo, policy, data_dir, work, ray_address, finish)
    return [results[t.name] for t in tasks]


def _run_on_ray(
    todo: Sequence[TaskSpec],
    policy: Policy,
    data_dir: Path | None,
    work: Path,
    address: str | None,
    finish: Callable[[TaskResult], None],
) -> None:
    import ray  # imported here: a serial run (and the rest of the product) does not pay for it

    started_here = not ray.is_initialized()
    if started_here:
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
        ray.init(address=address, **kwargs) if address else ray.init(**kwargs)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_run_one)
        policy_ref = ray.put(policy)
        pending = {remote.remote(t, policy_ref, data_dir, work): t for t in todo}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                pending.pop(ref)
                finish(ray.get(ref))
    finally:
        if started_here:
            ray.shutdown()


# --------------------------------------------------------------------------- the summary


class StrategySummary(BaseModel):
    """One strategy on one window, over its seeds (means; seeds listed)."""

    window: str
    strategy: str
    seeds: list[int]
    bad_debt_usd: float
    bad_debt_share: float
    liquidated_collateral_usd: float
    penalties_usd: float
    made_liquidatable_by_cuts_usd: float
    avg_ltv_weighted_bps: float
    avg_borrowing_power_used: float
    updates_sent: float
    keeper_gas: float
    runtime_s: float


def summarise(results: Sequence[TaskResult]) -> list[StrategySummary]:
    """Per (window, strategy), the mean over seeds, in the grid's order."""
    groups: dict[tuple[str, str], list[TaskResult]] = {}
    for r in results:
        groups.setdefault((r.spec.window.name, r.spec.strategy), []).append(r)
    out = []
    for (window, strategy), rs in groups.items():
        m = [r.metrics for r in rs]
        out.append(
            StrategySummary(
                window=window,
                strategy=strategy,
                seeds=[r.spec.seed for r in rs],
                bad_debt_usd=float(np.mean([x.bad_debt_usd for x in m])),
                bad_debt_share=float(np.mean([x.bad_debt_share for x in m])),
                liquidated_collateral_usd=float(np.mean([x.liquidated_collateral_usd for x in m])),
                penalties_usd=float(np.mean([x.penalties_usd for x in m])),
                made_liquidatable_by_cuts_usd=float(np.mean([x.made_liquidatable_by_cuts_usd for x in m])),
                avg_ltv_weighted_bps=float(np.mean([x.avg_ltv_weighted_bps for x in m])),
                avg_borrowing_power_used=float(np.mean([x.avg_borrowing_power_used for x in m])),
                updates_sent=float(np.mean([x.updates_sent for x in m])),
                keeper_gas=float(np.mean([x.keeper_gas for x in m])),
                runtime_s=float(np.mean([r.runtime_s for r in rs])),
            )
        )
    return out
